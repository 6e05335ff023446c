/**
 * fcoemon's DCB query sequence behind one function: `queryDcb()` asks one DCB
 * source the five questions of DCB_STEPS, in order, about the REAL interface
 * (the caller resolves a VLAN to its lower device first).
 *
 * Contract: never throws. Every problem — a missing tool, a non-zero exit, a
 * timeout, an answer that does not parse — is a `DcbQueryFailure` naming the
 * source, the step, the argv and a one-line message; the first one ends the
 * sequence. It stops early, with an observation, after step 1 when DCB is
 * disabled and after step 3 when App:FCoE is disabled.
 *
 * Sources (formats and how each maps onto the steps: dcb-tool.ts, lldpad.ts):
 *   dcb          1 `dcb -j dcbx` (ieee flag), 2 and 4 `dcb -j pfc`,
 *                3 and 5 `dcb -j app` (the kernel's IEEE objects: config and
 *                oper are the same objects, re-read);
 *   lldpad-cee   1 `dcbtool gc <if> dcb`, 2 `gc pfc`, 3 `gc app:fcoe`,
 *                4 `dcbtool go <if> pfc`, 5 `go app:fcoe` (fcoemon's CEE path);
 *   lldpad-ieee  1 `dcb -j dcbx` (fcoemon's IEEE path calls DCB on when the
 *                kernel's DCBX mode has the IEEE bit, which lldpad sets), 2
 *                `lldptool -t -i <if> -V PFC` and 3 `-V APP -c app` (lldpad's
 *                configuration), 4 `dcb -j pfc` and 5 `dcb -j app` (what lldpad
 *                programmed into the kernel is what runs; fcoemon reads the
 *                kernel here too, lldptool has no operational view).
 *
 * Settings: `dcb` and `lldpad` name the tools to use; under `lldpad` the port's
 * DCBX mode picks CEE or IEEE (the probe below). `auto` asks `lldptool -p`
 * first: an answered ping (exit 0, a pid) means lldpad runs and `lldpad`
 * applies; anything else — lldptool missing, lldpad not running, a hung
 * lldpad (timeout), garbage — means `dcb`, which reads the kernel directly
 * and needs no daemon. A missing tool under an explicit setting, or `dcb`
 * missing under `auto`, is a failure of the step that needed it ("dcb: not
 * installed ..."): the hook reports it and retries, it does not crash.
 *
 * CEE or IEEE (lldp_dcbx_cmds.c): lldpad refuses get-oper queries with status
 * 9 "Command not applicable in IEEE-DCBX modes" while the port runs IEEE
 * DCBX, so `dcbtool go <if> pfc` answering that means IEEE, and any other
 * answer means CEE (a CEE port's errors then show up in its own step 1).
 * The probe is not a step of its own; its failures cannot happen (any answer
 * decides) except an exec error, reported as step 1 of lldpad-cee.
 */
import { EnvironmentError } from '../../../core/errors.js';
import type { System } from '../../../core/system.js';
import type { AppConfig, AppOper, DcbQueryFailure, DcbResult, DcbSourceName, DcbStep, PfcConfig, PfcOper } from '../types.js';
import { DCB, dcbAppArgv, dcbDcbxArgv, dcbPfcArgv, oneLine, parseDcbApp, parseDcbPfc, parseDcbx, type Parsed, type ToolAnswer } from './dcb-tool.js';
import {
  DCBTOOL,
  LLDPTOOL,
  dcbtoolArgv,
  isIeeeModeAnswer,
  lldptoolAppArgv,
  lldptoolPfcArgv,
  lldptoolPingArgv,
  parseDcbtoolAppConfig,
  parseDcbtoolAppOper,
  parseDcbtoolPfcConfig,
  parseDcbtoolPfcOper,
  parseDcbtoolState,
  parseLldpadPid,
  parseLldptoolApp,
  parseLldptoolPfc,
} from './lldpad.js';

export type DcbSourceSetting = 'auto' | 'dcb' | 'lldpad';
export const DCB_SOURCE_SETTINGS: readonly DcbSourceSetting[] = ['auto', 'dcb', 'lldpad'];

/**
 * Bound on each command. dcbtool and lldptool wait CMD_RESPONSE_TIMEOUT = 2 s
 * for lldpad's reply (lldpad clif.c) and then say so themselves; 5 s lets
 * their own message win and still ends a query whose tool hangs. `dcb` is a
 * netlink round trip of milliseconds.
 */
export const DCB_COMMAND_TIMEOUT_MS = 5_000;

/** Why a tool may be missing, for the failure message. */
const INSTALL_HINT: Record<string, string> = {
  [DCB]: 'iproute2 5.11 or later',
  [DCBTOOL]: 'lldpad',
  [LLDPTOOL]: 'lldpad',
};

type Answered = { readonly ok: true; readonly answer: ToolAnswer } | DcbQueryFailure;

async function run(system: System, source: DcbSourceName, step: DcbStep, file: string, args: readonly string[]): Promise<Answered> {
  const argv = [file, ...args];
  try {
    const result = await system.exec(file, args, { timeoutMs: DCB_COMMAND_TIMEOUT_MS });
    return { ok: true, answer: result };
  } catch (error) {
    // System.exec's errors name the program already ("dcb: timed out after 5000 ms").
    const said = error instanceof Error ? error.message : String(error);
    const message = error instanceof EnvironmentError ? `${said}; it comes with ${INSTALL_HINT[file] ?? file}` : said.startsWith(`${file}:`) ? said : `${file}: ${said}`;
    return { ok: false, source, step, argv, message: oneLine(message) };
  }
}

export interface Question<T> {
  readonly file: string;
  readonly args: readonly string[];
  readonly parse: (answer: ToolAnswer) => Parsed<T>;
}

export interface Plan {
  readonly source: DcbSourceName;
  readonly 'dcb-state': Question<boolean>;
  readonly 'pfc-config': Question<PfcConfig>;
  readonly 'app-config': Question<AppConfig>;
  readonly 'pfc-oper': Question<PfcOper>;
  readonly 'app-oper': Question<AppOper>;
}

const map = <A, B>(parse: (answer: ToolAnswer) => Parsed<A>, f: (a: A) => B) => (answer: ToolAnswer): Parsed<B> => {
  const parsed = parse(answer);
  return parsed.ok ? { ok: true, value: f(parsed.value) } : parsed;
};

/**
 * Step 1 from the kernel: DCB is on when the port runs IEEE DCBX. A port in
 * CEE mode only (firmware-managed CEE without lldpad) is not "DCB off": the
 * kernel's IEEE objects do not describe it and iproute2 cannot read CEE, so
 * it is a query error that says what to set (it is retried, and destroyed
 * only after the last retry) rather than an immediate destroy.
 */
function ieeeDcbState(answer: ToolAnswer): Parsed<boolean> {
  const flags = parseDcbx(answer);
  if (!flags.ok) return flags;
  if (flags.value.has('ieee')) return { ok: true, value: true };
  if (flags.value.has('cee')) return { ok: false, message: `dcbx: the port runs CEE DCBX (${[...flags.value].join(' ')}), which iproute2 dcb cannot read: run lldpad and set fcoe.dcb-source: lldpad (or auto)` };
  return { ok: true, value: false };
}

function kernelQuestions(ifname: string) {
  return {
    'dcb-state': { file: DCB, args: dcbDcbxArgv(ifname), parse: ieeeDcbState },
    'pfc-oper': { file: DCB, args: dcbPfcArgv(ifname), parse: map(parseDcbPfc, (p): PfcOper => ({ operational: p.length > 0, priorities: p })) },
    'app-oper': {
      file: DCB,
      args: dcbAppArgv(ifname),
      parse: map(parseDcbApp, (p): AppOper => (p[0] === undefined ? { operational: false } : { operational: true, priority: p[0] })),
    },
  };
}

/** The five questions each source asks. */
export function dcbPlan(source: DcbSourceName, ifname: string): Plan {
  const kernel = kernelQuestions(ifname);
  switch (source) {
    case 'dcb':
      return {
        source,
        ...kernel,
        'pfc-config': { file: DCB, args: dcbPfcArgv(ifname), parse: map(parseDcbPfc, (p): PfcConfig => ({ enabled: p.length > 0, priorities: p })) },
        'app-config': {
          file: DCB,
          args: dcbAppArgv(ifname),
          parse: map(parseDcbApp, (p): AppConfig => (p[0] === undefined ? { enabled: false } : { enabled: true, priority: p[0] })),
        },
      };
    case 'lldpad-ieee':
      return {
        source,
        ...kernel,
        'pfc-config': { file: LLDPTOOL, args: lldptoolPfcArgv(ifname), parse: parseLldptoolPfc },
        'app-config': { file: LLDPTOOL, args: lldptoolAppArgv(ifname), parse: parseLldptoolApp },
      };
    case 'lldpad-cee':
      return {
        source,
        'dcb-state': { file: DCBTOOL, args: dcbtoolArgv('gc', ifname, 'dcb'), parse: parseDcbtoolState },
        'pfc-config': { file: DCBTOOL, args: dcbtoolArgv('gc', ifname, 'pfc'), parse: parseDcbtoolPfcConfig },
        'app-config': { file: DCBTOOL, args: dcbtoolArgv('gc', ifname, 'app:fcoe'), parse: parseDcbtoolAppConfig },
        'pfc-oper': { file: DCBTOOL, args: dcbtoolArgv('go', ifname, 'pfc'), parse: parseDcbtoolPfcOper },
        'app-oper': { file: DCBTOOL, args: dcbtoolArgv('go', ifname, 'app:fcoe'), parse: parseDcbtoolAppOper },
      };
  }
}

type Asked<T> = { readonly ok: true; readonly value: T } | DcbQueryFailure;

async function ask<T>(system: System, source: DcbSourceName, step: DcbStep, question: Question<T>): Promise<Asked<T>> {
  const ran = await run(system, source, step, question.file, question.args);
  if (!ran.ok) return ran;
  const parsed = question.parse(ran.answer);
  if (parsed.ok) return parsed;
  return { ok: false, source, step, argv: [question.file, ...question.args], message: parsed.message };
}

/** lldpad answers its ping: `lldptool -p` exits 0 with a pid. */
async function lldpadRunning(system: System): Promise<boolean> {
  const ran = await run(system, 'lldpad-cee', 'dcb-state', LLDPTOOL, lldptoolPingArgv());
  return ran.ok && parseLldpadPid(ran.answer).ok;
}

/** lldpad-ieee when lldpad refuses oper queries for the port as IEEE-DCBX; else lldpad-cee. */
async function lldpadMode(system: System, ifname: string): Promise<DcbSourceName | DcbQueryFailure> {
  const ran = await run(system, 'lldpad-cee', 'dcb-state', DCBTOOL, dcbtoolArgv('go', ifname, 'pfc'));
  if (!ran.ok) return ran;
  return isIeeeModeAnswer(ran.answer) ? 'lldpad-ieee' : 'lldpad-cee';
}

/** The source a setting resolves to on this host and port now, or why it could not be found. */
export async function resolveDcbSource(system: System, ifname: string, setting: DcbSourceSetting): Promise<DcbSourceName | DcbQueryFailure> {
  if (setting === 'dcb') return 'dcb';
  if (setting === 'auto' && !(await lldpadRunning(system))) return 'dcb';
  return lldpadMode(system, ifname);
}

/** Runs the five steps against one source, stopping early as fcoemon does. */
export async function querySource(system: System, source: DcbSourceName, ifname: string): Promise<DcbResult> {
  const plan = dcbPlan(source, ifname);
  const dcb = await ask(system, source, 'dcb-state', plan['dcb-state']);
  if (!dcb.ok) return dcb;
  if (!dcb.value) return { ok: true, source, dcbEnabled: false };
  const pfcConfig = await ask(system, source, 'pfc-config', plan['pfc-config']);
  if (!pfcConfig.ok) return pfcConfig;
  const appConfig = await ask(system, source, 'app-config', plan['app-config']);
  if (!appConfig.ok) return appConfig;
  if (!appConfig.value.enabled) return { ok: true, source, dcbEnabled: true, pfcConfig: pfcConfig.value, appConfig: appConfig.value };
  const pfcOper = await ask(system, source, 'pfc-oper', plan['pfc-oper']);
  if (!pfcOper.ok) return pfcOper;
  const appOper = await ask(system, source, 'app-oper', plan['app-oper']);
  if (!appOper.ok) return appOper;
  return { ok: true, source, dcbEnabled: true, pfcConfig: pfcConfig.value, appConfig: appConfig.value, pfcOper: pfcOper.value, appOper: appOper.value };
}

export async function queryDcb(system: System, ifname: string, setting: DcbSourceSetting): Promise<DcbResult> {
  const source = await resolveDcbSource(system, ifname, setting);
  if (typeof source !== 'string') return source;
  return querySource(system, source, ifname);
}
