import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/log.js';
import type { TimerEntry } from '../../src/timerd/schedule.js';
import { TimerStore } from '../../src/timerd/store.js';

const entry = (key: string, id: number): TimerEntry => ({
  key,
  id,
  onReconnect: { hook: 'reconnect', params: { transport: 'tcp' } },
  schedule: { delaySeconds: 10, growth: 'fixed' },
  loss: { seconds: 600, attempts: 0 },
  armedAt: 1,
  attempts: 0,
  lastAttemptEndedAt: 1,
});

async function open(dir: string, table: Map<string, TimerEntry>, nextId = { value: 1 }) {
  const store = new TimerStore(dir, silentLogger, () => ({ entries: table.values(), size: table.size, nextId: nextId.value }));
  const loaded = await store.load();
  for (const [k, v] of loaded.entries) table.set(k, v);
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
    writeFileSync(path.join(dir, 'timers.json'), JSON.stringify({ version: 1, gen: snapshot.gen + 1, nextId: 2, entries: [] }));
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
    expect(snapshot.version).toBe(1);
    expect(snapshot.entries.map((e) => e.key)).toEqual(['a']);
  });
});
