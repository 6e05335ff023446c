/**
 * RACE: many `sanhook connect` processes for one discovery address at once
 * (DESIGN §5). Properties checked from the fakes' records:
 *   - no two discoveries for the address overlap (the fake's `overlap` flag, and
 *     every pair of [start, end] intervals);
 *   - every process exits 0;
 *   - no event is lost: the last event is followed by a discovery. Checked strictly
 *     with an instrumentation preload (test/fakes/record-pending.mjs) that records
 *     when each process's pending marker was written (upper bound) and when each
 *     holder took a marker (lower bound): the last take starts after every write,
 *     and the taker then ran a discovery. Also the simple bound: the last discovery
 *     starts after the last process was spawned;
 *   - no subsystem is connected twice.
 * The preload also adds small random pauses after marker renames. Two shapes:
 *   - stream: 200 processes started as fast as they can be spawned, so events keep
 *     arriving while holders run;
 *   - burst: 200 processes spawned first, held at a start barrier in the preload, then
 *     released at one instant.
 * Only the LAST event of a race can be lost observably (a later event's discovery
 * covers earlier ones), and the dangerous window is narrow, so a random race rarely
 * hits it. The last test therefore places an event exactly in that window: after the
 * holder found no marker left, before it unlocks (DESIGN §5 "someone came after our
 * last check: loop"); the holder is held in the window until the event is recorded.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectExit, KEY_4420, now, RECORD_PENDING, Sandbox, SUBSYS1, SUBSYS2, waitFor, type RunResult } from './harness.js';

/** connect's pending marker for the address: pending/<key>#<verb> (core/lock.ts). */
const MARKER = `${KEY_4420}#connect`;

const DISCOVER_MS = '40';
/** Random pauses (ms) after each pending-marker rename / after finding no marker, see record-pending.mjs. */
const JITTER_MS = '20';
const EMPTY_JITTER_MS = '50';
const TARGET = ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', '4420'];

interface Wave {
  readonly results: RunResult[];
  /** Before the first spawn (stream) or at the release (burst). */
  readonly from: number;
  /** When the last process of the wave had exited. */
  readonly to: number;
}

const PRELOAD = ['--import', pathToFileURL(RECORD_PENDING).href];

const readyCount = (barrier: string) => (existsSync(`${barrier}.ready`) ? readFileSync(`${barrier}.ready`, 'utf8').split('\n').filter(Boolean).length : 0);

async function runWave(box: Sandbox, name: string, processes: number, burst: boolean): Promise<Wave> {
  const barrier = path.join(box.dir, `go-${name}`);
  const env: Record<string, string> = {
    FAKE_NVME_DISCOVER_MS: DISCOVER_MS,
    FAKE_PENDING_JITTER_MS: JITTER_MS,
    FAKE_EMPTY_JITTER_MS: EMPTY_JITTER_MS,
    ...(burst ? { FAKE_START_BARRIER: barrier } : {}),
  };
  const running = [];
  let from = now();
  for (let i = 0; i < processes; i += 1) {
    running.push(box.start(TARGET, { env, nodeArgs: PRELOAD, timeoutMs: 150_000 }));
  }
  if (burst) {
    await waitFor('all processes at the start barrier', () => readyCount(barrier) === processes, { timeoutMs: 90_000 });
    from = now();
    writeFileSync(barrier, '');
  }
  const results = await Promise.all(running.map((r) => r.done));
  return { results, from, to: now() };
}

describe.each([
  { shape: 'stream', waves: 1, processes: 200, burst: false },
  { shape: 'burst', waves: 1, processes: 200, burst: true },
])('concurrent connects for one address: $shape ($processes processes)', ({ waves: waveCount, processes, burst }) => {
  let box: Sandbox;
  const waves: Wave[] = [];

  beforeAll(async () => {
    box = new Sandbox();
    for (let k = 0; k < waveCount; k += 1) waves.push(await runWave(box, String(k), processes, burst));
  }, 300_000);

  afterAll(async () => {
    await box.cleanup();
  });

  const results = () => waves.flatMap((w) => w.results);
  const discoveries = () => box.nvmeCalls('discover').sort((a, b) => a.start - b.start);

  it('every process exits 0, within a reasonable time', () => {
    const bad = results().filter((r) => r.exitCode !== 0 || r.signal !== null);
    expect(bad.map((r) => ({ pid: r.pid, exit: r.exitCode, signal: r.signal, stderr: r.stderr.slice(-500) }))).toEqual([]);
    expect(results()).toHaveLength(waveCount * processes);
    for (const wave of waves) expect(wave.to - wave.from).toBeLessThan(110_000);
  });

  it('discoveries never overlap (fake overlap flag and pairwise intervals), and all succeeded', () => {
    const all = discoveries();
    expect(all.length).toBeGreaterThan(0);
    expect(all.filter((d) => d.overlap)).toEqual([]);
    expect(all.filter((d) => d.exit !== 0)).toEqual([]);
    for (let i = 1; i < all.length; i += 1) {
      expect(all[i]!.start, `discovery ${i} starts before discovery ${i - 1} ended`).toBeGreaterThan(all[i - 1]!.end);
    }
    // the events really raced: they were coalesced into fewer discoveries
    expect(all.length).toBeLessThan(results().length);
  });

  it('the last event is followed by a discovery (simple bound: after the last spawn)', () => {
    for (const wave of waves) {
      const lastSpawn = Math.max(...wave.results.map((r) => r.spawnedAt));
      const inWave = discoveries().filter((d) => d.start > wave.from && d.end < wave.to);
      expect(inWave.length).toBeGreaterThan(0);
      expect(inWave.at(-1)!.start).toBeGreaterThan(lastSpawn);
    }
  });

  it('the last event is taken and then discovered before all processes are gone (strict: marker writes vs takes)', () => {
    const renames = box.pendingRenames().filter((r) => r.ok);
    const all = discoveries();
    let totalTakes = 0;
    waves.forEach((wave, k) => {
      const pids = new Set(wave.results.map((r) => r.pid));
      const writes = renames.filter((r) => pids.has(r.pid) && r.to === MARKER && r.from.endsWith('.tmp'));
      const takes = renames.filter((r) => pids.has(r.pid) && r.from === MARKER && r.to.startsWith(`${MARKER}.taken.`));
      totalTakes += takes.length;
      // every process recorded its event exactly once
      expect(writes.map((w) => w.pid).sort()).toEqual([...pids].sort());
      expect(takes.length).toBeGreaterThan(0);
      // each rename is only known to lie between its before/after stamps (taken in different processes):
      // the last take must not have ended before the last write began; takes never overlap (only the holder takes)
      const lastWriteBegan = Math.max(...writes.map((w) => w.before));
      const lastTake = takes.reduce((a, b) => (b.before > a.before ? b : a));
      expect(lastTake.after, `wave ${k}: an event was written after the last take: it was lost`).toBeGreaterThan(lastWriteBegan);
      // the taker ran a discovery for it, after taking it, and it succeeded
      const after = all.filter((d) => d.ppid === lastTake.pid && d.start > lastTake.before && d.end < wave.to);
      expect(after.length, `wave ${k}: no discovery after the last take`).toBeGreaterThanOrEqual(1);
      expect(after.every((d) => d.exit === 0)).toBe(true);
    });
    // one discovery per take: every taken event got its own round
    expect(all).toHaveLength(totalTakes);
    // and no event was left untaken after the last wave
    expect(existsSync(path.join(box.pendingDir, MARKER))).toBe(false);
  });

  it('no subsystem is connected twice', () => {
    const connects = box.nvmeCalls('connect');
    const ok = connects.filter((c) => c.exit === 0).map((c) => c.argv[c.argv.indexOf('--nqn') + 1]);
    expect(ok.sort()).toEqual([SUBSYS1, SUBSYS2]);
    // nobody even tried again: later rounds saw the controllers in sysfs
    expect(connects).toHaveLength(2);
    expect(box.sysfsControllers()).toEqual(['nvme0', 'nvme1']);
  });

  it('leaves no lock and no pending event behind', () => {
    const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
    expect(list(path.join(box.runDir, 'locks'))).toEqual([]);
    expect(list(path.join(box.runDir, 'pending'))).toEqual([]);
  });
});

describe('an event after the holder\'s last check, before its unlock', () => {
  let box: Sandbox;
  afterAll(async () => {
    await box.cleanup();
  });

  it('is not lost: a discovery starts after it', async () => {
    box = new Sandbox();
    // the late event's process is started first and parked at a barrier (node is up,
    // sanhook not loaded yet), so that it can be released at an exact moment
    const lateBarrier = path.join(box.dir, 'late');
    const late = box.start(TARGET, { env: { FAKE_START_BARRIER: lateBarrier }, nodeArgs: PRELOAD, timeoutMs: 60_000 });
    await waitFor('the late process at its barrier', () => readyCount(lateBarrier) === 1, { timeoutMs: 90_000 });
    // the holder stays right after it finds no marker left (before unlocking) while `hold` exists
    const hold = path.join(box.dir, 'holder-in-window');
    writeFileSync(hold, '');
    const holder = box.start(TARGET, { env: { FAKE_EMPTY_HOLD: hold }, nodeArgs: PRELOAD, timeoutMs: 60_000 });
    const emptyCheck = () => box.pendingRenames().find((r) => r.pid === holder.pid && !r.ok);
    await waitFor('the holder to find no marker left', emptyCheck, { timeoutMs: 90_000 });
    writeFileSync(lateBarrier, '');
    const lateWritten = () => box.pendingRenames().find((r) => r.pid === late.pid && r.ok && r.to === MARKER);
    await waitFor('the late event to be recorded', lateWritten, { timeoutMs: 90_000 });
    const windowClosed = now();
    rmSync(hold);
    const [holderResult, lateResult] = await Promise.all([holder.done, late.done]);
    expectExit(holderResult, 0);
    expectExit(lateResult, 0);

    const empty = emptyCheck()!;
    const renames = box.pendingRenames().filter((r) => r.ok);
    const lateWrite = lateWritten();
    expect(lateWrite).toBeDefined();
    // precondition: the late event really landed inside the window (holder still locked)
    expect(lateWrite!.after).toBeGreaterThan(empty.after);
    expect(lateWrite!.after).toBeLessThan(windowClosed);
    // the property: the event was taken afterwards and a discovery ran for it
    const takes = renames.filter((r) => r.from === MARKER && r.to.startsWith(`${MARKER}.taken.`) && r.before > lateWrite!.after);
    expect(takes).toHaveLength(1);
    const discoveries = box.nvmeCalls('discover').sort((a, b) => a.start - b.start);
    expect(discoveries).toHaveLength(2);
    expect(discoveries.map((d) => d.overlap)).toEqual([false, false]);
    expect(discoveries[1]!.start).toBeGreaterThan(discoveries[0]!.end);
    expect(discoveries[1]!.start).toBeGreaterThan(takes[0]!.before);
    expect(discoveries[1]!.ppid).toBe(takes[0]!.pid);
    expect(readdirSync(path.join(box.runDir, 'pending'))).toEqual([]);
  });
});
