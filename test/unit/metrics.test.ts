/**
 * The pure part of `sanhook metrics` (src/core/metrics.ts): which log lines
 * count, the fold (whole lines only, each once), the bound on per-key state,
 * label escaping, and the rendered textfile as a Prometheus parser reads it.
 */
import { describe, expect, it } from 'vitest';
import { formatHookRun, type HookRunRecord } from '../../src/core/hook-log.js';
import { EMPTY_STATE, escapeLabelValue, foldLines, MAX_HOOK_NAMES, parseRecord, pruneKeys, renderMetrics, wholeLines, type MetricsState, type Vocabulary } from '../../src/core/metrics.js';
import { vocabularyOf } from '../../src/commands/metrics.js';
import { FABRICS } from '../../src/hooks/index.js';
import { parseTextfile, valueOf } from '../support/prom-text.js';

const VOCABULARY: Vocabulary = vocabularyOf(FABRICS);
const NVMF_KEY = 'nvmf:tcp:10.0.0.5:4420:nqn.2014-08.org.example:sub1:none:none';
const T0 = 1_764_500_000_000;
const record = (over: Partial<HookRunRecord> = {}): HookRunRecord => ({ hook: 'reconnect', key: NVMF_KEY, outcome: 'ok', exit: 0, at: T0, timer: true, ...over });
const line = (over: Partial<HookRunRecord> = {}) => formatHookRun(record(over));
const bytes = (text: string) => Buffer.from(text);
const fold = (text: string, state: MetricsState = EMPTY_STATE) => foldLines(state, bytes(text), VOCABULARY);

describe('the vocabulary comes from the registry', () => {
  it('every fabric timer hook, with its role and its fabric', () => {
    expect([...VOCABULARY.timerHooks].sort((a, b) => (a.hook < b.hook ? -1 : 1))).toEqual([
      { fabric: 'fcoe', hook: 'dcb-check', role: 'reconnect' },
      { fabric: 'fcoe', hook: 'fcoe-destroy', role: 'loss' },
      { fabric: 'nvmf', hook: 'give-up', role: 'loss' },
      { fabric: 'nvmf', hook: 'give-up-discovery', role: 'loss' },
      { fabric: 'nvmf', hook: 'reconnect', role: 'reconnect' },
      { fabric: 'nvmf', hook: 'reconnect-discovery', role: 'reconnect' },
      { fabric: 'srp', hook: 'srp-erase', role: 'loss' },
      { fabric: 'srp', hook: 'srp-reconnect', role: 'reconnect' },
    ]);
    expect(VOCABULARY.fabricOfKey('fcoe:v0')).toBe('fcoe');
    expect(VOCABULARY.fabricOfKey('nvmf-disc:tcp:10.0.0.5:8009:none:none')).toBe('nvmf');
    expect(VOCABULARY.fabricOfKey('bogus:x')).toBeUndefined();
  });
});

describe('parseRecord: a line counts only if every field is what a hook writes', () => {
  const good = JSON.parse(line()) as Record<string, unknown>;
  it.each([
    ['a hook line', line().trim(), true],
    ['not JSON', '{"v":1,"at":', false],
    ['another format version', JSON.stringify({ ...good, v: 2 }), false],
    ['a hook name that is no verb', JSON.stringify({ ...good, hook: 'Re connect' }), false],
    ['an outcome outside the closed set', JSON.stringify({ ...good, outcome: 'connected' }), false],
    ['a key no fabric owns', JSON.stringify({ ...good, key: 'bogus:1' }), false],
    ['a key with a space', JSON.stringify({ ...good, key: 'fcoe:v 0' }), false],
    ['a time that is not a number', JSON.stringify({ ...good, at: '1' }), false],
    ['no timer flag', JSON.stringify({ ...good, timer: undefined }), false],
    ['an array', '[1,2]', false],
  ])('%s', (_name, text, counts) => {
    expect(parseRecord(text, VOCABULARY) !== undefined).toBe(counts);
  });
});

describe('foldLines: whole lines, each counted once', () => {
  it('a line still being written is not consumed: the next fold reads it whole', () => {
    const text = line() + line({ outcome: 'failed', exit: 1 }).slice(0, 20);
    const first = fold(text);
    expect(first.consumed).toBe(Buffer.byteLength(line()));
    expect(first.records).toBe(1);
    const rest = Buffer.concat([bytes(text).subarray(first.consumed), bytes(line({ outcome: 'failed', exit: 1 }).slice(20))]);
    const second = foldLines(first.state, rest, VOCABULARY);
    expect(second.records).toBe(1);
    expect(second.state.runs).toEqual({ 'nvmf reconnect ok timer': 1, 'nvmf reconnect failed timer': 1 });
    expect(second.state.malformed).toBe(0);
  });

  it('counts by fabric, hook, outcome and who started it; keys keep the last round and the last ok', () => {
    const { state, records } = fold(
      line({ at: T0 }) + line({ at: T0 + 5, outcome: 'failed', exit: 1 }) + line({ hook: 'lost', timer: false, at: T0 + 9 }) + 'garbage\n' + line({ hook: 'dcb-check', key: 'fcoe:v0', outcome: 'error', exit: 3 }),
    );
    expect(records).toBe(4);
    expect(state.runs).toEqual({ 'nvmf reconnect ok timer': 1, 'nvmf reconnect failed timer': 1, 'nvmf lost ok event': 1, 'fcoe dcb-check error timer': 1 });
    expect(state.malformed).toBe(1);
    expect(state.keys[NVMF_KEY]).toEqual({ fabric: 'nvmf', seenMs: T0 + 9, okMs: T0 + 9 });
    expect(state.keys['fcoe:v0']).toEqual({ fabric: 'fcoe', seenMs: T0 });
  });

  it('no newline at all: nothing consumed', () => {
    expect(wholeLines(bytes('{"v":1'))).toEqual({ lines: [], consumed: 0 });
  });

  it(`more than ${MAX_HOOK_NAMES} hook names: the rest are malformed, so the hook label stays bounded`, () => {
    const text = Array.from({ length: MAX_HOOK_NAMES + 3 }, (_, i) => line({ hook: `verb-${i}` })).join('');
    const { state } = fold(text);
    expect(new Set(Object.keys(state.runs).map((k) => k.split(' ')[1])).size).toBe(MAX_HOOK_NAMES);
    expect(state.malformed).toBe(3);
  });
});

describe('pruneKeys: at most max-keys keys, none older than the retention; each drop counted', () => {
  const DAY = 86_400_000;
  const withKeys = (...ages: number[]): MetricsState => ({
    ...EMPTY_STATE,
    keys: Object.fromEntries(ages.map((age, i) => [`fcoe:v${i}`, { fabric: 'fcoe', seenMs: T0 - age * DAY }])),
  });
  it.each([
    ['all within bounds', [0, 1, 2], 5, 30, ['fcoe:v0', 'fcoe:v1', 'fcoe:v2'], 0],
    ['one past the retention', [0, 31, 2], 5, 30, ['fcoe:v0', 'fcoe:v2'], 1],
    ['over the cap: the least recently seen go', [3, 0, 2, 1], 2, 30, ['fcoe:v1', 'fcoe:v3'], 2],
    ['both', [40, 0, 2, 1], 2, 30, ['fcoe:v1', 'fcoe:v3'], 2],
  ] as const)('%s', (_name, ages, maxKeys, days, kept, evicted) => {
    const state = pruneKeys(withKeys(...ages), T0, { maxKeys, retentionMs: days * DAY });
    expect(Object.keys(state.keys)).toEqual(kept);
    expect(state.evicted).toBe(evicted);
  });
});

describe('escapeLabelValue: the exposition format escapes backslash, double quote and newline', () => {
  it.each([
    ['fcoe:v0', 'fcoe:v0'],
    ['a"b', 'a\\"b'],
    ['a\\b', 'a\\\\b'],
    ['a\nb', 'a\\nb'],
    ['\\"\n', '\\\\\\"\\n'],
    ['nvmf:tcp:[fe80::1]:4420', 'nvmf:tcp:[fe80::1]:4420'],
  ])('%j', (value, escaped) => {
    expect(escapeLabelValue(value)).toBe(escaped);
  });
});

describe('renderMetrics: a textfile a Prometheus parser reads back', () => {
  const state = fold(
    line({ at: T0 }) +
      line({ at: T0 + 1000, outcome: 'failed', exit: 1 }) +
      line({ hook: 'give-up', at: T0 + 2000 }) +
      line({ hook: 'connect', key: 'nvmf-disc:tcp:10.0.0.5:8009:none:none', timer: false, at: T0 + 2500 }) +
      line({ hook: 'dcb-check', key: 'fcoe:v0', outcome: 'queued', timer: false }) +
      line({ hook: 'srp-reconnect', key: 'srp:mlx5_0-1:0002c903000e8acd:0002c903000e8acd:0', outcome: 'error', exit: 3 }),
  ).state;
  const timers = [
    { key: NVMF_KEY, hook: 'reconnect' },
    { key: 'nvmf:tcp:10.0.0.6:4420:nqn.x:none:none', hook: 'reconnect' },
    { key: 'fcoe:v0', hook: 'dcb-check' },
  ];

  it('every metric, with the values the lines give', () => {
    const samples = parseTextfile(renderMetrics({ state, timers, vocabulary: VOCABULARY }));
    expect(valueOf(samples, 'sanhook_timerd_up')).toBe(1);
    expect(valueOf(samples, 'sanhook_timers_armed', { fabric: 'nvmf', hook: 'reconnect' })).toBe(2);
    expect(valueOf(samples, 'sanhook_timers_armed', { fabric: 'fcoe', hook: 'dcb-check' })).toBe(1);
    expect(valueOf(samples, 'sanhook_timers_armed', { fabric: 'srp', hook: 'srp-reconnect' })).toBe(0);
    expect(valueOf(samples, 'sanhook_hook_runs_total', { fabric: 'nvmf', hook: 'reconnect', outcome: 'ok' })).toBe(1);
    expect(valueOf(samples, 'sanhook_hook_runs_total', { fabric: 'nvmf', hook: 'reconnect', outcome: 'failed' })).toBe(1);
    expect(valueOf(samples, 'sanhook_hook_runs_total', { fabric: 'fcoe', hook: 'dcb-check', outcome: 'queued' })).toBe(1);
    expect(valueOf(samples, 'sanhook_hook_failures_total', { fabric: 'nvmf', hook: 'reconnect', outcome: 'failed' })).toBe(1);
    expect(valueOf(samples, 'sanhook_hook_failures_total', { fabric: 'srp', hook: 'srp-reconnect', outcome: 'error' })).toBe(1);
    expect(valueOf(samples, 'sanhook_hook_failures_total', { fabric: 'fcoe', hook: 'dcb-check', outcome: 'queued' })).toBeUndefined();
    // attempts and give-ups: only runs timerd started; the event-started dcb-check is not an attempt
    expect(valueOf(samples, 'sanhook_reconnect_attempts_total', { fabric: 'nvmf', hook: 'reconnect' })).toBe(2);
    expect(valueOf(samples, 'sanhook_reconnect_attempts_total', { fabric: 'fcoe', hook: 'dcb-check' })).toBe(0);
    expect(valueOf(samples, 'sanhook_reconnect_attempts_total', { fabric: 'srp', hook: 'srp-reconnect' })).toBe(1);
    expect(valueOf(samples, 'sanhook_give_ups_total', { fabric: 'nvmf', hook: 'give-up' })).toBe(1);
    expect(valueOf(samples, 'sanhook_give_ups_total', { fabric: 'srp', hook: 'srp-erase' })).toBe(0);
    expect(valueOf(samples, 'sanhook_last_success_timestamp_seconds', { fabric: 'nvmf', key: NVMF_KEY })).toBe((T0 + 2000) / 1000);
    expect(valueOf(samples, 'sanhook_last_success_timestamp_seconds', { fabric: 'fcoe', key: 'fcoe:v0' })).toBeUndefined();
    expect(valueOf(samples, 'sanhook_metrics_keys')).toBe(4);
    expect(samples.filter((s) => s.name.endsWith('_total')).every((s) => s.type === 'COUNTER')).toBe(true);
  });

  it('the label sets are the closed ones: fabric and hook from the registry, outcome from the hook-run log', () => {
    const samples = parseTextfile(renderMetrics({ state, timers, vocabulary: VOCABULARY }));
    const fabrics = new Set(FABRICS.map((f) => f.name));
    for (const s of samples) {
      if ('fabric' in s.labels) expect(fabrics.has(s.labels.fabric!), JSON.stringify(s)).toBe(true);
      if ('outcome' in s.labels) expect(['ok', 'failed', 'queued', 'error']).toContain(s.labels.outcome);
      expect(Object.keys(s.labels).every((l) => ['fabric', 'hook', 'outcome', 'key'].includes(l))).toBe(true);
    }
  });

  it('timerd down: sanhook_timerd_up 0 and no timers gauge (absent, not a false 0)', () => {
    const samples = parseTextfile(renderMetrics({ state, timers: undefined, vocabulary: VOCABULARY }));
    expect(valueOf(samples, 'sanhook_timerd_up')).toBe(0);
    expect(samples.filter((s) => s.name === 'sanhook_timers_armed')).toEqual([]);
  });

  it('a key with a quote, a backslash and a newline comes back from the parser as it was', () => {
    const odd = 'fcoe:v"0\\x\ny';
    const withOdd: MetricsState = { ...EMPTY_STATE, keys: { [odd]: { fabric: 'fcoe', seenMs: T0, okMs: T0 } } };
    const text = renderMetrics({ state: withOdd, timers: [], vocabulary: VOCABULARY });
    expect(text).toContain('key="fcoe:v\\"0\\\\x\\ny"');
    expect(valueOf(parseTextfile(text), 'sanhook_last_success_timestamp_seconds', { fabric: 'fcoe', key: odd })).toBe(T0 / 1000);
  });

  it('the same state renders the same bytes (sorted), and nothing is emitted for an unknown timer hook', () => {
    const a = renderMetrics({ state, timers, vocabulary: VOCABULARY });
    expect(renderMetrics({ state, timers: [...timers].reverse(), vocabulary: VOCABULARY })).toBe(a);
    const b = renderMetrics({ state, timers: [...timers, { key: 'fcoe:v1', hook: 'not-a-hook' }], vocabulary: VOCABULARY });
    expect(b).toBe(a);
  });
});
