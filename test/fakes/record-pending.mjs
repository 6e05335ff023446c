/**
 * Instrumentation preload for the race test: `node --import <this> bin/sanhook.js ...`.
 *
 * Wraps fs/promises.rename (the coalescing lock writes and takes pending markers by
 * rename) and appends one JSON line per rename touching $FAKE_PENDING_DIR to
 * $FAKE_NVME_STATE/pending.jsonl: {pid, from, to, before, after, ok}; `before` is
 * taken just before the rename(2) and `after` just after it completed (wall-clock ms,
 * same clock as the fake nvme). Behaviour is otherwise unchanged.
 *
 * A holder looks for the markers of its key with readdir(2) (core/lock.ts); a readdir
 * of $FAKE_PENDING_DIR that finds no marker is recorded like a failed rename
 * ({from: "readdir", ok: false}): that is "the holder found no marker left".
 *
 * Timing injection (timing only, no other change): after each such rename the caller
 * pauses a random 0..$FAKE_PENDING_JITTER_MS ms; after a rename that failed (a holder
 * found no marker left to take) it pauses a random 0..$FAKE_EMPTY_JITTER_MS ms. This
 * widens the windows between "marker written" and "try the lock", and between "no
 * marker left" and "unlock", so random races hit them more often. With $FAKE_EMPTY_HOLD naming a file, a caller
 * whose rename failed waits (after recording it) for as long as that file exists: the
 * test removes it once its event is in the window, so the window is ordered by events,
 * not by its length (gives up waiting after 120 s).
 *
 * Start barrier: with $FAKE_START_BARRIER set, the process appends its pid to
 * "$FAKE_START_BARRIER.ready", then waits (blocking, before sanhook's code loads) until
 * the barrier file exists, so a test can spawn many processes, wait until all are
 * ready and release them at the same instant. It gives up waiting after 120 s.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import path from 'node:path';

const barrier = process.env.FAKE_START_BARRIER;
if (barrier) {
  appendFileSync(`${barrier}.ready`, `${process.pid}\n`);
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 120_000;
  while (!existsSync(barrier) && Date.now() < deadline) Atomics.wait(cell, 0, 0, 20);
}

const dir = process.env.FAKE_PENDING_DIR;
const state = process.env.FAKE_NVME_STATE;
if (dir && state) {
  const require = createRequire(import.meta.url);
  const fsp = require('node:fs/promises');
  const rename = fsp.rename;
  const now = () => performance.timeOrigin + performance.now();
  const inside = (p) => path.dirname(path.resolve(String(p))) === path.resolve(dir);
  const jitter = Number(process.env.FAKE_PENDING_JITTER_MS ?? 0);
  const emptyJitter = Number(process.env.FAKE_EMPTY_JITTER_MS ?? jitter);
  const emptyHold = process.env.FAKE_EMPTY_HOLD;
  fsp.rename = async (from, to) => {
    if (!inside(from) && !inside(to)) return rename(from, to);
    const before = now();
    let ok = false;
    try {
      const result = await rename(from, to);
      ok = true;
      return result;
    } finally {
      const after = now();
      appendFileSync(path.join(state, 'pending.jsonl'), `${JSON.stringify({ pid: process.pid, from: path.basename(String(from)), to: path.basename(String(to)), before, after, ok })}\n`);
      const pause = ok ? Math.random() * jitter : Math.random() * emptyJitter;
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
      const holdUntil = Date.now() + 120_000;
      while (!ok && emptyHold && existsSync(emptyHold) && Date.now() < holdUntil) await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const readdir = fsp.readdir;
  fsp.readdir = async (where, ...rest) => {
    const before = now();
    const names = await readdir(where, ...rest);
    if (path.resolve(String(where)) !== path.resolve(dir)) return names;
    const markers = names.filter((n) => typeof n === 'string' && !n.endsWith('.tmp') && !n.includes('.taken.'));
    if (markers.length > 0) return names;
    appendFileSync(path.join(state, 'pending.jsonl'), `${JSON.stringify({ pid: process.pid, from: 'readdir', to: '', before, after: now(), ok: false })}\n`);
    const pause = Math.random() * emptyJitter;
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
    const holdUntil = Date.now() + 120_000;
    while (emptyHold && existsSync(emptyHold) && Date.now() < holdUntil) await new Promise((resolve) => setTimeout(resolve, 10));
    return names;
  };
  syncBuiltinESMExports();
}
