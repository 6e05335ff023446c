/**
 * SRP's transport-layer timers on one remote port, and the kernel's rules
 * for them (scsi_transport_srp.c `srp_tmo_valid`):
 *
 *   reconnect_delay   seconds between the kernel's reconnect attempts while
 *                     the port is blocked or failing fast; off: none
 *   fast_io_fail_tmo  seconds after a transport error until queued and new
 *                     I/O fails (DID_TRANSPORT_FAILFAST) instead of waiting;
 *                     off: I/O waits until the port is back or deleted
 *   dev_loss_tmo      seconds after a transport error until the kernel
 *                     deletes the port and its SCSI host; off: never
 *
 * Each sysfs write is checked against the other two values as they are at
 * that moment, so going from one valid triple to another may need a
 * particular order (lower fast_io_fail_tmo before dev_loss_tmo, ...).
 *
 * Contract: pure. `policyProblem()` is srp_tmo_valid as a sentence (undefined:
 * valid); `timerWrites()` gives the writes from the current triple to the
 * wanted one in an order every step of which the kernel accepts.
 */
import { invalid } from '../../core/validate.js';

export type Tmo = number | 'off';

export interface TimerPolicy {
  readonly reconnectDelay: Tmo;
  readonly fastIoFail: Tmo;
  readonly devLoss: Tmo;
}

/** The sysfs attribute of each timer. */
export const TIMER_FILES = { reconnectDelay: 'reconnect_delay', fastIoFail: 'fast_io_fail_tmo', devLoss: 'dev_loss_tmo' } as const satisfies Record<keyof TimerPolicy, string>;
export type TimerField = keyof typeof TIMER_FILES;
const FIELDS = Object.keys(TIMER_FILES) as TimerField[];

/** SCSI_DEVICE_BLOCK_MAX_TIMEOUT: the longest the SCSI core keeps a device blocked (include/scsi/scsi_device.h). */
export const BLOCK_MAX_SECONDS = 600;
/** The kernel reads each value with kstrtoint: an int. */
const TMO_MAX = 2_147_483_647;

/** A timer value as sanhook's config and sysfs spell it: whole seconds, or `off`. */
export function tmo(value: string, option: string): Tmo {
  if (value === 'off') return 'off';
  if (!/^[0-9]{1,10}$/.test(value) || Number(value) > TMO_MAX) invalid(option, value, 'must be whole seconds or off');
  return Number(value);
}

export function showTmo(value: Tmo): string {
  return value === 'off' ? 'off' : String(value);
}

const on = (value: Tmo): value is number => value !== 'off';

/** srp_tmo_valid(), as the reason a triple is refused and the setting most to blame; undefined when the kernel accepts it. */
export function policyFault(p: TimerPolicy): { readonly field: TimerField; readonly problem: string } | undefined {
  const fault = (field: TimerField, problem: string) => ({ field, problem });
  if (!on(p.reconnectDelay) && !on(p.fastIoFail) && !on(p.devLoss)) return fault('reconnectDelay', 'reconnect-delay, fast-io-fail and dev-loss may not all be off (nothing would ever fail the I/O or end the wait)');
  if (p.reconnectDelay === 0) return fault('reconnectDelay', 'reconnect-delay may not be 0 (off disables reconnecting)');
  if (on(p.fastIoFail) && p.fastIoFail > BLOCK_MAX_SECONDS) return fault('fastIoFail', `fast-io-fail must be at most ${BLOCK_MAX_SECONDS} seconds (the SCSI core's longest block)`);
  if (!on(p.fastIoFail) && on(p.devLoss) && p.devLoss > BLOCK_MAX_SECONDS) return fault('devLoss', `dev-loss must be at most ${BLOCK_MAX_SECONDS} seconds when fast-io-fail is off (I/O would stay blocked longer than the SCSI core allows)`);
  if (on(p.fastIoFail) && on(p.devLoss) && p.fastIoFail >= p.devLoss) return fault('fastIoFail', 'fast-io-fail must be less than dev-loss (I/O must fail fast before the port is deleted)');
  return undefined;
}

/** srp_tmo_valid(), as the reason a triple is refused; undefined when the kernel accepts it. */
export function policyProblem(p: TimerPolicy): string | undefined {
  return policyFault(p)?.problem;
}

export interface TimerWrite {
  readonly field: TimerField;
  readonly file: string;
  readonly value: string;
}

/** Values a field may pass through on the way: never reconnect_delay's (off → on queues a reconnect). */
function stepValues(field: TimerField, current: TimerPolicy, wanted: TimerPolicy): Tmo[] {
  const values: Tmo[] = [current[field], wanted[field]];
  if (field === 'fastIoFail') {
    // below either dev_loss, so fast_io_fail < dev_loss holds on the way up or down
    for (const devLoss of [current.devLoss, wanted.devLoss]) if (on(devLoss) && devLoss >= 1) values.push(Math.min(devLoss - 1, BLOCK_MAX_SECONDS));
    values.push('off');
  }
  if (field === 'devLoss') values.push('off', BLOCK_MAX_SECONDS);
  return [...new Set(values)];
}

const same = (a: TimerPolicy, b: TimerPolicy) => FIELDS.every((field) => a[field] === b[field]);

/**
 * The writes that take a port's timers from `current` to `wanted`, only the
 * ones needed: the shortest sequence whose every step the kernel accepts,
 * trying the direct orders first (reconnect_delay, fast_io_fail_tmo,
 * dev_loss_tmo preferred) and passing fast_io_fail_tmo or dev_loss_tmo
 * through a value in between only when no direct order works (5/off/20 to
 * 5/30/3600: fast_io_fail_tmo 19, dev_loss_tmo 3600, fast_io_fail_tmo 30).
 * `problem` when the wanted triple is invalid or nothing works.
 */
export function timerWrites(current: TimerPolicy, wanted: TimerPolicy): { readonly writes: readonly TimerWrite[] } | { readonly problem: string } {
  const problem = policyProblem(wanted);
  if (problem) return { problem };
  // breadth-first over the triples reachable through accepted writes: the first path found is the shortest
  let frontier: { state: TimerPolicy; writes: TimerWrite[] }[] = [{ state: current, writes: [] }];
  const seen = new Set([describePolicy(current)]);
  for (let depth = 0; depth <= FIELDS.length + 2; depth++) {
    const done = frontier.find((node) => same(node.state, wanted));
    if (done) return { writes: done.writes };
    const next: typeof frontier = [];
    for (const node of frontier) {
      for (const field of FIELDS) {
        for (const value of stepValues(field, current, wanted)) {
          if (node.state[field] === value) continue;
          const state = { ...node.state, [field]: value };
          const id = describePolicy(state);
          if (seen.has(id) || policyProblem(state)) continue;
          seen.add(id);
          next.push({ state, writes: [...node.writes, { field, file: TIMER_FILES[field], value: showTmo(value) }] });
        }
      }
    }
    frontier = next;
  }
  return { problem: `no order of writes takes the port from ${describePolicy(current)} to ${describePolicy(wanted)} through values the kernel accepts` };
}

export function describePolicy(p: TimerPolicy): string {
  return `reconnect_delay=${showTmo(p.reconnectDelay)} fast_io_fail_tmo=${showTmo(p.fastIoFail)} dev_loss_tmo=${showTmo(p.devLoss)}`;
}
