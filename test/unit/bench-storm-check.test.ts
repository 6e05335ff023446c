/**
 * The storm benchmark's verdict (bench/lib/storm-check.mjs) on hand-made records: each
 * broken property is reported, a clean storm is not. No process runs here.
 */
import { describe, expect, it } from 'vitest';
import { checkStorm, stormGroups, udevdChildrenMax, type MarkerRename, type NvmeCall, type StormEvent } from '../../bench/lib/storm-check.mjs';

const addressOf = (k: number) => `tcp_10.0.0.${k + 1}_8009`;
const markerOf = (k: number) => `nvmf-disc:tcp:10.0.0.${k + 1}:8009:none:none#connect`;
const HOLDER = 100;

/** One key, two events fired at 0 and 10, both markers written, the holder takes twice and discovers after each take. */
function clean() {
  const events: StormEvent[] = [
    { key: 0, pid: HOLDER, firedAt: 0, exitCode: 0, signal: null },
    { key: 0, pid: 101, firedAt: 10, exitCode: 0, signal: null },
  ];
  const renames: MarkerRename[] = [
    { pid: HOLDER, from: `${markerOf(0)}.${HOLDER}.x.tmp`, to: markerOf(0), before: 50, after: 51, ok: true },
    { pid: HOLDER, from: markerOf(0), to: `${markerOf(0)}.taken.${HOLDER}`, before: 52, after: 53, ok: true },
    { pid: 101, from: `${markerOf(0)}.101.y.tmp`, to: markerOf(0), before: 60, after: 61, ok: true },
    { pid: HOLDER, from: markerOf(0), to: `${markerOf(0)}.taken.${HOLDER}`, before: 80, after: 81, ok: true },
  ];
  const discover = (start: number, end: number): NvmeCall => ({ argv: ['discover', '--device', 'nvme0'], pid: 900 + start, ppid: HOLDER, start, end, exit: 0, overlap: false, address: addressOf(0) });
  const calls: NvmeCall[] = [discover(55, 70), discover(82, 90)];
  return { events, renames, calls };
}

const run = (input: ReturnType<typeof clean>, maxExtraRuns = 2) => checkStorm({ ...input, keyCount: 1, addressOf, markerOf, maxExtraRuns });

describe('checkStorm', () => {
  it('a clean storm: nothing lost, its runs and settle time', () => {
    const verdict = run(clean());
    expect(verdict.problems).toEqual([]);
    expect(verdict).toMatchObject({ lost: 0, maxRuns: 2, actions: 2, runsDistribution: { 2: 1 }, settleMs: 80 });
  });

  const cases: [string, (s: ReturnType<typeof clean>) => void, RegExp][] = [
    ['the last marker write after the last take (lost)', (s) => void s.renames.push({ pid: 102, from: 'a.tmp', to: markerOf(0), before: 95, after: 96, ok: true }), /lost event: 1[\s\S]*began .* after the last take/],
    ['no discovery after the last take (lost)', (s) => void s.calls.pop(), /lost event: 1[\s\S]*no successful discovery by pid 100/],
    ['the last discovery failed (lost, and a failed call)', (s) => void (s.calls[1] = { ...s.calls[1]!, exit: 1 }), /nvme calls that failed: 1[\s\S]*lost event/],
    ['no discovery after the last event was fired (lost)', (s) => void (s.events[1] = { ...s.events[1]!, firedAt: 85 }), /no discovery started after its last event was fired/],
    ['a marker write missing', (s) => void s.renames.splice(2, 1), /1 marker writes recorded for 2 events/],
    ['discoveries overlapping', (s) => void (s.calls[1] = { ...s.calls[1]!, start: 65 }), /overlapped: 1/],
    ['the fake flagged an overlap', (s) => void (s.calls[0] = { ...s.calls[0]!, overlap: true }), /overlapped: 1[\s\S]*1 flagged by the fake/],
    ['a hook that did not exit 0', (s) => void (s.events[1] = { ...s.events[1]!, exitCode: 1, stderr: 'sanhook: boom\n' }), /did not exit 0: 1[\s\S]*pid 101: exit 1 sanhook: boom/],
    ['a discovery of an unknown address', (s) => void s.calls.push({ ...s.calls[1]!, start: 200, end: 210, address: 'tcp_1.2.3.4_8009' }), /no key has: 1/],
  ];
  it.each(cases)('%s is reported', (_name, breakIt, message) => {
    const storm = clean();
    breakIt(storm);
    const verdict = run(storm);
    expect(verdict.problems.join('\n')).toMatch(message);
  });

  it('more runs than 1 + maxExtraRuns is reported; an infinite bound (stream) is not', () => {
    expect(run(clean(), 0).problems.join('\n')).toMatch(/more than 1 \+ 0 discoveries: 1[\s\S]*key 0: 2 discoveries for 2 events/);
    expect(run(clean(), Number.POSITIVE_INFINITY).problems).toEqual([]);
  });
});

describe('stormGroups', () => {
  const seeded = () => {
    let x = 7;
    return () => ((x = (x * 48271) % 2147483647) / 2147483647);
  };
  it('bursts: one group per key holding all its events; every event once', () => {
    const groups = stormGroups(2000, 100, 'bursts', seeded());
    expect(groups).toHaveLength(100);
    expect(groups.every((g) => g.length === 20 && g.every((k) => k === g[0]))).toBe(true);
    expect(new Set(groups.map((g) => g[0])).size).toBe(100);
  });
  it('stream: one event per group, each key 20 times, shuffled', () => {
    const keys = stormGroups(2000, 100, 'stream', seeded()).map((g) => { expect(g).toHaveLength(1); return g[0]!; });
    expect(keys).toHaveLength(2000);
    for (let k = 0; k < 100; k += 1) expect(keys.filter((x) => x === k)).toHaveLength(20);
    expect(keys.slice(0, 20).every((k) => k === keys[0])).toBe(false);
  });
  it('uneven counts: the first keys get one more', () => {
    expect(stormGroups(7, 3, 'bursts', () => 0).map((g) => g.length).sort()).toEqual([2, 2, 3]);
  });
});

describe('udevdChildrenMax (systemd udev-config.c)', () => {
  const GiB = 1024 ** 3;
  it.each([
    [2, 23 * GiB, 20],
    [64, 512 * GiB, 144],
    [8, 1 * GiB, 10],
    [2, 512 * 1024 * 1024, 10],
    [2048, 4096 * GiB, 2048],
  ])('%i cpus, %d bytes -> %i', (cpus, mem, expected) => {
    expect(udevdChildrenMax(cpus, mem)).toBe(expected);
  });
});
