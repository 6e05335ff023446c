/**
 * The kernel's dcbnl as iproute2's `dcb -j` prints it: argv builders and pure
 * parsers (no I/O here; sequence.ts runs the commands through `System.exec`).
 *
 * Contract: every parser takes a whole answer (exit code, stdout, stderr) and
 * returns a `Parsed` value or a one-line, bounded message; it never throws,
 * whatever the answer holds (garbage, 10 MB, truncated or mis-shaped JSON).
 * The helpers at the top (`Parsed`, `oneLine`, `answerProblem`) are shared
 * with lldpad.ts.
 *
 * Formats (iproute2/iproute2, dcb/*.c; lib/json_print.c, lib/json_writer.c):
 * - every `-j` run prints one compact JSON object and a newline
 *   (jsonw_destroy); a failure prints only that newline on stdout, perror()'s
 *   `Attribute read: <strerror>` on stderr and exits 1 — on a netdev without
 *   dcbnl ops (a veth) `Attribute read: Operation not supported`, on a
 *   missing one `Attribute read: No such device` (recorded with 6.1);
 * - `dcb -j pfc show dev X` (dcb_pfc.c dcb_pfc_print): `{"pfc_cap":8,
 *   "macsec_bypass":false,"delay":0,"prio_pfc":[false,...]}`, prio_pfc one
 *   boolean per priority 0-7 (dcb_print_array_on_off in JSON);
 * - `dcb -j app show dev X` (dcb_app.c dcb_app_print_filtered): ethertype
 *   entries under "ethtype_prio" (absent when there are none: `{}`); each
 *   entry is `[ethertype, prio]` up to iproute2 6.4 and `[ethertype, prio, " "]`
 *   from 6.5 on (commit a245bfe1 "dcb: app: modify dcb_app_print_filtered()
 *   for dcb-rewr reuse" prints the text-mode separator with PRINT_ANY, so it
 *   leaks into JSON as a third, string element). The ethertype is a number in
 *   JSON (the "%x" format applies to text output only);
 * - `dcb -j dcbx show dev X` (dcb_dcbx.c dcb_dcbx_print): one `true` per
 *   DCB_CAP_DCBX_* bit set: host, lld_managed, cee, ieee, static (`{}` for 0).
 *
 * How dcbnl maps onto fcoemon's five steps (fcoemon.c fcm_process_ieee_msg,
 * validate_ieee_info): fcoemon's IEEE path reads the kernel's IEEE objects
 * (DCB_CMD_IEEE_GET) and calls DCB on when DCB_CAP_DCBX_VER_IEEE is set; it
 * then needs `pfc_en & (FCoE APP priorities)` to be non-zero. dcbnl has no
 * separate "configured" and "operational" copies: the IEEE PFC and APP
 * objects the kernel reports are what the driver runs. So here:
 *   1 dcb-state   `dcbx`: the `ieee` flag (a CEE-only port reads as DCB off:
 *                 its CEE state is lldpad's, not in these IEEE objects);
 *   2 pfc-config  `pfc`: prio_pfc;
 *   3 app-config  `app`: the ethtype_prio entries for 0x8906;
 *   4 pfc-oper    `pfc` read again: the same IEEE object;
 *   5 app-oper    `app` read again: the same IEEE object.
 * Steps 4 and 5 re-read rather than reuse 2 and 3 so that each step reports
 * what the kernel said at that step, as fcoemon's sequence does.
 */

/** What a command answered (a subset of ExecResult, so tests can build one literally). */
export interface ToolAnswer {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

/**
 * Longest answer parsed. The biggest real answer is lldptool's APP list with
 * every entry (lldpad's app_buf is 2 KiB) or `dcb -j app` with a full DSCP
 * table (64 entries, ~1 KiB); 64 KiB is far above both and keeps a runaway
 * tool from costing a JSON.parse of megabytes.
 */
export const MAX_ANSWER_CHARS = 64 * 1024;

/** A failure message is one line of at most this many characters (it goes into logs and `sanhook status`). */
export const MAX_MESSAGE_CHARS = 200;

/** The ethertype of FCoE (IEEE 802.1Qbb / FC-BB-5), as the kernel's APP table holds it. */
export const FCOE_ETHERTYPE = 0x8906;

/** Priorities are 0-7 (IEEE_8021QAZ_MAX_TCS = 8). */
export const MAX_PRIORITY = 7;

export const DCB = 'dcb';

/** One line, control characters made visible as spaces, at most MAX_MESSAGE_CHARS. */
export function oneLine(text: string): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length <= MAX_MESSAGE_CHARS ? flat : `${flat.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
}

function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
}

/**
 * What is wrong with an answer before its format is looked at: too large, or
 * a non-zero exit (message: the tool's first line, stderr first). Undefined
 * when the answer is fit to parse.
 */
export function answerProblem(tool: string, answer: ToolAnswer): string | undefined {
  if (answer.stdout.length > MAX_ANSWER_CHARS || answer.stderr.length > MAX_ANSWER_CHARS) {
    return oneLine(`${tool}: answer too large (${Math.max(answer.stdout.length, answer.stderr.length)} characters; at most ${MAX_ANSWER_CHARS} expected)`);
  }
  if (answer.exitCode !== 0) {
    const said = firstLine(answer.stderr) || firstLine(answer.stdout);
    return oneLine(`${tool}: ${said || 'no message'} (exit ${answer.exitCode})`);
  }
  return undefined;
}

const fail = (message: string): { ok: false; message: string } => ({ ok: false, message: oneLine(message) });

export function dcbPfcArgv(ifname: string): string[] {
  return ['-j', 'pfc', 'show', 'dev', ifname];
}
export function dcbAppArgv(ifname: string): string[] {
  return ['-j', 'app', 'show', 'dev', ifname];
}
export function dcbDcbxArgv(ifname: string): string[] {
  return ['-j', 'dcbx', 'show', 'dev', ifname];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The single JSON object of a `dcb -j` answer. */
function jsonObject(what: string, answer: ToolAnswer): Parsed<Record<string, unknown>> {
  const problem = answerProblem(DCB, answer);
  if (problem) return fail(problem);
  const text = answer.stdout.trim();
  if (text === '') return fail(`${what}: dcb printed no JSON`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail(`${what}: dcb's answer is not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!isRecord(value)) return fail(`${what}: dcb's answer is not a JSON object`);
  return { ok: true, value };
}

const DCBX_FLAGS = ['host', 'lld_managed', 'cee', 'ieee', 'static'] as const;
export type DcbxFlag = (typeof DCBX_FLAGS)[number];

/** `dcb -j dcbx show`: the DCB_CAP_DCBX_* flags that are set. */
export function parseDcbx(answer: ToolAnswer): Parsed<ReadonlySet<DcbxFlag>> {
  const json = jsonObject('dcbx', answer);
  if (!json.ok) return json;
  const flags = new Set<DcbxFlag>();
  for (const [key, value] of Object.entries(json.value)) {
    if (value !== true) return fail(`dcbx: "${key}" is ${JSON.stringify(value)?.slice(0, 40)}, expected true`);
    if ((DCBX_FLAGS as readonly string[]).includes(key)) flags.add(key as DcbxFlag);
  }
  return { ok: true, value: flags };
}

/** `dcb -j pfc show`: the priorities whose prio_pfc is on, ascending. */
export function parseDcbPfc(answer: ToolAnswer): Parsed<number[]> {
  const json = jsonObject('pfc', answer);
  if (!json.ok) return json;
  const prioPfc = json.value.prio_pfc;
  if (!Array.isArray(prioPfc) || prioPfc.length !== MAX_PRIORITY + 1 || !prioPfc.every((v) => typeof v === 'boolean')) {
    return fail(`pfc: prio_pfc is not ${MAX_PRIORITY + 1} booleans (got ${JSON.stringify(prioPfc)?.slice(0, 60) ?? 'nothing'})`);
  }
  return { ok: true, value: prioPfc.flatMap((on, prio) => (on ? [prio] : [])) };
}

/**
 * `dcb -j app show`: the priorities of the FCoE ethertype entries, in the
 * kernel's order, without repeats (the kernel may hold one per priority).
 * Both the 2-element and the 3-element entry forms are read; every entry is
 * checked, not only FCoE's, since a malformed table says the format is not
 * the one this parser knows.
 */
export function parseDcbApp(answer: ToolAnswer): Parsed<number[]> {
  const json = jsonObject('app', answer);
  if (!json.ok) return json;
  const entries = json.value.ethtype_prio;
  if (entries === undefined) return { ok: true, value: [] };
  if (!Array.isArray(entries)) return fail('app: ethtype_prio is not an array');
  const prios: number[] = [];
  for (const entry of entries as unknown[]) {
    const shown = JSON.stringify(entry)?.slice(0, 60) ?? String(entry);
    if (!Array.isArray(entry) || (entry.length !== 2 && !(entry.length === 3 && typeof entry[2] === 'string'))) {
      return fail(`app: ethtype_prio entry ${shown} is not [ethertype, prio] or [ethertype, prio, " "]`);
    }
    const [ethertype, prio] = entry as [unknown, unknown];
    if (!Number.isInteger(ethertype) || (ethertype as number) < 0 || (ethertype as number) > 0xffff) {
      return fail(`app: ethtype_prio entry ${shown} has no ethertype 0-65535`);
    }
    if (!Number.isInteger(prio) || (prio as number) < 0 || (prio as number) > MAX_PRIORITY) {
      return fail(`app: ethtype_prio entry ${shown}: priority out of 0-${MAX_PRIORITY}`);
    }
    if (ethertype === FCOE_ETHERTYPE && !prios.includes(prio as number)) prios.push(prio as number);
  }
  return { ok: true, value: prios };
}
