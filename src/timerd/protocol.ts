/**
 * timerd's wire protocol: newline-delimited JSON over a Unix socket.
 *
 * Requests (one JSON object per line; optional "req" is echoed back):
 *   {"op":"ping"}
 *   {"op":"list"}
 *   {"op":"arm","hook":"reconnect","params":{...},"lossHook":"give-up",
 *    "delayMs":200,"growth":"linear","lossMs":0,"lossAttempts":10,"keep":false}
 *   {"op":"disarm","key":"nvmf:...","id":7}        (id optional: only that arm)
 * Replies: {"ok":true,...} or {"ok":false,"error":{"code","message","field"?}}.
 *
 * An `arm` replaces the key's timer (a new event starts the schedule over);
 * with `"keep":true` it leaves a timer already armed for the key alone and
 * replies `kept: true` with that timer's id (a periodic recheck must not
 * restart a retry count that is running).
 *
 * Durations are integer milliseconds (`delayMs`, `lossMs`). The seconds-only
 * release's fields stay accepted, as whole seconds: `delay` for `delayMs` and
 * `lossSeconds` (-1 or 0: never) for `lossMs`; giving both forms of one is a
 * bad-field error. A parsed request holds milliseconds only.
 *
 * Contract: `parseRequest()` is pure and total: any input line gives a Request
 * or a ProtocolError with a code; nothing a client sends can throw anything else.
 */
import { UsageError } from '../core/errors.js';
import type { TimerHookTable } from '../core/fabric.js';
import { resolveHookCall } from './hooks.js';
import { GROWTHS, scheduleProblem, type Growth, type HookCall, type LossCondition, type Schedule } from './schedule.js';

/** Far above any real request (a full nvmf identity is < 1 KiB); bounds per-client memory. */
export const MAX_LINE_BYTES = 16 * 1024;
/** A day between attempts is already unusual; a year of loss timeout is the outer bound. */
export const MAX_DELAY_MS = 86_400_000;
export const MAX_LOSS_MS = 31_536_000_000;
export const MAX_LOSS_ATTEMPTS = 1_000_000;
/**
 * The shortest delay that is not 0 (off). Every attempt starts a hook process
 * (a node start: tens of ms of CPU), so a failing endpoint with a 1 ms delay
 * would keep one core busy starting hooks back to back. 100 ms is half of
 * fcoemon's 0.2 s step, the shortest schedule sanhook has to express.
 */
export const MIN_DELAY_MS = 100;

export type ErrorCode = 'bad-json' | 'line-too-long' | 'unknown-op' | 'bad-field' | 'not-found' | 'internal';

export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export interface ArmRequest {
  readonly key: string;
  readonly onReconnect: HookCall;
  readonly onLoss?: HookCall;
  readonly schedule: Schedule;
  readonly loss: LossCondition;
  /** Leave a timer already armed for the key as it is. */
  readonly keep: boolean;
}

export type Request =
  | { readonly op: 'ping'; readonly req?: string | number }
  | { readonly op: 'list'; readonly req?: string | number }
  | { readonly op: 'arm'; readonly req?: string | number; readonly arm: ArmRequest }
  | { readonly op: 'disarm'; readonly req?: string | number; readonly key: string; readonly id?: number };

const FIELDS: Record<string, readonly string[]> = {
  ping: ['op', 'req'],
  list: ['op', 'req'],
  arm: ['op', 'req', 'hook', 'params', 'lossHook', 'delayMs', 'delay', 'growth', 'lossMs', 'lossSeconds', 'lossAttempts', 'keep'],
  disarm: ['op', 'req', 'key', 'id'],
};

function badField(field: string, message: string): never {
  throw new ProtocolError('bad-field', `${field}: ${message}`, field);
}

function integerField(object: Record<string, unknown>, field: string, min: number, max: number, fallback?: number): number {
  const value = object[field];
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    return badField(field, `must be an integer ${min}..${max}`);
  }
  return value;
}

export function parseRequest(line: string, hooks: TimerHookTable): Request {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    throw new ProtocolError('bad-json', 'not a JSON object');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ProtocolError('bad-json', 'not a JSON object');
  const object = data as Record<string, unknown>;
  const op = object.op;
  if (typeof op !== 'string' || !Object.hasOwn(FIELDS, op)) {
    throw new ProtocolError('unknown-op', `unknown op ${JSON.stringify(op)?.slice(0, 40) ?? 'undefined'} (known: ${Object.keys(FIELDS).join(', ')})`, 'op');
  }
  for (const field of Object.keys(object)) {
    if (!FIELDS[op]!.includes(field)) badField(field.slice(0, 40), 'unknown field');
  }
  const reqValue = object.req;
  if (reqValue !== undefined && !((typeof reqValue === 'string' && reqValue.length <= 64) || (typeof reqValue === 'number' && Number.isFinite(reqValue)))) {
    badField('req', 'must be a string (≤ 64 chars) or a number');
  }
  const req = reqValue === undefined ? {} : { req: reqValue as string | number };
  switch (op) {
    case 'ping':
    case 'list':
      return { op, ...req };
    case 'disarm': {
      const key = object.key;
      if (typeof key !== 'string' || key.length === 0 || key.length > 1024) badField('key', 'must be a non-empty string');
      const id = object.id === undefined ? undefined : integerField(object, 'id', 1, Number.MAX_SAFE_INTEGER);
      return { op, ...req, key: key as string, ...(id !== undefined ? { id } : {}) };
    }
    case 'arm':
      return { op, ...req, arm: parseArm(object, hooks) };
  }
  throw new ProtocolError('unknown-op', 'unknown op');
}

function stringMap(value: unknown, field: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return badField(field, 'must be an object of strings');
  // No prototype: a "__proto__" key stays a key (and is rejected as an unknown option)
  // instead of being swallowed by the assignment below.
  const result = Object.create(null) as Record<string, string>;
  for (const [name, item] of Object.entries(value)) {
    if (typeof item !== 'string') badField(`${field}.${name.slice(0, 40)}`, 'must be a string');
    result[name] = item as string;
  }
  return result;
}

/** `delayMs`, or `delay` in whole seconds (older clients): exactly one of them. */
function delayField(object: Record<string, unknown>): number {
  if (object.delayMs === undefined) {
    if (object.delay === undefined) badField('delayMs', 'missing: milliseconds between attempts (or delay, in seconds)');
    return integerField(object, 'delay', 0, MAX_DELAY_MS / 1000) * 1000;
  }
  if (object.delay !== undefined) badField('delay', 'give delayMs or delay (seconds), not both');
  const ms = integerField(object, 'delayMs', 0, MAX_DELAY_MS);
  if (ms !== 0 && ms < MIN_DELAY_MS) badField('delayMs', `must be 0 (no attempts) or ${MIN_DELAY_MS}..${MAX_DELAY_MS}`);
  return ms;
}

/** `lossMs`, or `lossSeconds` in whole seconds (older clients), or neither (never); -1 and 0 both mean never, kept as 0. */
function lossField(object: Record<string, unknown>): number {
  if (object.lossMs === undefined) return Math.max(0, integerField(object, 'lossSeconds', -1, MAX_LOSS_MS / 1000, -1) * 1000);
  if (object.lossSeconds !== undefined) badField('lossSeconds', 'give lossMs or lossSeconds, not both');
  return Math.max(0, integerField(object, 'lossMs', -1, MAX_LOSS_MS));
}

function parseArm(object: Record<string, unknown>, hooks: TimerHookTable): ArmRequest {
  if (typeof object.hook !== 'string') badField('hook', 'must be a hook name');
  const params = stringMap(object.params, 'params');
  const growth = object.growth === undefined ? 'fixed' : object.growth;
  if (typeof growth !== 'string' || !(GROWTHS as readonly string[]).includes(growth)) badField('growth', `must be one of ${GROWTHS.join(', ')}`);
  const schedule: Schedule = { delayMs: delayField(object), growth: growth as Growth };
  const loss: LossCondition = { afterMs: lossField(object), attempts: integerField(object, 'lossAttempts', 0, MAX_LOSS_ATTEMPTS, 0) };
  if (object.keep !== undefined && typeof object.keep !== 'boolean') badField('keep', 'must be true or false');
  const keep = object.keep === true;
  const problem = scheduleProblem(schedule, loss);
  if (problem) badField(object.delayMs !== undefined ? 'delayMs' : 'delay', problem);
  try {
    const reconnect = resolveHookCall(hooks, object.hook as string, params, 'reconnect', 'hook');
    let onLoss: HookCall | undefined;
    if (object.lossHook !== undefined) {
      if (typeof object.lossHook !== 'string') badField('lossHook', 'must be a hook name');
      onLoss = resolveHookCall(hooks, object.lossHook as string, params, 'loss', 'lossHook').call;
    }
    return { key: reconnect.key, onReconnect: reconnect.call, ...(onLoss ? { onLoss } : {}), schedule, loss, keep };
  } catch (error) {
    if (error instanceof UsageError) throw new ProtocolError('bad-field', error.message, error.option);
    throw error;
  }
}

export function errorReply(error: ProtocolError, req?: string | number): string {
  return `${JSON.stringify({ ok: false, ...(req !== undefined ? { req } : {}), error: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } })}\n`;
}
