import { appendFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/log.js';
import { lossDeadline, nextDue, type TimerEntry } from '../../src/timerd/schedule.js';
import { FORMAT_VERSION, TimerStore } from '../../src/timerd/store.js';

/** State files written by the seconds-only release (test/fixtures/timerd-v1/README.md). */
const V1_FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'timerd-v1');

const entry = (key: string, id: number): TimerEntry => ({
  key,
  id,
  onReconnect: { hook: 'reconnect', params: { transport: 'tcp' } },
  schedule: { delayMs: 10_000, growth: 'fixed' },
  loss: { afterMs: 600_000, attempts: 0 },
  armedAt: 1,
  attempts: 0,
  lastAttemptEndedAt: 1,
});

async function open(dir: string, table: Map<string, TimerEntry>, nextId = { value: 1 }) {
  const store = new TimerStore(dir, silentLogger, () => ({ entries: table.values(), size: table.size, nextId: nextId.value }));
  const loaded = await store.load();
  for (const [k, v] of loaded.entries) table.set(k, v);
  nextId.value = loaded.nextId; // as the daemon does
  await store.compact();
  return { store, loaded };
}

describe('TimerStore', () => {
  it('round-trips arms, disarms and attempts through the journal', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sanhook-store-'));
    const table = new Map<string, TimerEntry>();
    const { store } = await open(dir, table);
    await Promise.all([store.append({ op: 'arm', entry: entry('a', 1) }), store.append({ op: 'arm', entry: entry('b', 2) }), store.append({ op: 'arm', entry: entry('c', 3) })]);
    await store.append({ op: 'disarm', key: 'b', id: 2 });
    await store.append({ op: 'disarm', key: 'c', id: 99 }); // another arm's disarm: no effect
    await store.append({ op: 'attempt', key: 'a', id: 1, attempts: 3, lastAttemptEndedAt: 42 });
    await store.close();
    const again = new Map<string, TimerEntry>();
    const { loaded } = await open(dir, again);
    expect([...loaded.entries.keys()].sort()).toEqual(['a', 'c']);
    expect(loaded.entries.get('a')).toMatchObject({ attempts: 3, lastAttemptEndedAt: 42 });
    expect(loaded.nextId).toBe(4);
    expect(loaded.replayed).toBe(6);
  });

  it('ignores a torn last line (never acknowledged)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sanhook-store-'));
    const { store } = await open(dir, new Map());
    await store.append({ op: 'arm', entry: entry('a', 1) });
    await store.close();
    appendFileSync(path.join(dir, 'timers.journal'), '{"op":"arm","entry":{"key":"b","id":2,');
    const { loaded } = await open(dir, new Map());
    expect(loaded.tornTail).toBe(true);
    expect([...loaded.entries.keys()]).toEqual(['a']);
  });

  it('does not replay a journal from an older generation (crash between snapshot and journal reset)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sanhook-store-'));
    const table = new Map<string, TimerEntry>();
    const { store } = await open(dir, table);
    await store.append({ op: 'arm', entry: entry('a', 1) });
    await store.close();
    const oldJournal = readFileSync(path.join(dir, 'timers.journal'), 'utf8');
    // a later generation's snapshot in which 'a' was disarmed
    const snapshot = JSON.parse(readFileSync(path.join(dir, 'timers.json'), 'utf8')) as { gen: number };
    writeFileSync(path.join(dir, 'timers.json'), JSON.stringify({ version: FORMAT_VERSION, gen: snapshot.gen + 1, nextId: 2, entries: [] }));
    writeFileSync(path.join(dir, 'timers.journal'), oldJournal);
    const { loaded } = await open(dir, new Map());
    expect(loaded.entries.size).toBe(0);
  });

  it('snapshots are replaced atomically and readable', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sanhook-store-'));
    const table = new Map([['a', entry('a', 1)]]);
    const { store } = await open(dir, table);
    await store.close();
    const snapshot = JSON.parse(readFileSync(path.join(dir, 'timers.json'), 'utf8')) as { version: number; entries: TimerEntry[] };
    expect(snapshot.version).toBe(2);
    expect(snapshot.entries).toEqual([entry('a', 1)]);
    expect(readFileSync(path.join(dir, 'timers.journal'), 'utf8')).toMatch(/^\{"gen":\d+,"version":2\}\n$/);
  });

  it('refuses files of a format version it does not know (a newer release wrote them)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sanhook-store-'));
    writeFileSync(path.join(dir, 'timers.json'), JSON.stringify({ version: 3, gen: 1, nextId: 1, entries: [] }));
    await expect(open(dir, new Map())).rejects.toThrow(/timers\.json: cannot load: unknown snapshot version 3/);
    writeFileSync(path.join(dir, 'timers.json'), JSON.stringify({ version: 2, gen: 1, nextId: 1, entries: [] }));
    writeFileSync(path.join(dir, 'timers.journal'), '{"gen":1,"version":3}\n');
    await expect(open(dir, new Map())).rejects.toThrow(/timers\.journal: cannot load: unknown journal version 3/);
  });
});

describe('TimerStore reads the seconds-only release (format 1)', () => {
  const A = 'nvmf:tcp:10.9.0.1:4420:nqn.2026-11.io.sanhook:v1-fixed:none:none';
  const B = 'nvmf:tcp:10.9.0.2:4420:nqn.2026-11.io.sanhook:v1-linear:none:none';
  const C = 'nvmf:tcp:10.9.0.3:4420:nqn.2026-11.io.sanhook:v1-disarmed:none:none';
  const D = 'nvmf:tcp:10.9.0.4:4420:nqn.2026-11.io.sanhook:v1-rearmed:none:none';
  const hooks = (traddr: string, name: string) => {
    const params = { transport: 'tcp', nqn: `nqn.2026-11.io.sanhook:${name}`, traddr, trsvcid: '4420' };
    return { onReconnect: { hook: 'reconnect', params }, onLoss: { hook: 'give-up', params } };
  };

  const copyOfFixtures = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sanhook-store-v1-'));
    cpSync(V1_FIXTURES, dir, { recursive: true, filter: (file) => !/\.(md|mjs)$/.test(file) });
    return dir;
  };

  it('converts the snapshot and the journal written by the release to ms: schedules, loss conditions, attempts, deadlines', async () => {
    const dir = copyOfFixtures();
    const table = new Map<string, TimerEntry>();
    const { store, loaded } = await open(dir, table);
    await store.close();
    expect(loaded).toMatchObject({ nextId: 6, replayed: 7, tornTail: false, converted: 5 });
    expect([...loaded.entries.keys()].sort()).toEqual([A, B, D]);
    expect(loaded.entries.has(C)).toBe(false);
    // A, from the snapshot: `sanhook timers arm --delay 120 --loss-seconds 300`
    const a = loaded.entries.get(A)!;
    expect(a).toEqual({ key: A, id: 1, ...hooks('10.9.0.1', 'v1-fixed'), schedule: { delayMs: 120_000, growth: 'fixed' }, loss: { afterMs: 300_000, attempts: 0 }, armedAt: 1796023640527, attempts: 0, lastAttemptEndedAt: 1796023640527 });
    expect(nextDue(a)).toEqual({ kind: 'reconnect', at: 1796023640527 + 120_000 });
    expect(lossDeadline(a)).toBe(1796023640527 + 300_000);
    // B, from the journal: delay 2 s linear, lossSeconds -1, lossAttempts 5; two failed attempts
    const b = loaded.entries.get(B)!;
    expect(b).toEqual({ key: B, id: 2, ...hooks('10.9.0.2', 'v1-linear'), schedule: { delayMs: 2000, growth: 'linear' }, loss: { afterMs: 0, attempts: 5 }, armedAt: 1796023640788, attempts: 2, lastAttemptEndedAt: 1796023646806 });
    expect(nextDue(b)).toEqual({ kind: 'reconnect', at: 1796023646806 + 3 * 2000 });
    expect(lossDeadline(b)).toBeUndefined();
    // D: re-armed (id 4 replaced by id 5: 90 s / 180 s)
    const d = loaded.entries.get(D)!;
    expect(d).toMatchObject({ id: 5, schedule: { delayMs: 90_000, growth: 'fixed' }, loss: { afterMs: 180_000, attempts: 0 }, armedAt: 1796023640806, attempts: 0 });
    expect(lossDeadline(d)).toBe(1796023640806 + 180_000);
  });

  it('the compaction after the load rewrites both files in the current format; they load to the same table', async () => {
    const dir = copyOfFixtures();
    const table = new Map<string, TimerEntry>();
    const { store, loaded } = await open(dir, table);
    await store.close();
    const snapshot = JSON.parse(readFileSync(path.join(dir, 'timers.json'), 'utf8')) as { version: number; gen: number; nextId: number; entries: TimerEntry[] };
    expect(snapshot).toMatchObject({ version: FORMAT_VERSION, gen: 4, nextId: 6 });
    expect(snapshot.entries.find((e) => e.key === B)).toMatchObject({ schedule: { delayMs: 2000, growth: 'linear' }, loss: { afterMs: 0, attempts: 5 } });
    expect(readFileSync(path.join(dir, 'timers.journal'), 'utf8')).toBe(`{"gen":4,"version":${FORMAT_VERSION}}\n`);
    const again = await open(dir, new Map());
    await again.store.close();
    expect(again.loaded).toMatchObject({ nextId: 6, replayed: 0, converted: 0 });
    expect(again.loaded.entries).toEqual(loaded.entries);
  });

  it('skips (and logs) a version 1 journal line without its schedule, like any unreadable line', async () => {
    const dir = copyOfFixtures();
    appendFileSync(path.join(dir, 'timers.journal'), `${JSON.stringify({ op: 'arm', entry: { key: 'x', id: 9, schedule: { growth: 'fixed' }, loss: { attempts: 0 } } })}\n`);
    const errors: string[] = [];
    const log = { ...silentLogger, error: (_fields: unknown, message: string) => void errors.push(message) } as typeof silentLogger;
    const store = new TimerStore(dir, log, () => ({ entries: [], size: 0, nextId: 1 }));
    const loaded = await store.load();
    expect([...loaded.entries.keys()].sort()).toEqual([A, B, D]);
    expect(errors).toEqual(['skipping an unreadable journal line']);
  });
});
