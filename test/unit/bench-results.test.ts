/**
 * `npm run bench`'s pure parts (bench/lib/results.mjs, bench/lib/peer.mjs): the ratio,
 * each benchmark's --json object -> figures, the table, and peer-nvme-cli's reading of
 * a guest console. No benchmark runs here.
 *
 * test/fixtures/bench/peer-console-sample.txt is NOT captured from a VM boot (the
 * peer bench boots QEMU twice; the lead runs it): it is written in the line format
 * bench/peer-nvme-cli.guest.sh prints (`@@bench TOOL METRIC VALUE`, kernel lines in
 * between), with figures from the run in docs/systemd.md.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { peerRows, readBenchLine, readConsole } from '../../bench/lib/peer.mjs';
import { FIGURES, formatTable, formatValue, ratio } from '../../bench/lib/results.mjs';
import { REPO } from '../support/sandbox.mjs';

describe('ratio', () => {
  it.each([
    [12, 10, 1.2],
    [5, 0, undefined],
    [5, -1, undefined],
    ['never', 3, undefined],
    [3, '2/6', undefined],
    [Number.NaN, 2, undefined],
    [3, undefined, undefined],
  ])('ratio(%s, %s) = %s', (value, baseline, expected) => {
    expect(ratio(value, baseline)).toBe(expected);
  });
});

describe('formatValue', () => {
  it.each([
    [10000, '10,000'],
    [123.456, '123'],
    [12.345, '12.3'],
    [1.2345, '1.23'],
    ['6/6', '6/6'],
    [undefined, '-'],
  ])('%s -> %s', (value, text) => {
    expect(formatValue(value)).toBe(text);
  });
});

/** Trimmed --json objects in each benchmark's real shape (the fields the figures read). */
const SAMPLES = {
  'hook-start': {
    target: 1.3,
    results: [
      { command: 'node --jitless --no-expose-wasm -e 0', p50: 40 },
      { command: 'sanhook net add', p50: 44 },
      { command: 'sanhook nvme change', p50: 60 },
    ],
  },
  'udev-latency': { target_action_p50_ms: 80, target_met: true, paths: { sanhook: { action: { p50: 70 } }, true: { action: { p50: 5 } }, node: { action: { p50: 50 } } } },
  fcoe: { target: "shipped add p50 <= 2x /bin/true's", target_met: false, configurations: { shipped: { add: { p50: 9 } }, true: { add: { p50: 4 } } } },
  timerd: {
    rows: [
      { metric: 'durable arms/s (32 concurrent clients, 10,000 new timers)', value: 2500, unit: '/s', target: '>= 1000', pass: true },
      { metric: 'durable arms/s (1 sequential client, 2000 re-arms)', value: 900, unit: '/s', target: '-', pass: null },
      { metric: 'lateness p99, same (max 12; 2.0x baseline)', value: 8, unit: 'ms', target: '<= 10', pass: true },
      { metric: 'timerd RSS, 10,000 timers, steady', value: 52.2, unit: 'MiB', target: '<= 60', pass: true },
    ],
    details: { lateness: { baseline: { p99: 4 } } },
  },
  storm: { events: 2000, keys: 100, shape: 'bursts', events_per_s: 10, baseline: { per_s: 40 }, settle_ms: 1500, lost: 0, max_runs_per_key: 2, runs_bound: 3 },
} as const;

describe('FIGURES: each benchmark\'s --json -> rows', () => {
  it('hook-start: one row per sanhook command against node -e 0, with the 1.3x target', () => {
    const rows = FIGURES['hook-start']!(SAMPLES['hook-start']);
    expect(rows.map((r) => [r.name, r.value, r.baseline, r.ratio, r.pass])).toEqual([
      ['hook cold start, sanhook net add, p50', 44, 40, 1.1, true],
      ['hook cold start, sanhook nvme change, p50', 60, 40, 1.5, false],
    ]);
  });

  it('udev-latency: action start against /bin/true and against bare node', () => {
    const rows = FIGURES['udev-latency']!(SAMPLES['udev-latency']);
    expect(rows.map((r) => [r.value, r.baseline, r.ratio, r.pass])).toEqual([
      [70, 5, 14, true],
      [70, 50, 1.4, undefined],
    ]);
  });

  it('fcoe: the shipped rule against /bin/true, target missed shown as missed', () => {
    expect(FIGURES.fcoe!(SAMPLES.fcoe)).toMatchObject([{ value: 9, baseline: 4, ratio: 2.25, pass: false }]);
  });

  it('timerd: only the rows with a target; lateness p99 gets the bare setTimeout baseline', () => {
    const rows = FIGURES.timerd!(SAMPLES.timerd);
    expect(rows.map((r) => [r.name, r.value, r.unit, r.baseline, r.ratio, r.target])).toEqual([
      ['timerd: durable arms/s (32 concurrent clients, 10,000 new timers)', 2500, '/s', undefined, undefined, '>= 1000'],
      ['timerd: lateness p99, same (max 12; 2.0x baseline)', 8, 'ms', 4, 2, '<= 10'],
      ['timerd RSS, 10,000 timers, steady', 52.2, 'MiB', undefined, undefined, '<= 60'],
    ]);
  });

  it('storm: events/s against bare node, settle, lost = 0, runs per key within the bound', () => {
    const rows = FIGURES.storm!(SAMPLES.storm);
    expect(rows.map((r) => [r.value, r.baseline, r.ratio, r.target, r.pass])).toEqual([
      [10, 40, 0.25, undefined, undefined],
      [1500, undefined, undefined, undefined, undefined],
      [0, undefined, undefined, '0', true],
      [2, undefined, undefined, '<= 3', true],
    ]);
    expect(FIGURES.storm!({ ...SAMPLES.storm, lost: 1, max_runs_per_key: 4 }).map((r) => r.pass)).toEqual([undefined, undefined, false, false]);
  });

  it.each(Object.keys(SAMPLES))('%s: an output without the fields it reads throws, naming the bench', (name) => {
    expect(() => FIGURES[name]!({})).toThrow(new RegExp(`^${name}: `));
  });
});

describe('peer-nvme-cli: console -> metrics -> rows -> figures', () => {
  const text = readFileSync(path.join(REPO, 'test/fixtures/bench/peer-console-sample.txt'), 'utf8');

  it('reads only @@bench lines of the booted tool (a \\r from the serial console is dropped)', () => {
    expect(readBenchLine('@@bench sanhook aen_live_s 4.61\r', 'sanhook')).toEqual({ metric: 'aen_live_s', value: '4.61' });
    expect(readBenchLine('@@bench nvme-cli aen_live_s 1.20', 'sanhook')).toBeUndefined();
    expect(readBenchLine('[    3.104512] systemd[1]: Reached target', 'sanhook')).toBeUndefined();
    expect(readBenchLine('@@bench-error sanhook no live', 'sanhook')).toBeUndefined();
    const metrics = readConsole(text, 'sanhook');
    expect(metrics.aen_live_s).toEqual(['4.61', '4.82', 'timeout']);
    expect(metrics.burst16_connected).toEqual(['16/16']);
  });

  it('builds the table and run-all\'s figures; a tool not booted shows "not run"', () => {
    const rows = peerRows({ sanhook: { metrics: readConsole(text, 'sanhook') }, 'nvme-cli': { metrics: { aen_live_s: ['1.20', '1.80'], burst6_connected: ['2/6'], burst6_last_live_s: ['none'] } } }, 3);
    expect(rows[0]).toEqual(['measure', 'nvme-cli', 'sanhook', 'ratio']);
    const byLabel = Object.fromEntries(rows.slice(1).map((r) => [r[0], r.slice(1)]));
    expect(byLabel['(a) AEN -> live p50 (3 single events)']).toEqual(['1.20 s', '4.61 s', '3.84']);
    expect(byLabel['(a) single events never live (30 s)']).toEqual(['0', '1', '-']);
    expect(byLabel['(b) burst of 6, 0.3 s apart: connected']).toEqual(['2/6', '6/6', '-']);
    expect(byLabel['(b) burst of 6: last live after first link']).toEqual(['never', '7.40 s', '-']);
    expect(byLabel['(c) mass loss: last back after the port returns']).toEqual(['never', '157.79 s', '-']);
    const figures = FIGURES['peer-nvme-cli']!({ rows });
    expect(figures.find((f) => f.name === 'peer: (a) AEN -> live p50 (3 single events)')).toMatchObject({ value: 4.61, unit: 's', baseline: 1.2, ratio: 3.84 });
    expect(figures.find((f) => f.name === 'peer: (b) burst of 6, 0.3 s apart: connected')).toMatchObject({ value: '6/6', baseline: '2/6' });
    expect(peerRows({ sanhook: { metrics: {} } }, 8)[1]).toEqual(['(a) AEN -> live p50 (8 single events)', 'not run', 'none live', '-']);
  });
});

describe('formatTable', () => {
  it('prints the machine, one row per figure with baseline and ratio, then what did not run and why', () => {
    const text = formatTable(
      { cpu: 'Intel(R) Xeon(R) Processor', cores: 2, ramGiB: 23.4, kernel: 'Linux 6.1.0', node: 'v20.20.2', date: '2026-11-30T16:00:00Z' },
      [...FIGURES.storm!(SAMPLES.storm).slice(0, 1), ...FIGURES.fcoe!(SAMPLES.fcoe)],
      [{ bench: 'peer-nvme-cli', status: 'skipped', reason: '--skip' }],
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe('machine: Intel(R) Xeon(R) Processor, 2 cores, 23.4 GiB RAM, Linux 6.1.0, node v20.20.2, 2026-11-30T16:00:00Z');
    expect(lines[2]).toMatch(/^\| benchmark \| figure +\| value \| unit \| baseline +\| ratio \| target +\|$/);
    expect(lines[4]).toMatch(/^\| storm +\| storm: 2000 AENs over 100 keys \(bursts\), events\/s to quiescence \| +10 \| \/s +\| 40 \(bare node, fired alike\) +\| 0\.25x \| - +\|$/);
    expect(lines[5]).toContain('| 2.25x | shipped add p50 <= 2x /bin/true\'s MISSED |');
    expect(lines.at(-1)).toBe('skipped peer-nvme-cli: --skip');
  });
});
