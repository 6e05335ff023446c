/**
 * The fake dcb, dcbtool and lldptool (test/fakes) and the parsers hold
 * together: each fake runs as a process with FAKE_DCB_STATE in a temp dir,
 * its output goes through the real parsers and through queryDcb(), and its
 * failure answers are byte for byte the recorded ones in test/fixtures/dcb.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { spawnExec, type System } from '../../src/core/system.js';
import { parseDcbApp, parseDcbPfc, parseDcbx, type ToolAnswer } from '../../src/hooks/fcoe/dcb/dcb-tool.js';
import { parseDcbtoolAppConfig, parseDcbtoolAppOper, parseDcbtoolPfcConfig, parseDcbtoolPfcOper, parseDcbtoolState, parseLldpadPid, parseLldptoolApp, parseLldptoolPfc } from '../../src/hooks/fcoe/dcb/lldpad.js';
import { queryDcb } from '../../src/hooks/fcoe/dcb/sequence.js';
import { tempSystem } from '../support/system.js';

const FAKES = path.join(import.meta.dirname, '..', 'fakes');
const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'dcb');

/**
 * Each fake is a node process (~50-100 ms to start, seconds on a loaded CI
 * machine); a test here runs up to 20 of them one after another.
 */
const PROCESSES = { timeout: 60_000 };

let state: string;
beforeEach(() => {
  state = mkdtempSync(path.join(tmpdir(), 'sanhook-dcb-fake-'));
});

function run(tool: 'dcb' | 'dcbtool' | 'lldptool', args: string[], env: Record<string, string | undefined> = { FAKE_DCB_STATE: state }): ToolAnswer {
  const r = spawnSync(process.execPath, [path.join(FAKES, `${tool}.mjs`), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
  return { exitCode: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const port = (ifname: string, value: object) => writeFileSync(path.join(state, `${ifname}.json`), JSON.stringify(value));
const lldpad = () => writeFileSync(path.join(state, 'lldpad-running'), '777\n');
const recorded = (name: string, stream: 'stdout' | 'stderr' | 'exit') => {
  try {
    return readFileSync(path.join(FIXTURES, `${name}.${stream}`), 'utf8');
  } catch {
    return '';
  }
};
const sameAsRecorded = (got: ToolAnswer, name: string) => expect(got).toEqual({ exitCode: Number(recorded(name, 'exit')), stdout: recorded(name, 'stdout'), stderr: recorded(name, 'stderr') });

/** A System whose exec runs the fakes (test/fakes/bin) with this test's state directory. */
function fakeSystem(): System {
  return tempSystem((file, args, options) => spawnExec(path.join(FAKES, 'bin', file), args, { ...options, env: { FAKE_DCB_STATE: state } }));
}

describe('fake answers parse', PROCESSES, () => {
  it('dcb: dcbx, pfc and app (both iproute2 app forms)', () => {
    port('eth2', { dcbx: 'ieee', pfc: [3, 4], app: 3 });
    expect(parseDcbx(run('dcb', ['-j', 'dcbx', 'show', 'dev', 'eth2']))).toEqual({ ok: true, value: new Set(['host', 'ieee']) });
    expect(parseDcbPfc(run('dcb', ['-j', 'pfc', 'show', 'dev', 'eth2']))).toEqual({ ok: true, value: [3, 4] });
    expect(parseDcbApp(run('dcb', ['-j', 'app', 'show', 'dev', 'eth2']))).toEqual({ ok: true, value: [3] });
    port('eth2', { dcbx: 'ieee', pfc: [3], app: 5, iproute2: '6.5' });
    const app = run('dcb', ['-j', 'app', 'show', 'dev', 'eth2']);
    expect(app.stdout).toBe('{"ethtype_prio":[[35078,5," "]]}\n');
    expect(parseDcbApp(app)).toEqual({ ok: true, value: [5] });
  });

  it('dcbtool: gc and go of dcb, pfc and app:fcoe', () => {
    lldpad();
    port('eth2', { dcbx: 'cee', pfc: [3], app: 3, pfcOperPrios: [3, 4], appOperPrio: 4 });
    expect(parseDcbtoolState(run('dcbtool', ['gc', 'eth2', 'dcb']))).toEqual({ ok: true, value: true });
    expect(parseDcbtoolPfcConfig(run('dcbtool', ['gc', 'eth2', 'pfc']))).toEqual({ ok: true, value: { enabled: true, priorities: [3] } });
    expect(parseDcbtoolAppConfig(run('dcbtool', ['gc', 'eth2', 'app:fcoe']))).toEqual({ ok: true, value: { enabled: true, priority: 3 } });
    expect(parseDcbtoolPfcOper(run('dcbtool', ['go', 'eth2', 'pfc']))).toEqual({ ok: true, value: { operational: true, priorities: [3, 4] } });
    expect(parseDcbtoolAppOper(run('dcbtool', ['go', 'eth2', 'app:fcoe']))).toEqual({ ok: true, value: { operational: true, priority: 4 } });
    port('eth2', { dcb: false, dcbx: 'cee', pfc: [], app: null });
    expect(parseDcbtoolState(run('dcbtool', ['gc', 'eth2', 'dcb']))).toEqual({ ok: true, value: false });
    expect(parseDcbtoolPfcConfig(run('dcbtool', ['gc', 'eth2', 'pfc']))).toEqual({ ok: true, value: { enabled: false, priorities: [] } });
    expect(parseDcbtoolAppConfig(run('dcbtool', ['gc', 'eth2', 'app:fcoe']))).toEqual({ ok: true, value: { enabled: false } });
    expect(parseDcbtoolAppOper(run('dcbtool', ['go', 'eth2', 'app:fcoe']))).toEqual({ ok: true, value: { operational: false } });
  });

  it('lldptool: ping, PFC TLV and APP list', () => {
    lldpad();
    port('eth2', { pfc: [3], app: 3 });
    expect(parseLldpadPid(run('lldptool', ['-p']))).toEqual({ ok: true, value: 777 });
    expect(parseLldptoolPfc(run('lldptool', ['-t', '-i', 'eth2', '-V', 'PFC']))).toEqual({ ok: true, value: { enabled: true, priorities: [3] } });
    expect(parseLldptoolApp(run('lldptool', ['-t', '-i', 'eth2', '-V', 'APP', '-c', 'app']))).toEqual({ ok: true, value: { enabled: true, priority: 3 } });
    port('eth2', { pfc: [], app: null });
    expect(parseLldptoolPfc(run('lldptool', ['-t', '-i', 'eth2', '-V', 'PFC']))).toEqual({ ok: true, value: { enabled: false, priorities: [] } });
    expect(parseLldptoolApp(run('lldptool', ['-t', '-i', 'eth2', '-V', 'APP', '-c', 'app']))).toEqual({ ok: true, value: { enabled: false } });
  });
});

describe('fake failures are the recorded ones', PROCESSES, () => {
  it('no <ifname>.json: a veth', () => {
    lldpad();
    sameAsRecorded(run('dcb', ['-j', 'pfc', 'show', 'dev', 'v0']), 'dcb-pfc-notsup');
    sameAsRecorded(run('dcb', ['-j', 'dcbx', 'show', 'dev', 'v0']), 'dcb-dcbx-notsup');
    sameAsRecorded(run('dcbtool', ['gc', 'v0', 'dcb']), 'dcbtool-gc-dcb-notcapable');
    sameAsRecorded(run('dcbtool', ['go', 'v0', 'app:fcoe']), 'dcbtool-go-app-fcoe-notcapable');
    sameAsRecorded(run('lldptool', ['-t', '-i', 'v0', '-V', 'PFC']), 'lldptool-pfc-notcapable');
    sameAsRecorded(run('lldptool', ['-t', '-i', 'v0', '-V', 'APP', '-c', 'app']), 'lldptool-app-c-app-notcapable');
  });

  it('error "nodev"', () => {
    lldpad();
    port('nosuch0', { error: 'nodev' });
    sameAsRecorded(run('dcb', ['-j', 'pfc', 'show', 'dev', 'nosuch0']), 'dcb-pfc-nodev');
    sameAsRecorded(run('lldptool', ['-t', '-i', 'nosuch0', '-V', 'PFC']), 'lldptool-pfc-nodev');
    expect(parseDcbtoolState(run('dcbtool', ['gc', 'nosuch0', 'dcb']))).toEqual({ ok: false, message: 'dcbtool: Device not found, link down or DCB not enabled (exit 2)' });
  });

  it('lldpad not running', () => {
    port('v0', {});
    sameAsRecorded(run('lldptool', ['-p']), 'lldptool-ping-notrunning');
    sameAsRecorded(run('lldptool', ['-t', '-i', 'v0', '-V', 'PFC']), 'lldptool-pfc-notrunning');
    sameAsRecorded(run('dcbtool', ['gc', 'v0', 'dcb']), 'dcbtool-gc-dcb-notrunning');
  });

  it('IEEE mode: dcbtool refuses oper queries with status 9', () => {
    lldpad();
    port('eth2', { dcbx: 'ieee', pfc: [3], app: 3 });
    expect(run('dcbtool', ['go', 'eth2', 'pfc'])).toEqual({
      exitCode: 9,
      stdout: recorded('dcbtool-go-pfc-ieee', 'stdout'),
      stderr: '',
    });
  });

  it('garbage is printed instead of an answer', () => {
    lldpad();
    port('eth2', { garbage: 'Segmentation fault' });
    expect(parseDcbPfc(run('dcb', ['-j', 'pfc', 'show', 'dev', 'eth2']))).toMatchObject({ ok: false, message: /not JSON/ });
    expect(parseDcbtoolState(run('dcbtool', ['gc', 'eth2', 'dcb']))).toMatchObject({ ok: false, message: /no "Status: Successful"/ });
    expect(parseLldptoolPfc(run('lldptool', ['-t', '-i', 'eth2', '-V', 'PFC']))).toMatchObject({ ok: false, message: /no PFC TLV/ });
  });

  it('without FAKE_DCB_STATE every fake exits 99', () => {
    for (const tool of ['dcb', 'dcbtool', 'lldptool'] as const) expect(run(tool, ['-p'], {}).exitCode).toBe(99);
  });
});

describe('queryDcb through the fakes', PROCESSES, () => {
  it('every call is one calls.jsonl line {tool, argv, pid, at}', async () => {
    port('eth2', { pfc: [3], app: 3 });
    expect(await queryDcb(fakeSystem(), 'eth2', 'auto')).toMatchObject({ ok: true, source: 'dcb', appOper: { operational: true, priority: 3 } });
    const calls = readFileSync(path.join(state, 'calls.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(calls.map((c) => [c.tool, (c.argv as string[]).join(' ')])).toEqual([
      ['lldptool', '-p'],
      ['dcb', '-j dcbx show dev eth2'],
      ['dcb', '-j pfc show dev eth2'],
      ['dcb', '-j app show dev eth2'],
      ['dcb', '-j pfc show dev eth2'],
      ['dcb', '-j app show dev eth2'],
    ]);
    for (const c of calls) {
      expect(Object.keys(c).sort()).toEqual(['argv', 'at', 'pid', 'tool']);
      expect(Number.isInteger(c.pid) && Number.isInteger(c.at)).toBe(true);
    }
  });

  it('auto with lldpad: CEE and IEEE ports, and the state flapping between queries', async () => {
    lldpad();
    port('eth2', { dcbx: 'cee', pfc: [3], app: 3 });
    expect(await queryDcb(fakeSystem(), 'eth2', 'auto')).toEqual({
      ok: true,
      source: 'lldpad-cee',
      dcbEnabled: true,
      pfcConfig: { enabled: true, priorities: [3] },
      appConfig: { enabled: true, priority: 3 },
      pfcOper: { operational: true, priorities: [3] },
      appOper: { operational: true, priority: 3 },
    });
    port('eth2', { dcbx: 'ieee', pfc: [3], app: 3, appOper: false });
    expect(await queryDcb(fakeSystem(), 'eth2', 'auto')).toMatchObject({ ok: true, source: 'lldpad-ieee', appConfig: { enabled: true, priority: 3 }, appOper: { operational: false } });
    port('eth2', { dcb: false });
    expect(await queryDcb(fakeSystem(), 'eth2', 'auto')).toEqual({ ok: true, source: 'lldpad-ieee', dcbEnabled: false });
  });

  it('a veth: a failure at step 1, never a throw', async () => {
    expect(await queryDcb(fakeSystem(), 'v0', 'dcb')).toEqual({ ok: false, source: 'dcb', step: 'dcb-state', argv: ['dcb', '-j', 'dcbx', 'show', 'dev', 'v0'], message: 'dcb: Attribute read: Operation not supported (exit 1)' });
    lldpad();
    expect(await queryDcb(fakeSystem(), 'v0', 'lldpad')).toEqual({ ok: false, source: 'lldpad-cee', step: 'dcb-state', argv: ['dcbtool', 'gc', 'v0', 'dcb'], message: 'dcbtool: Device not capable (exit 8)' });
  });
});
