/**
 * SRP's timer rules (hooks/srp/policy.ts), without processes: policyProblem
 * against every clause of the kernel's srp_tmo_valid (scsi_transport_srp.c),
 * the `tmo` validator, and timerWrites' choice of order, each step of which
 * the kernel must accept.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { BLOCK_MAX_SECONDS, describePolicy, policyProblem, showTmo, TIMER_FILES, timerWrites, tmo, type TimerPolicy, type TimerWrite, type Tmo } from '../../src/hooks/srp/policy.js';

/** A triple as reconnect_delay/fast_io_fail_tmo/dev_loss_tmo. */
const P = (reconnectDelay: Tmo, fastIoFail: Tmo, devLoss: Tmo): TimerPolicy => ({ reconnectDelay, fastIoFail, devLoss });
const show = (p: TimerPolicy) => `${showTmo(p.reconnectDelay)}/${showTmo(p.fastIoFail)}/${showTmo(p.devLoss)}`;

/**
 * srp_tmo_valid() transliterated from scsi_transport_srp.c (off is -1, as
 * srp_parse_tmo stores it; a 64-bit kernel, where `dev_loss_tmo >= LONG_MAX /
 * HZ` never holds for an int):
 *
 *   if (reconnect_delay < 0 && fast_io_fail_tmo < 0 && dev_loss_tmo < 0) return -EINVAL;
 *   if (reconnect_delay == 0) return -EINVAL;
 *   if (fast_io_fail_tmo > SCSI_DEVICE_BLOCK_MAX_TIMEOUT) return -EINVAL;
 *   if (fast_io_fail_tmo < 0 && dev_loss_tmo > SCSI_DEVICE_BLOCK_MAX_TIMEOUT) return -EINVAL;
 *   if (dev_loss_tmo >= LONG_MAX / HZ) return -EINVAL;
 *   if (fast_io_fail_tmo >= 0 && dev_loss_tmo >= 0 && fast_io_fail_tmo >= dev_loss_tmo) return -EINVAL;
 */
function kernelValid(p: TimerPolicy): boolean {
  const n = (t: Tmo) => (t === 'off' ? -1 : t);
  const [r, f, d] = [n(p.reconnectDelay), n(p.fastIoFail), n(p.devLoss)];
  if (r < 0 && f < 0 && d < 0) return false;
  if (r === 0) return false;
  if (f > 600) return false;
  if (f < 0 && d > 600) return false;
  if (f >= 0 && d >= 0 && f >= d) return false;
  return true;
}

/** Every value the kernel rules treat differently, around each boundary. */
const GRID: readonly Tmo[] = ['off', 0, 1, 2, 5, 10, 15, 30, 599, 600, 601, 3600, 2_147_483_647];

describe('policyProblem: srp_tmo_valid as a sentence', () => {
  it.each<[string, TimerPolicy, RegExp | undefined]>([
    // valid triples
    ["the kernel's defaults (ib_srp: reconnect 10, fast_io_fail 15, dev_loss 600)", P(10, 15, 600), undefined],
    ["sanhook's defaults", P(5, 5, 600), undefined],
    ['reconnect off, fail fast, never delete', P('off', 5, 'off'), undefined],
    ['fast-io-fail off with dev-loss at the limit', P(1, 'off', 600), undefined],
    ['fast-io-fail off, dev-loss off: reconnect alone keeps it bounded', P(5, 'off', 'off'), undefined],
    ['only dev-loss on', P('off', 'off', 600), undefined],
    ['fast-io-fail at the limit, dev-loss above it', P(5, 600, 601), undefined],
    ['fast-io-fail 0 (fail at once) below dev-loss 1', P(5, 0, 1), undefined],
    ['dev-loss 0 (delete at once) with fast-io-fail off', P(5, 'off', 0), undefined],
    ['dev-loss far above 600 while fast-io-fail is on', P(5, 5, 2_147_483_647), undefined],
    ['reconnect-delay as large as an int', P(2_147_483_647, 5, 600), undefined],
    // reconnect_delay == 0
    ['reconnect-delay 0', P(0, 5, 600), /^reconnect-delay may not be 0/],
    ['reconnect-delay 0 with the other two off (0 is not off)', P(0, 'off', 'off'), /^reconnect-delay may not be 0/],
    // all three off
    ['all three off', P('off', 'off', 'off'), /may not all be off/],
    // fast_io_fail_tmo > SCSI_DEVICE_BLOCK_MAX_TIMEOUT
    ['fast-io-fail 601', P(5, 601, 'off'), /^fast-io-fail must be at most 600 seconds/],
    ['fast-io-fail 601 even below a larger dev-loss', P(5, 601, 3600), /^fast-io-fail must be at most 600 seconds/],
    ['fast-io-fail 601 with reconnect off', P('off', 601, 'off'), /^fast-io-fail must be at most 600 seconds/],
    // fast_io_fail_tmo < 0 && dev_loss_tmo > SCSI_DEVICE_BLOCK_MAX_TIMEOUT
    ['fast-io-fail off, dev-loss 601', P(5, 'off', 601), /^dev-loss must be at most 600 seconds when fast-io-fail is off/],
    ['fast-io-fail off, dev-loss 3600, reconnect off', P('off', 'off', 3600), /^dev-loss must be at most 600 seconds when fast-io-fail is off/],
    // fast_io_fail_tmo >= dev_loss_tmo, both on
    ['fast-io-fail equal to dev-loss', P(5, 15, 15), /^fast-io-fail must be less than dev-loss/],
    ['fast-io-fail above dev-loss', P(10, 30, 20), /^fast-io-fail must be less than dev-loss/],
    ['dev-loss 0 with fast-io-fail 0', P(5, 0, 0), /^fast-io-fail must be less than dev-loss/],
    ['dev-loss 0 with fast-io-fail on', P(5, 5, 0), /^fast-io-fail must be less than dev-loss/],
  ])('%s', (_name, policy, problem) => {
    const got = policyProblem(policy);
    if (problem === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(problem);
    expect(got === undefined).toBe(kernelValid(policy));
  });

  it('agrees with srp_tmo_valid on every triple of the boundary grid', () => {
    const disagree: string[] = [];
    for (const r of GRID) for (const f of GRID) for (const d of GRID) {
      const p = P(r, f, d);
      if ((policyProblem(p) === undefined) !== kernelValid(p)) disagree.push(show(p));
    }
    expect(disagree).toEqual([]);
  });

  it('the limit is SCSI_DEVICE_BLOCK_MAX_TIMEOUT, 600 s', () => {
    expect(BLOCK_MAX_SECONDS).toBe(600);
  });
});

describe('tmo: whole seconds or off, as sysfs shows them', () => {
  it.each<[string, Tmo]>([
    ['off', 'off'],
    ['0', 0],
    ['5', 5],
    ['600', 600],
    ['007', 7],
    ['2147483647', 2_147_483_647],
  ])('%j → %j', (raw, value) => {
    expect(tmo(raw, 'srp.dev-loss')).toBe(value);
    expect(showTmo(value)).toBe(raw === '007' ? '7' : raw);
  });

  it.each([
    [''],
    ['-1'],
    ['+5'],
    ['0x10'],
    ['1.5'],
    ['1e3'],
    [' 5'],
    ['5 '],
    ['5\n'],
    ['OFF'],
    ['Off'],
    ['of'],
    ['none'],
    ['2147483648'],
    ['12345678901'],
    ['9'.repeat(300)],
  ])('refuses %j, naming the option', (raw) => {
    let error: unknown;
    try {
      tmo(raw, 'srp.dev-loss');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).option).toBe('srp.dev-loss');
    expect((error as UsageError).message).toMatch(/^srp\.dev-loss: must be whole seconds or off, got "/);
  });
});

/** The triples a port goes through when the writes are done in order (the first is `current`). */
function steps(current: TimerPolicy, writes: readonly TimerWrite[]): TimerPolicy[] {
  const states = [current];
  let state = current;
  for (const w of writes) {
    state = { ...state, [w.field]: tmo(w.value, w.file) };
    states.push(state);
  }
  return states;
}

const FIELD_OF_FILE = Object.fromEntries(Object.entries(TIMER_FILES).map(([field, file]) => [file, field]));

describe('timerWrites: only the changes, in an order the kernel takes step by step', () => {
  it.each<[string, TimerPolicy, TimerPolicy, string[]]>([
    ['unchanged: nothing to write', P(5, 5, 600), P(5, 5, 600), []],
    ['unchanged with offs', P('off', 5, 'off'), P('off', 5, 'off'), []],
    ["kernel defaults → sanhook's defaults: the preferred order works", P(10, 15, 600), P(5, 5, 600), ['reconnect_delay=5', 'fast_io_fail_tmo=5']],
    ['only dev-loss changes, to off', P(5, 5, 600), P(5, 5, 'off'), ['dev_loss_tmo=off']],
    ['reconnect-delay to off while fast-io-fail is on', P(1, 5, 600), P('off', 5, 600), ['reconnect_delay=off']],
    // dev_loss 3 first would give 5/5/3 (fast-io-fail not below dev-loss)
    ['lowering both: fast_io_fail_tmo before dev_loss_tmo', P(5, 5, 600), P(5, 2, 3), ['fast_io_fail_tmo=2', 'dev_loss_tmo=3']],
    // fast_io_fail 20 first would give 5/20/10
    ['raising both: dev_loss_tmo before fast_io_fail_tmo', P(5, 5, 10), P(5, 20, 30), ['dev_loss_tmo=30', 'fast_io_fail_tmo=20']],
    // fast_io_fail off first would give 5/off/900 (dev-loss above 600 without fast-io-fail)
    ['fast-io-fail off with dev-loss coming down from above 600: dev_loss_tmo first', P(5, 5, 900), P(5, 'off', 300), ['dev_loss_tmo=300', 'fast_io_fail_tmo=off']],
    // fast-io-fail on and dev-loss above 600: fast first (5/off/900 is invalid)
    ['fast-io-fail on and dev-loss above 600: fast_io_fail_tmo first', P(5, 'off', 600), P(5, 30, 900), ['fast_io_fail_tmo=30', 'dev_loss_tmo=900']],
    // reconnect off first would give off/off/off
    ['reconnect-delay off once fast-io-fail is on, before dev-loss changes', P(5, 'off', 'off'), P('off', 5, 10), ['fast_io_fail_tmo=5', 'reconnect_delay=off', 'dev_loss_tmo=10']],
    ['all three change, dev-loss before fast-io-fail', P(10, 15, 20), P(2, 60, 120), ['reconnect_delay=2', 'dev_loss_tmo=120', 'fast_io_fail_tmo=60']],
    // Both direct orders pass through an invalid triple: 5/30/20 (fast-io-fail not below dev-loss) and
    // 5/off/3600 (dev-loss above 600 without fast-io-fail); fast_io_fail_tmo goes through 19 on the way.
    ['no direct order works: fast_io_fail_tmo through a value below dev-loss', P(5, 'off', 20), P(5, 30, 3600), ['fast_io_fail_tmo=19', 'dev_loss_tmo=3600', 'fast_io_fail_tmo=30']],
  ])('%s', (_name, current, wanted, expected) => {
    const result = timerWrites(current, wanted);
    expect('writes' in result).toBe(true);
    if (!('writes' in result)) return;
    expect(result.writes.map((w) => `${w.file}=${w.value}`)).toEqual(expected);
    for (const w of result.writes) expect(FIELD_OF_FILE[w.file]).toBe(w.field);
    const states = steps(current, result.writes);
    for (const state of states) expect(policyProblem(state), show(state)).toBeUndefined();
    expect(states.at(-1)).toEqual(wanted);
  });

  it.each<[string, TimerPolicy, TimerPolicy, RegExp]>([
    ['wanted fast-io-fail not below dev-loss', P(10, 15, 600), P(10, 30, 20), /^fast-io-fail must be less than dev-loss/],
    ['wanted fast-io-fail above 600', P(5, 'off', 600), P(5, 700, 800), /^fast-io-fail must be at most 600/],
    ['wanted reconnect-delay 0', P(5, 5, 600), P(0, 5, 600), /^reconnect-delay may not be 0/],
    ['wanted all off', P(5, 5, 600), P('off', 'off', 'off'), /may not all be off/],
    ['wanted dev-loss above 600 without fast-io-fail', P(5, 5, 600), P(5, 'off', 700), /^dev-loss must be at most 600 seconds when fast-io-fail is off/],
    ['an invalid wanted triple is a problem even when nothing changes', P(0, 5, 600), P(0, 5, 600), /^reconnect-delay may not be 0/],
  ])('%s → problem', (_name, current, wanted, problem) => {
    const result = timerWrites(current, wanted);
    expect('problem' in result ? result.problem : result).toMatch(problem);
  });

  it('over the boundary grid: every valid wanted triple is reached by a valid walk', () => {
    const values: readonly Tmo[] = ['off', 1, 5, 20, 600, 601];
    const triples = values.flatMap((r) => values.flatMap((f) => values.map((d) => P(r, f, d)))).filter((p) => kernelValid(p));
    const orders = (fields: string[]): string[][] => (fields.length <= 1 ? [fields] : fields.flatMap((f, i) => orders([...fields.slice(0, i), ...fields.slice(i + 1)]).map((rest) => [f, ...rest])));
    const wrong: string[] = [];
    for (const current of triples) {
      for (const wanted of triples) {
        const result = timerWrites(current, wanted);
        const changed = (Object.keys(TIMER_FILES) as (keyof TimerPolicy)[]).filter((k) => current[k] !== wanted[k]);
        const someOrderWorks = orders(changed).some((order) => {
          let state = current;
          return order.every((field) => kernelValid((state = { ...state, [field]: wanted[field as keyof TimerPolicy] })));
        });
        if ('writes' in result) {
          const states = steps(current, result.writes);
          const fields = result.writes.map((w) => w.field);
          // a valid walk to the wanted triple; only the changed fields, once each, whenever a direct order exists
          if (states.some((s) => !kernelValid(s)) || JSON.stringify(states.at(-1)) !== JSON.stringify(wanted) || (someOrderWorks && [...fields].sort().join() !== [...changed].sort().join())) {
            wrong.push(`${show(current)} → ${show(wanted)}: ${fields.join(',')}`);
          }
          // reconnect_delay never passes through a value in between (off → on would queue a reconnect)
          if (result.writes.filter((w) => w.field === 'reconnectDelay').some((w) => w.value !== String(wanted.reconnectDelay))) wrong.push(`${show(current)} → ${show(wanted)}: reconnect_delay in between`);
        } else if (kernelValid(wanted)) {
          wrong.push(`${show(current)} → ${show(wanted)}: problem for a valid wanted triple`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('describePolicy names the sysfs attributes', () => {
    expect(describePolicy(P(5, 'off', 600))).toBe('reconnect_delay=5 fast_io_fail_tmo=off dev_loss_tmo=600');
  });
});
