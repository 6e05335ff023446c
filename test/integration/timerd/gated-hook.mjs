#!/usr/bin/env node
/**
 * A fake `sanhook` for timerd tests that need a hook to be running at a moment of
 * their choosing (`sanhook timerd --sanhook-bin gated-hook.mjs`): like
 * test/fakes/timer-hook.mjs it appends {argv, pid, ppid, time, timerId} to
 * $FAKE_HOOK_LOG when it starts, then it waits until the file $FAKE_HOOK_GATE
 * exists (the test opens the gate), appends {pid, done: time} and exits with
 * $FAKE_HOOK_EXIT (default 1: a failed attempt).
 * So a test orders itself on files, not on how long a hook sleeps.
 */
import { appendFileSync, existsSync } from 'node:fs';

const now = () => performance.timeOrigin + performance.now();
const log = process.env.FAKE_HOOK_LOG;
const gate = process.env.FAKE_HOOK_GATE;
if (!log || !gate) {
  console.error('gated-hook: FAKE_HOOK_LOG and FAKE_HOOK_GATE must be set');
  process.exit(2);
}
appendFileSync(log, `${JSON.stringify({ argv: process.argv.slice(2), pid: process.pid, ppid: process.ppid, time: now(), timerId: process.env.SANHOOK_TIMER_ID ?? null, fds: {} })}\n`);
// Polling a local file every 10 ms costs nothing worth measuring and needs no watcher set-up race.
while (!existsSync(gate)) await new Promise((resolve) => setTimeout(resolve, 10));
appendFileSync(log, `${JSON.stringify({ pid: process.pid, done: now() })}\n`);
process.exitCode = Number(process.env.FAKE_HOOK_EXIT ?? '1');
