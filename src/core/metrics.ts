/**
 * Metrics for fleets, the pure part (docs/metrics.md): fold hook-run lines
 * (core/hook-log.ts) into durable totals, bound the per-key state, and render
 * the totals and timerd's table in the Prometheus text exposition format
 * (version 0.0.4, what node_exporter's textfile collector reads).
 *
 * Contract: no I/O. `foldLines()` takes bytes and returns how many it
 * consumed (whole lines only, so a line still being written is read next
 * time); every line is either counted once or counted as malformed.
 * `pruneKeys()` keeps at most `maxKeys` keys, the most recently seen, and
 * drops keys not seen for `retentionMs`, counting what it drops.
 * `renderMetrics()` is deterministic (sorted), gives every metric HELP and
 * TYPE, escapes label values, and names fabrics and hooks only as the
 * `Vocabulary` (the fabric registry) gives them: every label set is bounded.
 */
import { HOOK_OUTCOMES, type HookOutcome } from './hook-log.js';

/** What the renderer and the fold know about fabrics: built from the registry (commands/metrics.ts). */
export interface Vocabulary {
  /** The fabric owning a key (by its kind), or undefined for a key no fabric owns. */
  fabricOfKey(key: string): string | undefined;
  /** Every timer hook: the fabric declaring it and whether timerd runs it for attempts or at loss. */
  readonly timerHooks: readonly { readonly fabric: string; readonly hook: string; readonly role: 'reconnect' | 'loss' }[];
}

export interface KeyState {
  readonly fabric: string;
  /** Last round on the key (any outcome), Unix ms: what keeps the key in the bound. */
  readonly seenMs: number;
  /** Last round on the key that ended ok, Unix ms. */
  readonly okMs?: number;
}

export interface MetricsState {
  readonly version: 1;
  /** Round counts by `fabric hook outcome started` (started: timer | event). */
  readonly runs: Readonly<Record<string, number>>;
  readonly keys: Readonly<Record<string, KeyState>>;
  /** Lines that were not a valid record (a cut line, an unknown key kind). */
  readonly malformed: number;
  /** Keys dropped from the per-key state (retention or the cap). */
  readonly evicted: number;
  /** Folds that found the log at its size cap: hooks may have skipped lines. */
  readonly overflows: number;
  /** The batch being folded: its file name in the run dir and the bytes of it already counted. */
  readonly batch?: { readonly file: string; readonly offset: number };
}

export const EMPTY_STATE: MetricsState = { version: 1, runs: {}, keys: {}, malformed: 0, evicted: 0, overflows: 0 };

export interface KeyLimits {
  readonly maxKeys: number;
  readonly retentionMs: number;
}

/** Hook names are sanhook's verbs (`srp-reconnect`); anything else in the log is malformed. */
const HOOK_NAME = /^[a-z][a-z0-9-]{0,31}$/;
/** More distinct hook names than sanhook has verbs by far: a guard on the label set, not a limit anyone meets. */
export const MAX_HOOK_NAMES = 64;
/** Keys are printable and no longer than a line may be (core/hook-log.ts). */
const KEY_SHAPE = /^[\x21-\x7e]{3,1024}$/;
const NEWLINE = 0x0a;

/** The started label: timerd ran the hook (an attempt or a loss event) or an event / a person did. */
export type Started = 'timer' | 'event';

function runKey(fabric: string, hook: string, outcome: HookOutcome, started: Started): string {
  return `${fabric} ${hook} ${outcome} ${started}`;
}

export function parseRunKey(text: string): { fabric: string; hook: string; outcome: HookOutcome; started: Started } {
  const [fabric, hook, outcome, started] = text.split(' ') as [string, string, HookOutcome, Started];
  return { fabric, hook, outcome, started };
}

interface ParsedRecord {
  readonly hook: string;
  readonly key: string;
  readonly fabric: string;
  readonly outcome: HookOutcome;
  readonly at: number;
  readonly timer: boolean;
}

/** One log line as a record, or undefined if it is not one. */
export function parseRecord(line: string, vocabulary: Vocabulary): ParsedRecord | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (r.v !== 1 || typeof r.hook !== 'string' || !HOOK_NAME.test(r.hook)) return undefined;
  if (typeof r.key !== 'string' || !KEY_SHAPE.test(r.key)) return undefined;
  if (typeof r.outcome !== 'string' || !(HOOK_OUTCOMES as readonly string[]).includes(r.outcome)) return undefined;
  if (typeof r.at !== 'number' || !Number.isFinite(r.at) || r.at <= 0 || typeof r.timer !== 'boolean') return undefined;
  const fabric = vocabulary.fabricOfKey(r.key);
  if (fabric === undefined) return undefined;
  return { hook: r.hook, key: r.key, fabric, outcome: r.outcome as HookOutcome, at: r.at, timer: r.timer };
}

/** The whole lines of `bytes` (up to its last newline) and how many bytes they take. */
export function wholeLines(bytes: Uint8Array): { lines: string[]; consumed: number } {
  const end = bytes.lastIndexOf(NEWLINE);
  if (end < 0) return { lines: [], consumed: 0 };
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('utf8');
  return { lines: text.split('\n').filter((line) => line !== ''), consumed: end + 1 };
}

/** Counts each whole line of `bytes` once; returns the new state and the bytes consumed. */
export function foldLines(state: MetricsState, bytes: Uint8Array, vocabulary: Vocabulary): { state: MetricsState; consumed: number; records: number } {
  const { lines, consumed } = wholeLines(bytes);
  const runs: Record<string, number> = { ...state.runs };
  const keys: Record<string, KeyState> = { ...state.keys };
  const hooks = new Set(Object.keys(runs).map((k) => parseRunKey(k).hook));
  let malformed = state.malformed;
  let records = 0;
  for (const line of lines) {
    const record = parseRecord(line, vocabulary);
    if (!record || (!hooks.has(record.hook) && hooks.size >= MAX_HOOK_NAMES)) {
      malformed += 1;
      continue;
    }
    hooks.add(record.hook);
    records += 1;
    const which = runKey(record.fabric, record.hook, record.outcome, record.timer ? 'timer' : 'event');
    runs[which] = (runs[which] ?? 0) + 1;
    const before = keys[record.key];
    const okMs = record.outcome === 'ok' ? Math.max(record.at, before?.okMs ?? 0) : before?.okMs;
    keys[record.key] = { fabric: record.fabric, seenMs: Math.max(record.at, before?.seenMs ?? 0), ...(okMs !== undefined ? { okMs } : {}) };
  }
  return { state: { ...state, runs, keys, malformed }, consumed, records };
}

/** Counts what is left of a batch that will never be read again (a line cut short) as malformed. */
export function countLeftover(state: MetricsState, leftoverBytes: number): MetricsState {
  return leftoverBytes > 0 ? { ...state, malformed: state.malformed + 1 } : state;
}

/** Drops keys not seen within the retention, then the least recently seen beyond the cap. */
export function pruneKeys(state: MetricsState, nowMs: number, limits: KeyLimits): MetricsState {
  const kept = Object.entries(state.keys)
    .filter(([, k]) => nowMs - k.seenMs <= limits.retentionMs)
    .sort(([ka, a], [kb, b]) => b.seenMs - a.seenMs || (ka < kb ? -1 : 1))
    .slice(0, limits.maxKeys);
  const dropped = Object.keys(state.keys).length - kept.length;
  if (dropped === 0) return state;
  return { ...state, keys: Object.fromEntries(kept.sort(([a], [b]) => (a < b ? -1 : 1))), evicted: state.evicted + dropped };
}

// ------------------------------------------------------------------ render ---

/** An armed timer as timerd lists it (only what the gauge needs). */
export interface ArmedTimer {
  readonly key: string;
  readonly hook: string;
}

/** A label value in the exposition format: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes only backslash and newline. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  readonly samples: readonly { readonly labels: Labels; readonly value: number }[];
}

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([label, v]) => `${label}="${escapeLabelValue(v)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`;
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(3);
}

function labelOrder(a: Labels, b: Labels): number {
  const x = JSON.stringify(Object.values(a));
  const y = JSON.stringify(Object.values(b));
  return x < y ? -1 : x > y ? 1 : 0;
}

function renderFamily(family: Family): string {
  const lines = [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`];
  for (const s of [...family.samples].sort((a, b) => labelOrder(a.labels, b.labels))) lines.push(sample(family.name, s.labels, s.value));
  return lines.join('\n');
}

/** Adds `value` to the sample with these labels. */
function add(samples: Map<string, { labels: Labels; value: number }>, labels: Labels, value: number): void {
  const id = JSON.stringify(labels);
  const at = samples.get(id);
  samples.set(id, { labels, value: (at?.value ?? 0) + value });
}

export interface RenderInput {
  readonly state: MetricsState;
  /** timerd's armed timers, or undefined when timerd did not answer. */
  readonly timers: readonly ArmedTimer[] | undefined;
  readonly vocabulary: Vocabulary;
}

/** The textfile: every metric of docs/metrics.md, in the exposition format, ending with a newline. */
export function renderMetrics(input: RenderInput): string {
  const { state, timers, vocabulary } = input;
  const roleOf = new Map(vocabulary.timerHooks.map((t) => [t.hook, t]));
  const families: Family[] = [];

  families.push({ name: 'sanhook_timerd_up', type: 'gauge', help: '1 when timerd answered with its table of timers, 0 when it did not (then sanhook_timers_armed is absent).', samples: [{ labels: {}, value: timers ? 1 : 0 }] });

  if (timers) {
    const armed = new Map<string, { labels: Labels; value: number }>();
    for (const t of vocabulary.timerHooks) if (t.role === 'reconnect') add(armed, { fabric: t.fabric, hook: t.hook }, 0);
    for (const timer of timers) {
      const fabric = vocabulary.fabricOfKey(timer.key);
      const declared = roleOf.get(timer.hook);
      // timerd validates hooks against the same table; anything else is not a label value we emit.
      if (fabric !== undefined && declared) add(armed, { fabric, hook: timer.hook }, 1);
    }
    families.push({ name: 'sanhook_timers_armed', type: 'gauge', help: 'Timers timerd holds (endpoints it is bringing back), by fabric and the hook it runs for each attempt.', samples: [...armed.values()] });
  }

  const runs = new Map<string, { labels: Labels; value: number }>();
  const failures = new Map<string, { labels: Labels; value: number }>();
  const attempts = new Map<string, { labels: Labels; value: number }>();
  const giveUps = new Map<string, { labels: Labels; value: number }>();
  for (const t of vocabulary.timerHooks) add(t.role === 'reconnect' ? attempts : giveUps, { fabric: t.fabric, hook: t.hook }, 0);
  for (const [which, count] of Object.entries(state.runs)) {
    const { fabric, hook, outcome, started } = parseRunKey(which);
    add(runs, { fabric, hook, outcome }, count);
    if (outcome === 'failed' || outcome === 'error') add(failures, { fabric, hook, outcome }, count);
    const declared = roleOf.get(hook);
    if (started === 'timer' && declared && declared.fabric === fabric) add(declared.role === 'reconnect' ? attempts : giveUps, { fabric, hook }, count);
  }
  families.push({ name: 'sanhook_hook_runs_total', type: 'counter', help: 'Hook rounds on a key, by fabric, hook and outcome (ok, failed, queued: handed to the running lock holder, error: stopped on an error).', samples: [...runs.values()] });
  families.push({ name: 'sanhook_hook_failures_total', type: 'counter', help: 'Hook rounds that failed (an action failed) or stopped on an error (the host lacks something), by fabric, hook and outcome.', samples: [...failures.values()] });
  families.push({ name: 'sanhook_reconnect_attempts_total', type: 'counter', help: "Reconnect attempts: runs of a fabric's reconnect hook started by timerd, by fabric and hook.", samples: [...attempts.values()] });
  families.push({ name: 'sanhook_give_ups_total', type: 'counter', help: "Give-ups: runs of a fabric's loss hook started by timerd when a timer's loss condition was reached, by fabric and hook.", samples: [...giveUps.values()] });

  const lastOk = Object.entries(state.keys)
    .filter(([, k]) => k.okMs !== undefined)
    .map(([key, k]) => ({ labels: { fabric: k.fabric, key }, value: k.okMs! / 1000 }));
  families.push({ name: 'sanhook_last_success_timestamp_seconds', type: 'gauge', help: 'When a hook round on the key last ended ok (Unix seconds); keys are bounded by metrics.max-keys and metrics.key-retention-days.', samples: lastOk });

  families.push({ name: 'sanhook_metrics_keys', type: 'gauge', help: 'Keys the per-key state holds (at most metrics.max-keys).', samples: [{ labels: {}, value: Object.keys(state.keys).length }] });
  families.push({ name: 'sanhook_metrics_keys_evicted_total', type: 'counter', help: 'Keys dropped from the per-key state: not seen for metrics.key-retention-days, or least recently seen beyond metrics.max-keys.', samples: [{ labels: {}, value: state.evicted }] });
  families.push({ name: 'sanhook_metrics_malformed_records_total', type: 'counter', help: 'Hook-run log lines that were not a valid record (not counted anywhere else).', samples: [{ labels: {}, value: state.malformed }] });
  families.push({ name: 'sanhook_metrics_log_overflows_total', type: 'counter', help: 'Folds that found the hook-run log at its size cap: hooks skipped lines (sanhook-metrics.timer not running often enough).', samples: [{ labels: {}, value: state.overflows }] });

  return `${families.map(renderFamily).join('\n')}\n`;
}
