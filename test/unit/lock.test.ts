import { mkdirSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasPending, runCoalesced as runVerbs, takePending, writePending } from '../../src/core/lock.js';
import type { System } from '../../src/core/system.js';
import { keyFileName } from '../../src/core/keys.js';
import { waitFor } from '../support/sandbox.mjs';
import { tempSystem } from '../support/system.js';

const KEY = 'nvmf-disc:tcp:10.0.0.5:8009:none:none';
/** Spreads events and stretches runs (load, not ordering: orders are read from `tick`). */
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** One verb on the key (what most hooks are): its round is `action`. */
const runCoalesced = <T,>(system: System, key: string, request: T, action: (request: T) => Promise<void>, options: { staleMs: number }) =>
  runVerbs(system, key, 'v', request, { v: action as (request: never) => Promise<void> }, options);

describe('pending markers', () => {
  it('coalesce: the latest request wins and taking is exactly-once', async () => {
    const system = tempSystem();
    await writePending(system, KEY, 'v', { n: 1 });
    await writePending(system, KEY, 'v', { n: 2 });
    expect(await hasPending(system, KEY)).toBe(true);
    expect(await takePending(system, KEY, ['v'])).toEqual({ verb: 'v', request: { n: 2 } });
    expect(await takePending(system, KEY, ['v'])).toBeUndefined();
    expect(await hasPending(system, KEY)).toBe(false);
  });
});

describe('pending markers of different verbs on one key', () => {
  it('never overwrite each other, and are taken oldest first', async () => {
    const system = tempSystem();
    await writePending(system, KEY, 'disconnect', { n: 1 });
    await writePending(system, KEY, 'reconnect', { n: 2 });
    await writePending(system, KEY, 'disconnect', { n: 3 });
    expect(await hasPending(system, KEY, 'reconnect')).toBe(true);
    expect(await takePending(system, KEY, ['reconnect', 'disconnect'])).toEqual({ verb: 'reconnect', request: { n: 2 } });
    expect(await takePending(system, KEY, ['reconnect', 'disconnect'])).toEqual({ verb: 'disconnect', request: { n: 3 } });
    expect(await hasPending(system, KEY)).toBe(false);
  });

  it("a holder runs the queued event of another verb with that verb's round, after its own", async () => {
    const system = tempSystem();
    const seen: string[] = [];
    let queued: Promise<unknown> | undefined;
    const rounds = {
      reconnect: async (r: never) => {
        seen.push(`reconnect ${JSON.stringify(r)}`);
        // the disconnect arrives while the reconnect holds the lock
        queued ??= runVerbs(system, KEY, 'disconnect', { d: 1 }, rounds, { staleMs: 2000 });
        await waitFor('the disconnect to be recorded', () => hasPending(system, KEY, 'disconnect'));
      },
      disconnect: async (r: never) => void seen.push(`disconnect ${JSON.stringify(r)}`),
    };
    expect(await runVerbs(system, KEY, 'reconnect', { r: 1 }, rounds, { staleMs: 2000 })).toEqual({ kind: 'held', runs: 1 });
    // The disconnect's own process ran nothing: it saw its marker taken, or got the lock after the holder had run it.
    expect([{ kind: 'handed-over', reason: 'taken-by-holder' }, { kind: 'held', runs: 0 }]).toContainEqual(await queued);
    expect(seen).toEqual(['reconnect {"r":1}', 'disconnect {"d":1}']);
  });
});

describe('runCoalesced', () => {
  it('one event: runs once with its request', async () => {
    const system = tempSystem();
    const seen: unknown[] = [];
    const outcome = await runCoalesced(system, KEY, { n: 1 }, async (r) => void seen.push(r), { staleMs: 2000 });
    expect(outcome).toEqual({ kind: 'held', runs: 1 });
    expect(seen).toEqual([{ n: 1 }]);
  });

  it('concurrent events: no overlap, the last event is followed by a run, fewer runs than events', async () => {
    const system = tempSystem();
    // a logical clock: every event and every run start takes the next tick (no ties, no wall clock)
    let tick = 0;
    const runs: { start: number; end: number; request: number }[] = [];
    let active = 0;
    let overlapped = false;
    const eventTimes: number[] = [];
    const action = async (request: number) => {
      active += 1;
      if (active > 1) overlapped = true;
      const start = ++tick;
      await pause(15);
      runs.push({ start, end: ++tick, request });
      active -= 1;
    };
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        await pause(Math.random() * 150);
        eventTimes.push(++tick);
        return runCoalesced(system, KEY, i, action, { staleMs: 2000 });
      }),
    );
    expect(overlapped).toBe(false);
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.length).toBeLessThan(60);
    const lastEvent = Math.max(...eventTimes);
    expect(Math.max(...runs.map((r) => r.start))).toBeGreaterThan(lastEvent);
    expect(await hasPending(system, KEY)).toBe(false);
  });

  it('an event during a run makes the holder go round once more', async () => {
    const system = tempSystem();
    const seen: number[] = [];
    let second: Promise<unknown> | undefined;
    const first = runCoalesced(
      system,
      KEY,
      1,
      async (r) => {
        seen.push(r);
        if (!second) {
          second = runCoalesced(system, KEY, 2, async (x) => void seen.push(x), { staleMs: 2000 });
          // the run ends once the second event is on disk (our own marker was taken before this run)
          await waitFor('the second event to be recorded', () => hasPending(system, KEY));
        } else {
          // the round for the second event keeps the lock until that hook has seen its marker taken
          await second;
        }
      },
      { staleMs: 2000 },
    );
    expect(await first).toEqual({ kind: 'held', runs: 2 });
    expect(await second).toEqual({ kind: 'handed-over', reason: 'taken-by-holder' });
    expect(seen).toEqual([1, 2]);
  });

  it('recovers a stale lock left by a dead holder within the stale bound', async () => {
    const system = tempSystem();
    const lockDir = path.join(system.paths.run, 'locks', `${keyFileName(KEY)}.lock`);
    mkdirSync(lockDir, { recursive: true });
    const old = new Date(Date.now() - 1000);
    utimesSync(lockDir, old, old);
    let ranAt = 0;
    const outcome = await runCoalesced(system, KEY, 1, async () => void (ranAt = Date.now()), { staleMs: 2000 });
    // within the bound: it got the lock itself (a hook still facing a fresh lock after
    // 2 × stale gives up and reports handed-over/holder-busy) ...
    expect(outcome).toEqual({ kind: 'held', runs: 1 });
    // ... and only once the lock was stale (its mtime older than staleMs)
    expect(ranAt).toBeGreaterThan(old.getTime() + 2000);
  });
});
