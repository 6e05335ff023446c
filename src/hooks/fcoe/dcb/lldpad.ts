/**
 * lldpad as its command-line clients print it: dcbtool (CEE DCBX) and
 * lldptool (IEEE DCBX and the liveness probe). Argv builders and pure
 * parsers only; sequence.ts runs the commands through `System.exec`.
 *
 * Contract: as in dcb-tool.ts, a parser takes a whole answer and returns a
 * `Parsed` value or a one-line, bounded message; it never throws.
 *
 * Formats (openSUSE/lldpad, the sources of Debian 12's lldpad
 * 1.1+git20221028; failure answers recorded from that package):
 * - `dcbtool gc|go <if> <feature>` (dcbtool_cmds.c print_dcb_cmd_response):
 *   `Command:   \tGet Config|Get Oper`, `Feature:   \tDCB State|Priority Flow
 *   Control|Application FCoE`, `Port:      \t<if>`, `Status:    \t<status>`;
 *   then, on success only, for gc of pfc/app `Enable:    \ttrue|false`
 *   (+ Advertise, Willing), for go `Oper Version:\t%d`, `Max Version:\t%d`,
 *   `Errors:     \t0x%02x - ...`, `Oper Mode: \ttrue|false`, `Syncd: ...`;
 *   then `DCB State:\ton|off`, or `pfcup:     \t` + one `0|1\t` per priority
 *   0-7, or `appcfg:     \t<hex>` (the App:FCoE user-priority bitmap, one hex
 *   byte per AppData byte: lldp_dcbx_cmds.c get_app_data). dcbtool exits with
 *   the lldpad status (dcbtool.c: request() returns it; lldpad_status.h):
 *   0 Successful, 2 "Device not found, link down or DCB not enabled",
 *   8 "Device not capable" (what a netdev without dcbnl answers), 9 "Command
 *   not applicable in IEEE-DCBX modes" (lldp_dcbx_cmds.c: gets of oper/peer
 *   state are refused while the port runs IEEE DCBX). Not connected to lldpad:
 *   `Failed to connect to lldpad - clif_open: ...` on stderr, exit 255.
 * - `lldptool -p` (lldptool_cmds.c print_response, PING_CMD): lldpad's pid.
 * - `lldptool -t -i <if> -V PFC` (lldp_8021qaz_clif.c print_pfc_tlv): the
 *   local PFC TLV, `IEEE 8021QAZ PFC TLV` then `\t PFC enabled: 3 ` (the
 *   priorities, each followed by a space) or `\t PFC enabled: none`. It is
 *   used rather than `-c enabled`, whose answer carries the mask in decimal
 *   behind a fixed length of 2 (get_arg_enabled), which cuts masks >= 100.
 * - `lldptool -t -i <if> -V APP -c app` (lldp_8021qaz_cmds.c get_arg_app):
 *   `APP=(prio,sel,proto)` then one line per entry,
 *   `<i>:(<prio>,<sel>,0x<ethertype>) local|peer hw (set)` (sel 1 = ethertype;
 *   the hw suffix is lldpad's view of the kernel: set, pending set, ...).
 *
 * How fcoemon reads CEE (fcoemon.c dcb_rsp_parser, validate_dcbd_info): DCB
 * state on; PFC and App:FCoE Enable (config); Oper Mode of both (oper); the
 * oper pfcup bitmap AND the oper appcfg bitmap non-zero; an oper answer with
 * non-zero Errors makes it tear FCoE down. Mapped here: PfcConfig/AppConfig
 * `enabled` = Enable; PfcOper/AppOper `operational` = Oper Mode true and
 * Errors 0x00 (the error bits and Advertise/Willing, which fcoemon only warns
 * about, have no field in DcbObservation); an App priority is the lowest bit
 * of its bitmap (fcoemon keeps the whole mask; one FCoE priority is the norm).
 */
import type { AppConfig, AppOper, PfcConfig, PfcOper } from '../types.js';
import { FCOE_ETHERTYPE, MAX_PRIORITY, answerProblem, oneLine, type Parsed, type ToolAnswer } from './dcb-tool.js';

export const DCBTOOL = 'dcbtool';
export const LLDPTOOL = 'lldptool';

export type DcbtoolFeature = 'dcb' | 'pfc' | 'app:fcoe';

/** lldpad's status 9 text, which dcbtool also exits with: the port runs IEEE DCBX. */
export const IEEE_MODE_STATUS = 'Command not applicable in IEEE-DCBX modes';
const IEEE_MODE_EXIT = 9;

const FEATURE_NAMES: Record<DcbtoolFeature, string> = { dcb: 'DCB State', pfc: 'Priority Flow Control', 'app:fcoe': 'Application FCoE' };
const COMMAND_NAMES = { gc: 'Get Config', go: 'Get Oper' } as const;

export function dcbtoolArgv(command: 'gc' | 'go', ifname: string, feature: DcbtoolFeature): string[] {
  return [command, ifname, feature];
}
export function lldptoolPingArgv(): string[] {
  return ['-p'];
}
export function lldptoolPfcArgv(ifname: string): string[] {
  return ['-t', '-i', ifname, '-V', 'PFC'];
}
export function lldptoolAppArgv(ifname: string): string[] {
  return ['-t', '-i', ifname, '-V', 'APP', '-c', 'app'];
}

const fail = (message: string): { ok: false; message: string } => ({ ok: false, message: oneLine(message) });

/** One dcbtool answer: its `Name: <tab>value` lines (names trimmed). */
export interface DcbtoolAnswer {
  readonly status: string;
  readonly fields: ReadonlyMap<string, string>;
}

function dcbtoolFields(stdout: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^([^:\t]+):\s*\t(.*)$/.exec(line);
    if (m && !fields.has(m[1]!.trim())) fields.set(m[1]!.trim(), m[2]!.trim());
  }
  return fields;
}

/**
 * A successful dcbtool answer to `command` about `feature`. A failed status is
 * a failure with lldpad's status text; so is an answer about another command
 * or feature (not what was asked).
 */
export function parseDcbtool(answer: ToolAnswer, command: 'gc' | 'go', feature: DcbtoolFeature): Parsed<DcbtoolAnswer> {
  if (answer.stdout.length <= 64 * 1024) {
    const fields = dcbtoolFields(answer.stdout);
    const status = fields.get('Status');
    // dcbtool exits with the lldpad status; its Status line says it in words.
    if (status !== undefined && status !== 'Successful') return fail(`dcbtool: ${status} (exit ${answer.exitCode})`);
  }
  const problem = answerProblem(DCBTOOL, answer);
  if (problem) return fail(problem);
  const fields = dcbtoolFields(answer.stdout);
  const what = `dcbtool ${command} ${feature}`;
  if (fields.get('Status') !== 'Successful') return fail(`${what}: no "Status: Successful" in dcbtool's answer`);
  if (fields.get('Command') !== COMMAND_NAMES[command] || fields.get('Feature') !== FEATURE_NAMES[feature]) {
    return fail(`${what}: the answer is about "${fields.get('Command') ?? '?'} / ${fields.get('Feature') ?? '?'}"`);
  }
  return { ok: true, value: { status: 'Successful', fields } };
}

/** True when dcbtool refused an oper query because the port runs IEEE DCBX (the auto probe). */
export function isIeeeModeAnswer(answer: ToolAnswer): boolean {
  return answer.exitCode === IEEE_MODE_EXIT && dcbtoolFields(answer.stdout.slice(0, 64 * 1024)).get('Status') === IEEE_MODE_STATUS;
}

function bool(what: string, fields: ReadonlyMap<string, string>, name: string): Parsed<boolean> {
  const value = fields.get(name);
  if (value === 'true') return { ok: true, value: true };
  if (value === 'false') return { ok: true, value: false };
  return fail(`${what}: "${name}" is ${value === undefined ? 'missing' : `"${value.slice(0, 40)}"`}, expected true or false`);
}

/** `pfcup:` one 0|1 per priority 0-7, tab-separated. */
function pfcup(what: string, fields: ReadonlyMap<string, string>): Parsed<number[]> {
  const raw = fields.get('pfcup');
  const flags = raw?.split(/\s+/).filter(Boolean);
  if (!flags || flags.length !== MAX_PRIORITY + 1 || !flags.every((f) => f === '0' || f === '1')) {
    return fail(`${what}: pfcup is ${raw === undefined ? 'missing' : `"${raw.slice(0, 40)}"`}, expected ${MAX_PRIORITY + 1} flags 0 or 1`);
  }
  return { ok: true, value: flags.flatMap((f, prio) => (f === '1' ? [prio] : [])) };
}

/** `appcfg:` the hex user-priority bitmap; its lowest priority, undefined for an empty bitmap. */
function appcfg(what: string, fields: ReadonlyMap<string, string>): Parsed<number | undefined> {
  const raw = fields.get('appcfg');
  if (raw === undefined || !/^(?:[0-9a-fA-F]{2})*$/.test(raw)) return fail(`${what}: appcfg is ${raw === undefined ? 'missing' : `"${raw.slice(0, 40)}"`}, expected hex bytes`);
  const mask = raw === '' ? 0 : Number.parseInt(raw, 16);
  if (mask > 0xff) return fail(`${what}: appcfg ${raw} names a priority out of 0-${MAX_PRIORITY}`);
  if (mask === 0) return { ok: true, value: undefined };
  return { ok: true, value: Math.log2(mask & -mask) };
}

/** Errors `0x00 - none` → 0. */
function operErrors(what: string, fields: ReadonlyMap<string, string>): Parsed<number> {
  const m = /^0x([0-9a-fA-F]{2})\b/.exec(fields.get('Errors') ?? '');
  return m ? { ok: true, value: Number.parseInt(m[1]!, 16) } : fail(`${what}: no "Errors: 0x.." line`);
}

/** `dcbtool gc <if> dcb` → DCB State on. */
export function parseDcbtoolState(answer: ToolAnswer): Parsed<boolean> {
  const a = parseDcbtool(answer, 'gc', 'dcb');
  if (!a.ok) return a;
  const state = a.value.fields.get('DCB State');
  if (state === 'on' || state === 'off') return { ok: true, value: state === 'on' };
  return fail(`dcbtool gc dcb: "DCB State" is ${state === undefined ? 'missing' : `"${state.slice(0, 40)}"`}, expected on or off`);
}

export function parseDcbtoolPfcConfig(answer: ToolAnswer): Parsed<PfcConfig> {
  const what = 'dcbtool gc pfc';
  const a = parseDcbtool(answer, 'gc', 'pfc');
  if (!a.ok) return a;
  const enabled = bool(what, a.value.fields, 'Enable');
  if (!enabled.ok) return enabled;
  const prios = pfcup(what, a.value.fields);
  if (!prios.ok) return prios;
  return { ok: true, value: { enabled: enabled.value, priorities: prios.value } };
}

export function parseDcbtoolAppConfig(answer: ToolAnswer): Parsed<AppConfig> {
  const what = 'dcbtool gc app:fcoe';
  const a = parseDcbtool(answer, 'gc', 'app:fcoe');
  if (!a.ok) return a;
  const enabled = bool(what, a.value.fields, 'Enable');
  if (!enabled.ok) return enabled;
  const prio = appcfg(what, a.value.fields);
  if (!prio.ok) return prio;
  return { ok: true, value: prio.value === undefined ? { enabled: enabled.value } : { enabled: enabled.value, priority: prio.value } };
}

function operational(what: string, fields: ReadonlyMap<string, string>): Parsed<boolean> {
  const mode = bool(what, fields, 'Oper Mode');
  if (!mode.ok) return mode;
  const errors = operErrors(what, fields);
  if (!errors.ok) return errors;
  return { ok: true, value: mode.value && errors.value === 0 };
}

export function parseDcbtoolPfcOper(answer: ToolAnswer): Parsed<PfcOper> {
  const what = 'dcbtool go pfc';
  const a = parseDcbtool(answer, 'go', 'pfc');
  if (!a.ok) return a;
  const oper = operational(what, a.value.fields);
  if (!oper.ok) return oper;
  const prios = pfcup(what, a.value.fields);
  if (!prios.ok) return prios;
  return { ok: true, value: { operational: oper.value, priorities: prios.value } };
}

export function parseDcbtoolAppOper(answer: ToolAnswer): Parsed<AppOper> {
  const what = 'dcbtool go app:fcoe';
  const a = parseDcbtool(answer, 'go', 'app:fcoe');
  if (!a.ok) return a;
  const oper = operational(what, a.value.fields);
  if (!oper.ok) return oper;
  const prio = appcfg(what, a.value.fields);
  if (!prio.ok) return prio;
  return { ok: true, value: prio.value === undefined ? { operational: oper.value } : { operational: oper.value, priority: prio.value } };
}

/** `lldptool -p`: lldpad's pid (lldpad answers the ping, so it is running). */
export function parseLldpadPid(answer: ToolAnswer): Parsed<number> {
  const problem = answerProblem(LLDPTOOL, answer);
  if (problem) return fail(problem);
  const text = answer.stdout.trim();
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return fail(`lldptool -p: "${text.slice(0, 40)}" is not a pid`);
  return { ok: true, value: Number(text) };
}

/** `lldptool -t -i <if> -V PFC`: the local PFC TLV's priorities; enabled when there is one. */
export function parseLldptoolPfc(answer: ToolAnswer): Parsed<PfcConfig> {
  const what = 'lldptool -V PFC';
  const problem = answerProblem(LLDPTOOL, answer);
  if (problem) return fail(problem);
  const lines = answer.stdout.split('\n');
  if (lines[0]?.trim() !== 'IEEE 8021QAZ PFC TLV') {
    return fail(`${what}: no PFC TLV in lldpad's answer${answer.stdout.trim() === '' ? ' (empty: lldpad has no IEEE DCBX state for this port)' : ''}`);
  }
  const m = lines.map((l) => /^\s*PFC enabled:(.*)$/.exec(l)).find(Boolean);
  if (!m) return fail(`${what}: no "PFC enabled:" line`);
  const words = m[1]!.trim().split(/\s+/).filter(Boolean);
  if (words.length === 1 && words[0] === 'none') return { ok: true, value: { enabled: false, priorities: [] } };
  const prios: number[] = [];
  for (const word of words) {
    if (!/^[0-9]+$/.test(word) || Number(word) > MAX_PRIORITY) return fail(`${what}: "PFC enabled: ${m[1]!.trim().slice(0, 40)}" has a priority out of 0-${MAX_PRIORITY}`);
    if (!prios.includes(Number(word))) prios.push(Number(word));
  }
  if (prios.length === 0) return fail(`${what}: "PFC enabled:" lists nothing (lldpad prints "none")`);
  return { ok: true, value: { enabled: true, priorities: prios.sort((a, b) => a - b) } };
}

const APP_ENTRY = /^\s*[0-9]+:\(([0-9]+),([0-9]+),(0x[0-9a-fA-F]+|[0-9]+)\) (local|peer)\b/;

/** `lldptool -t -i <if> -V APP -c app`: the locally configured App entry for FCoE (sel 1, 0x8906). */
export function parseLldptoolApp(answer: ToolAnswer): Parsed<AppConfig> {
  const what = 'lldptool -V APP -c app';
  const problem = answerProblem(LLDPTOOL, answer);
  if (problem) return fail(problem);
  const lines = answer.stdout.split('\n');
  if (lines[0]?.trim() !== 'APP=(prio,sel,proto)') return fail(`${what}: the answer does not start with "APP=(prio,sel,proto)"`);
  let priority: number | undefined;
  for (const line of lines.slice(1)) {
    if (line.trim() === '') continue;
    const m = APP_ENTRY.exec(line);
    if (!m) return fail(`${what}: unexpected line "${line.trim().slice(0, 60)}"`);
    const [, prio, sel, proto, where] = m;
    if (Number(prio) > MAX_PRIORITY) return fail(`${what}: entry "${line.trim().slice(0, 60)}" has a priority out of 0-${MAX_PRIORITY}`);
    if (where === 'local' && Number(sel) === 1 && Number(proto) === FCOE_ETHERTYPE && priority === undefined) priority = Number(prio);
  }
  return { ok: true, value: priority === undefined ? { enabled: false } : { enabled: true, priority } };
}
