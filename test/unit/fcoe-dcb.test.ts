/**
 * DCB sources: every recorded or source-derived answer in test/fixtures/dcb
 * through its parser, hostile answers as failures with a clear one-line
 * message, and queryDcb()'s sequence (early stops, each step's failure, the
 * auto probe) against a scripted System.exec.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ActionError, EnvironmentError } from '../../src/core/errors.js';
import type { ExecResult } from '../../src/core/system.js';
import { MAX_MESSAGE_CHARS, parseDcbApp, parseDcbPfc, parseDcbx, type Parsed, type ToolAnswer } from '../../src/hooks/fcoe/dcb/dcb-tool.js';
import {
  isIeeeModeAnswer,
  parseDcbtoolAppConfig,
  parseDcbtoolAppOper,
  parseDcbtoolPfcConfig,
  parseDcbtoolPfcOper,
  parseDcbtoolState,
  parseLldpadPid,
  parseLldptoolApp,
  parseLldptoolPfc,
} from '../../src/hooks/fcoe/dcb/lldpad.js';
import { DCB_COMMAND_TIMEOUT_MS, DCB_SOURCE_SETTINGS, queryDcb, type DcbSourceSetting } from '../../src/hooks/fcoe/dcb/sequence.js';
import { tempSystem } from '../support/system.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'dcb');

function read(file: string): string {
  try {
    return readFileSync(path.join(FIXTURES, file), 'utf8');
  } catch {
    return ''; // README.md: a missing stream file means the stream was empty
  }
}

function fixture(name: string): ToolAnswer {
  const exit = read(`${name}.exit`);
  if (exit === '') throw new Error(`no fixture ${name}`);
  return { exitCode: Number(exit.trim()), stdout: read(`${name}.stdout`), stderr: read(`${name}.stderr`) };
}

const answer = (stdout: string, exitCode = 0, stderr = ''): ToolAnswer => ({ exitCode, stdout, stderr });

function expectFailure(parsed: Parsed<unknown>, message: RegExp): void {
  expect(parsed.ok).toBe(false);
  if (parsed.ok) return;
  expect(parsed.message).toMatch(message);
  expect(parsed.message).not.toMatch(/\n/);
  expect(parsed.message.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
}

// Every fixture, its parser and what it must give: a value, or a failure message.
const TABLE: [string, (a: ToolAnswer) => Parsed<unknown>, unknown][] = [
  ['dcb-pfc-notsup', parseDcbPfc, /^dcb: Attribute read: Operation not supported \(exit 1\)$/],
  ['dcb-app-notsup', parseDcbApp, /^dcb: Attribute read: Operation not supported \(exit 1\)$/],
  ['dcb-dcbx-notsup', parseDcbx, /^dcb: Attribute read: Operation not supported \(exit 1\)$/],
  ['dcb-pfc-nodev', parseDcbPfc, /^dcb: Attribute read: No such device \(exit 1\)$/],
  ['dcb-pfc-prio3', parseDcbPfc, [3]],
  ['dcb-pfc-off', parseDcbPfc, []],
  ['dcb-app-fcoe3-v6.1', parseDcbApp, [3]],
  ['dcb-app-fcoe3-v6.5', parseDcbApp, [3]],
  ['dcb-app-empty', parseDcbApp, []],
  ['dcb-dcbx-host-ieee', parseDcbx, new Set(['host', 'ieee'])],
  ['dcb-dcbx-lld-cee', parseDcbx, new Set(['lld_managed', 'cee'])],
  ['dcb-dcbx-none', parseDcbx, new Set()],
  ['lldptool-ping', parseLldpadPid, 2491],
  ['lldptool-ping-notrunning', parseLldpadPid, /^lldptool: connect: Connection refused \(exit 255\)$/],
  ['lldptool-pfc-notrunning', parseLldptoolPfc, /^lldptool: connect: Connection refused \(exit 255\)$/],
  ['dcbtool-gc-dcb-notrunning', parseDcbtoolState, /^dcbtool: connect: Connection refused \(exit 255\)$/],
  ['dcbtool-gc-dcb-notcapable', parseDcbtoolState, /^dcbtool: Device not capable \(exit 8\)$/],
  ['dcbtool-gc-pfc-notcapable', parseDcbtoolPfcConfig, /^dcbtool: Device not capable \(exit 8\)$/],
  ['dcbtool-go-pfc-notcapable', parseDcbtoolPfcOper, /^dcbtool: Device not capable \(exit 8\)$/],
  ['dcbtool-gc-app-fcoe-notcapable', parseDcbtoolAppConfig, /^dcbtool: Device not capable \(exit 8\)$/],
  ['dcbtool-go-app-fcoe-notcapable', parseDcbtoolAppOper, /^dcbtool: Device not capable \(exit 8\)$/],
  ['dcbtool-gc-dcb-nodev', parseDcbtoolState, /^dcbtool: Device not found, link down or DCB not enabled \(exit 2\)$/],
  ['dcbtool-go-pfc-ieee', parseDcbtoolPfcOper, /^dcbtool: Command not applicable in IEEE-DCBX modes \(exit 9\)$/],
  ['dcbtool-gc-dcb-on', parseDcbtoolState, true],
  ['dcbtool-gc-dcb-off', parseDcbtoolState, false],
  ['dcbtool-gc-pfc-on', parseDcbtoolPfcConfig, { enabled: true, priorities: [3] }],
  ['dcbtool-gc-pfc-off', parseDcbtoolPfcConfig, { enabled: false, priorities: [] }],
  ['dcbtool-go-pfc-on', parseDcbtoolPfcOper, { operational: true, priorities: [3] }],
  ['dcbtool-go-pfc-mismatch', parseDcbtoolPfcOper, { operational: false, priorities: [3] }],
  ['dcbtool-gc-app-fcoe-on', parseDcbtoolAppConfig, { enabled: true, priority: 3 }],
  ['dcbtool-gc-app-fcoe-off', parseDcbtoolAppConfig, { enabled: false, priority: 3 }],
  ['dcbtool-go-app-fcoe-on', parseDcbtoolAppOper, { operational: true, priority: 3 }],
  ['lldptool-pfc-notcapable', parseLldptoolPfc, /^lldptool -V PFC: no PFC TLV in lldpad's answer \(empty/],
  ['lldptool-pfc-nodev', parseLldptoolPfc, /^lldptool: Device not found or inactive \(exit 1\)$/],
  ['lldptool-pfc-prio3', parseLldptoolPfc, { enabled: true, priorities: [3] }],
  ['lldptool-pfc-none', parseLldptoolPfc, { enabled: false, priorities: [] }],
  ['lldptool-app-c-app-notcapable', parseLldptoolApp, { enabled: false }],
  ['lldptool-app-c-app-fcoe3', parseLldptoolApp, { enabled: true, priority: 3 }],
  ['lldptool-app-c-app-peer-only', parseLldptoolApp, { enabled: false }],
];

describe('fixtures', () => {
  it('the table covers every fixture in test/fixtures/dcb', () => {
    const names = new Set(readdirSync(FIXTURES).filter((f) => f.endsWith('.exit')).map((f) => f.slice(0, -'.exit'.length)));
    expect(new Set(TABLE.map(([name]) => name))).toEqual(names);
  });

  it.each(TABLE)('%s', (name, parse, expected) => {
    const parsed = parse(fixture(name));
    if (expected instanceof RegExp) expectFailure(parsed, expected);
    else expect(parsed).toEqual({ ok: true, value: expected });
  });

  it('an oper answer with Errors is not operational even in Oper Mode (fcoemon tears FCoE down on any error)', () => {
    const withErrors = fixture('dcbtool-go-pfc-on').stdout.replace('0x00 - none', '0x01 - mismatch with peer');
    expect(parseDcbtoolPfcOper(answer(withErrors))).toEqual({ ok: true, value: { operational: false, priorities: [3] } });
    const appErrors = fixture('dcbtool-go-app-fcoe-on').stdout.replace('0x00 - none', '0x20 - peer feature not present');
    expect(parseDcbtoolAppOper(answer(appErrors))).toEqual({ ok: true, value: { operational: false, priority: 3 } });
  });

  it('the IEEE-mode probe recognises dcbtool\'s status 9 answer and nothing else', () => {
    expect(isIeeeModeAnswer(fixture('dcbtool-go-pfc-ieee'))).toBe(true);
    for (const name of ['dcbtool-go-pfc-on', 'dcbtool-go-pfc-notcapable', 'dcbtool-gc-dcb-notrunning', 'dcbtool-gc-dcb-nodev']) {
      expect(isIeeeModeAnswer(fixture(name))).toBe(false);
    }
  });
});

describe('hostile answers are failures with a clear message', () => {
  const huge = 'x'.repeat(10 * 1024 * 1024);
  const pfcJson = (prio: unknown) => `{"pfc_cap":8,"prio_pfc":${JSON.stringify(prio)}}\n`;
  const gcPfc = fixture('dcbtool-gc-pfc-on').stdout;
  const goApp = fixture('dcbtool-go-app-fcoe-on').stdout;

  it.each([
    ['dcb: garbage', parseDcbPfc, answer('Segmentation fault\n'), /^pfc: dcb's answer is not JSON/],
    ['dcb: 10 MB', parseDcbPfc, answer(huge), /^dcb: answer too large \(10485760 characters/],
    ['dcb: 10 MB on stderr, exit 1', parseDcbApp, answer('', 1, huge), /^dcb: answer too large/],
    ['dcb: truncated JSON', parseDcbPfc, answer(fixture('dcb-pfc-prio3').stdout.slice(0, 40)), /^pfc: dcb's answer is not JSON/],
    ['dcb: only the newline (exit 0)', parseDcbx, answer('\n'), /^dcbx: dcb printed no JSON$/],
    ['dcb: an array', parseDcbPfc, answer('[1,2]\n'), /^pfc: dcb's answer is not a JSON object$/],
    ['dcb: prio_pfc missing', parseDcbPfc, answer('{"pfc_cap":8}\n'), /^pfc: prio_pfc is not 8 booleans \(got nothing\)$/],
    ['dcb: prio_pfc of strings', parseDcbPfc, answer(pfcJson(['on', 'off', 'off', 'off', 'off', 'off', 'off', 'off'])), /prio_pfc is not 8 booleans/],
    ['dcb: prio_pfc of 9 priorities', parseDcbPfc, answer(pfcJson(Array(9).fill(false))), /prio_pfc is not 8 booleans/],
    ['dcb: app priority 9', parseDcbApp, answer('{"ethtype_prio":[[35078,9]]}\n'), /^app: ethtype_prio entry \[35078,9\]: priority out of 0-7$/],
    ['dcb: app priority 9 on another ethertype', parseDcbApp, answer('{"ethtype_prio":[[35092,9],[35078,3]]}\n'), /priority out of 0-7/],
    ['dcb: app entry of one element', parseDcbApp, answer('{"ethtype_prio":[[35078]]}\n'), /is not \[ethertype, prio\]/],
    ['dcb: app entry with a numeric third element', parseDcbApp, answer('{"ethtype_prio":[[35078,3,4]]}\n'), /is not \[ethertype, prio\]/],
    ['dcb: app ethertype as a string', parseDcbApp, answer('{"ethtype_prio":[["8906",3]]}\n'), /has no ethertype 0-65535/],
    ['dcb: ethtype_prio an object', parseDcbApp, answer('{"ethtype_prio":{"35078":3}}\n'), /^app: ethtype_prio is not an array$/],
    ['dcb: dcbx flag false', parseDcbx, answer('{"ieee":false}\n'), /^dcbx: "ieee" is false, expected true$/],
    ['dcb: dcbx flag a string', parseDcbx, answer('{"ieee":"yes"}\n'), /"ieee" is "yes"/],
    ['dcbtool: garbage', parseDcbtoolState, answer('\u0000\u0001garbage\u001b[31m\n'), /^dcbtool gc dcb: no "Status: Successful"/],
    ['dcbtool: 10 MB', parseDcbtoolPfcConfig, answer(huge), /^dcbtool: answer too large/],
    ['dcbtool: truncated before the data', parseDcbtoolPfcConfig, answer(gcPfc.slice(0, gcPfc.indexOf('pfcup'))), /pfcup is missing/],
    ['dcbtool: pfcup cut short', parseDcbtoolPfcConfig, answer(gcPfc.replace(/pfcup:.*\n/, 'pfcup:     \t0\t0\t0\t1\t\n')), /pfcup is "0 0 0 1", expected 8 flags/],
    ['dcbtool: pfcup with a 2', parseDcbtoolPfcConfig, answer(gcPfc.replace('\t1\t', '\t2\t')), /expected 8 flags 0 or 1/],
    ['dcbtool: Enable maybe', parseDcbtoolPfcConfig, answer(gcPfc.replace('Enable:    \ttrue', 'Enable:    \tmaybe')), /"Enable" is "maybe", expected true or false/],
    ['dcbtool: appcfg 0x100 (priority 8+)', parseDcbtoolAppOper, answer(goApp.replace('\t08', '\t0100')), /appcfg 0100 names a priority out of 0-7/],
    ['dcbtool: appcfg not hex', parseDcbtoolAppOper, answer(goApp.replace('\t08', '\tzz')), /appcfg is "zz", expected hex bytes/],
    ['dcbtool: an answer about another feature', parseDcbtoolPfcOper, answer(goApp), /^dcbtool go pfc: the answer is about "Get Oper \/ Application FCoE"$/],
    ['dcbtool: a non-zero exit without a Status', parseDcbtoolState, answer('invalid command argument: dcbx\n', 255), /^dcbtool: invalid command argument: dcbx \(exit 255\)$/],
    ['lldptool: garbage pid', parseLldpadPid, answer('lldpad is running\n'), /is not a pid/],
    ['lldptool: PFC priority 9', parseLldptoolPfc, answer(fixture('lldptool-pfc-prio3').stdout.replace('enabled: 3 ', 'enabled: 3 9 ')), /has a priority out of 0-7/],
    ['lldptool: PFC TLV without its enabled line', parseLldptoolPfc, answer('IEEE 8021QAZ PFC TLV\n\t Willing: yes\n'), /no "PFC enabled:" line/],
    ['lldptool: APP priority 9', parseLldptoolApp, answer('APP=(prio,sel,proto)\n0:(9,1,0x8906) local hw (set)\n\n'), /has a priority out of 0-7/],
    ['lldptool: APP garbage line', parseLldptoolApp, answer('APP=(prio,sel,proto)\nrm -rf /\n'), /unexpected line "rm -rf \/"/],
    ['lldptool: APP 10 MB', parseLldptoolApp, answer(huge), /^lldptool: answer too large/],
  ] as [string, (a: ToolAnswer) => Parsed<unknown>, ToolAnswer, RegExp][])('%s', (_name, parse, hostile, message) => {
    expectFailure(parse(hostile), message);
  });

  it('a message stays one bounded line whatever the tool printed', () => {
    expectFailure(parseDcbPfc(answer('', 1, `${'y'.repeat(5000)}\nsecond line`)), /^dcb: y+…$/);
  });
});

// ---------------------------------------------------------------------------
// queryDcb against a scripted exec: argv (joined by spaces) → answer, or an error to throw.

type Script = Record<string, ToolAnswer | Error>;

function scripted(script: Script) {
  const calls: string[] = [];
  const timeouts: (number | undefined)[] = [];
  const system = tempSystem(async (file, args, options): Promise<ExecResult> => {
    const key = [file, ...args].join(' ');
    calls.push(key);
    timeouts.push(options?.timeoutMs);
    const result = script[key];
    if (result === undefined) throw new EnvironmentError(`${file}: not found on PATH (is it installed?)`, { argv: [file, ...args] });
    if (result instanceof Error) throw result;
    return { argv: [file, ...args], ...result };
  });
  return { system, calls, timeouts };
}

const IF = 'eth2';
const DCB_DCBX = `dcb -j dcbx show dev ${IF}`;
const DCB_PFC = `dcb -j pfc show dev ${IF}`;
const DCB_APP = `dcb -j app show dev ${IF}`;
const PING = 'lldptool -p';
const GC = (f: string) => `dcbtool gc ${IF} ${f}`;
const GO = (f: string) => `dcbtool go ${IF} ${f}`;
const LLDP_PFC = `lldptool -t -i ${IF} -V PFC`;
const LLDP_APP = `lldptool -t -i ${IF} -V APP -c app`;

const kernelOk: Script = { [DCB_DCBX]: fixture('dcb-dcbx-host-ieee'), [DCB_PFC]: fixture('dcb-pfc-prio3'), [DCB_APP]: fixture('dcb-app-fcoe3-v6.5') };
const ceeOk: Script = {
  [GC('dcb')]: fixture('dcbtool-gc-dcb-on'),
  [GC('pfc')]: fixture('dcbtool-gc-pfc-on'),
  [GC('app:fcoe')]: fixture('dcbtool-gc-app-fcoe-on'),
  [GO('pfc')]: fixture('dcbtool-go-pfc-on'),
  [GO('app:fcoe')]: fixture('dcbtool-go-app-fcoe-on'),
};
const ieeeOk: Script = { ...kernelOk, [GO('pfc')]: fixture('dcbtool-go-pfc-ieee'), [LLDP_PFC]: fixture('lldptool-pfc-prio3'), [LLDP_APP]: fixture('lldptool-app-c-app-fcoe3') };

const full = { dcbEnabled: true, pfcConfig: { enabled: true, priorities: [3] }, appConfig: { enabled: true, priority: 3 }, pfcOper: { operational: true, priorities: [3] }, appOper: { operational: true, priority: 3 } };

describe('queryDcb', () => {
  it('DCB_SOURCE_SETTINGS lists the settings', () => {
    expect(DCB_SOURCE_SETTINGS).toEqual(['auto', 'dcb', 'lldpad']);
  });

  it('dcb: five steps in fcoemon\'s order, each bounded by the timeout', async () => {
    const { system, calls, timeouts } = scripted(kernelOk);
    expect(await queryDcb(system, IF, 'dcb')).toEqual({ ok: true, source: 'dcb', ...full });
    expect(calls).toEqual([DCB_DCBX, DCB_PFC, DCB_APP, DCB_PFC, DCB_APP]);
    expect(timeouts).toEqual(Array(5).fill(DCB_COMMAND_TIMEOUT_MS));
  });

  it('lldpad (CEE): dcbtool gc for the configuration, go for the operational state', async () => {
    const { system, calls } = scripted(ceeOk);
    expect(await queryDcb(system, IF, 'lldpad')).toEqual({ ok: true, source: 'lldpad-cee', ...full });
    expect(calls).toEqual([GO('pfc'), GC('dcb'), GC('pfc'), GC('app:fcoe'), GO('pfc'), GO('app:fcoe')]);
  });

  it('lldpad (IEEE): dcbx from the kernel, lldptool for the configuration, the kernel for the operational state', async () => {
    const { system, calls } = scripted(ieeeOk);
    expect(await queryDcb(system, IF, 'lldpad')).toEqual({ ok: true, source: 'lldpad-ieee', ...full });
    expect(calls).toEqual([GO('pfc'), DCB_DCBX, LLDP_PFC, LLDP_APP, DCB_PFC, DCB_APP]);
  });

  it.each([
    ['dcb (DCBX 0)', 'dcb', { ...kernelOk, [DCB_DCBX]: fixture('dcb-dcbx-none') }, 'dcb', [DCB_DCBX]],
    ['lldpad (CEE)', 'lldpad', { ...ceeOk, [GC('dcb')]: fixture('dcbtool-gc-dcb-off') }, 'lldpad-cee', [GO('pfc'), GC('dcb')]],
    ['lldpad (IEEE)', 'lldpad', { ...ieeeOk, [DCB_DCBX]: fixture('dcb-dcbx-none') }, 'lldpad-ieee', [GO('pfc'), DCB_DCBX]],
  ] as [string, DcbSourceSetting, Script, string, string[]][])('%s: DCB disabled stops after step 1', async (_name, setting, script, source, expectedCalls) => {
    const { system, calls } = scripted(script);
    expect(await queryDcb(system, IF, setting)).toEqual({ ok: true, source, dcbEnabled: false });
    expect(calls).toEqual(expectedCalls);
  });

  it('dcb on a CEE-only port: a query error that names the setting (retried), not "DCB off" (destroyed at once)', async () => {
    const { system, calls } = scripted({ ...kernelOk, [DCB_DCBX]: fixture('dcb-dcbx-lld-cee') });
    expect(await queryDcb(system, IF, 'dcb')).toMatchObject({ ok: false, source: 'dcb', step: 'dcb-state', message: expect.stringMatching(/runs CEE DCBX \(lld_managed cee\).*fcoe\.dcb-source: lldpad/) });
    expect(calls).toEqual([DCB_DCBX]);
  });

  it.each([
    ['dcb', 'dcb', { ...kernelOk, [DCB_APP]: fixture('dcb-app-empty') }, 'dcb', 3, { enabled: false }],
    ['lldpad (CEE)', 'lldpad', { ...ceeOk, [GC('app:fcoe')]: fixture('dcbtool-gc-app-fcoe-off') }, 'lldpad-cee', 4, { enabled: false, priority: 3 }],
    ['lldpad (IEEE, only a peer entry)', 'lldpad', { ...ieeeOk, [LLDP_APP]: fixture('lldptool-app-c-app-peer-only') }, 'lldpad-ieee', 4, { enabled: false }],
  ] as [string, DcbSourceSetting, Script, string, number, unknown][])('%s: App:FCoE disabled stops after step 3', async (_name, setting, script, source, callCount, appConfig) => {
    const { system, calls } = scripted(script);
    const result = await queryDcb(system, IF, setting);
    expect(result).toEqual({ ok: true, source, dcbEnabled: true, pfcConfig: { enabled: true, priorities: [3] }, appConfig });
    expect(calls).toHaveLength(callCount);
  });

  it('PFC disabled does not stop the sequence (fcoemon reads on; decide() judges)', async () => {
    const { system } = scripted({ ...ceeOk, [GC('pfc')]: fixture('dcbtool-gc-pfc-off') });
    expect(await queryDcb(system, IF, 'lldpad')).toMatchObject({ ok: true, pfcConfig: { enabled: false, priorities: [] }, pfcOper: { operational: true } });
  });

  // Each step failing, per source: the first failure ends the sequence and names its step and argv.
  const notsup = fixture('dcb-pfc-notsup');
  const notcapable = fixture('dcbtool-gc-dcb-notcapable');
  it.each([
    ['dcb', 'dcb-state', kernelOk, DCB_DCBX, notsup, 1],
    ['dcb', 'pfc-config', kernelOk, DCB_PFC, notsup, 2],
    ['dcb', 'app-config', kernelOk, DCB_APP, answer('{"ethtype_prio":[[35078,9]]}\n'), 3],
    ['lldpad', 'dcb-state', ceeOk, GC('dcb'), notcapable, 2],
    ['lldpad', 'pfc-config', ceeOk, GC('pfc'), fixture('dcbtool-gc-pfc-notcapable'), 3],
    ['lldpad', 'app-config', ceeOk, GC('app:fcoe'), answer('garbage'), 4],
    ['lldpad', 'app-oper', ceeOk, GO('app:fcoe'), fixture('dcbtool-go-app-fcoe-notcapable'), 6],
    ['lldpad', 'pfc-config', ieeeOk, LLDP_PFC, fixture('lldptool-pfc-notcapable'), 3],
    ['lldpad', 'app-config', ieeeOk, LLDP_APP, fixture('lldptool-pfc-notrunning'), 4],
    ['lldpad', 'pfc-oper', ieeeOk, DCB_PFC, notsup, 5],
    ['lldpad', 'app-oper', ieeeOk, DCB_APP, notsup, 6],
  ] as [DcbSourceSetting, string, Script, string, ToolAnswer, number][])('%s: step %s fails', async (setting, step, script, key, bad, callCount) => {
    const { system, calls } = scripted({ ...script, [key]: bad });
    const result = await queryDcb(system, IF, setting);
    expect(result).toMatchObject({ ok: false, step, argv: key.split(' ') });
    expect(calls).toHaveLength(callCount);
  });

  it('dcb: step 4 and 5 fail on their own re-read (the state flapped between the reads)', async () => {
    let pfcReads = 0;
    const { system } = scripted(kernelOk);
    const exec = system.exec;
    const flapping = { ...system, exec: async (file: string, args: readonly string[], options?: { timeoutMs?: number }) => (file === 'dcb' && args[1] === 'pfc' && ++pfcReads === 2 ? { argv: [file, ...args], ...notsup } : exec(file, args, options)) };
    expect(await queryDcb(flapping, IF, 'dcb')).toEqual({ ok: false, source: 'dcb', step: 'pfc-oper', argv: DCB_PFC.split(' '), message: 'dcb: Attribute read: Operation not supported (exit 1)' });
  });

  it('a missing tool under an explicit setting is a failure that says so', async () => {
    const { system } = scripted({});
    expect(await queryDcb(system, IF, 'dcb')).toEqual({
      ok: false,
      source: 'dcb',
      step: 'dcb-state',
      argv: DCB_DCBX.split(' '),
      message: 'dcb: not found on PATH (is it installed?); it comes with iproute2 5.11 or later',
    });
    expect(await queryDcb(system, IF, 'lldpad')).toMatchObject({ ok: false, source: 'lldpad-cee', step: 'dcb-state', message: /^dcbtool: not found on PATH.*lldpad$/ });
  });

  it('a timeout (an ActionError from exec) and any other thrown error are failures, never throws', async () => {
    const timedOut = scripted({ ...kernelOk, [DCB_APP]: new ActionError(`dcb: timed out after ${DCB_COMMAND_TIMEOUT_MS} ms`) });
    expect(await queryDcb(timedOut.system, IF, 'dcb')).toMatchObject({ ok: false, step: 'app-config', message: 'dcb: timed out after 5000 ms' });
    const broken = scripted({ ...kernelOk, [DCB_PFC]: new TypeError('spawn EMFILE\nat somewhere') });
    expect(await queryDcb(broken.system, IF, 'dcb')).toMatchObject({ ok: false, step: 'pfc-config', message: 'dcb: spawn EMFILE at somewhere' });
  });

  describe('auto', () => {
    const pong = fixture('lldptool-ping');
    it.each([
      ['lldptool is not installed', {}],
      ['lldpad is not running', { [PING]: fixture('lldptool-ping-notrunning') }],
      ['lldpad hangs (timeout)', { [PING]: new ActionError('lldptool: timed out after 5000 ms') }],
      ['the ping answers garbage', { [PING]: answer('hello\n') }],
    ] as [string, Script][])('%s → dcb', async (_name, probe) => {
      const { system, calls } = scripted({ ...kernelOk, ...probe });
      expect(await queryDcb(system, IF, 'auto')).toEqual({ ok: true, source: 'dcb', ...full });
      expect(calls).toEqual([PING, DCB_DCBX, DCB_PFC, DCB_APP, DCB_PFC, DCB_APP]);
    });

    it('lldpad runs and the port runs CEE → lldpad-cee', async () => {
      const { system, calls } = scripted({ ...ceeOk, [PING]: pong });
      expect(await queryDcb(system, IF, 'auto')).toEqual({ ok: true, source: 'lldpad-cee', ...full });
      expect(calls.slice(0, 2)).toEqual([PING, GO('pfc')]);
    });

    it('lldpad runs and refuses oper queries as IEEE-DCBX → lldpad-ieee', async () => {
      const { system, calls } = scripted({ ...ieeeOk, [PING]: pong });
      expect(await queryDcb(system, IF, 'auto')).toEqual({ ok: true, source: 'lldpad-ieee', ...full });
      expect(calls).toEqual([PING, GO('pfc'), DCB_DCBX, LLDP_PFC, LLDP_APP, DCB_PFC, DCB_APP]);
    });

    it('lldpad runs but the port has no DCB → lldpad-cee, failing at step 1 with lldpad\'s words', async () => {
      const { system } = scripted({ [PING]: pong, [GO('pfc')]: fixture('dcbtool-go-pfc-notcapable'), [GC('dcb')]: notcapable });
      expect(await queryDcb(system, IF, 'auto')).toEqual({ ok: false, source: 'lldpad-cee', step: 'dcb-state', argv: GC('dcb').split(' '), message: 'dcbtool: Device not capable (exit 8)' });
    });

    it('the probe itself failing to run is a step-1 failure of lldpad-cee', async () => {
      const { system } = scripted({ [PING]: pong, [GO('pfc')]: new ActionError('dcbtool: timed out after 5000 ms') });
      expect(await queryDcb(system, IF, 'auto')).toEqual({ ok: false, source: 'lldpad-cee', step: 'dcb-state', argv: GO('pfc').split(' '), message: 'dcbtool: timed out after 5000 ms' });
    });
  });
});
