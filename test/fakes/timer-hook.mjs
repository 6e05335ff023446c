#!/usr/bin/env node
/**
 * A fake `sanhook` for timerd tests (`sanhook timerd --sanhook-bin test/fakes/timer-hook.mjs`):
 * it runs no hook at all, it only records how timerd ran it.
 *
 * Each run appends one JSON line (one write(2)) to $FAKE_HOOK_LOG:
 *   {argv, pid, ppid, time, timerId, fds}
 * where argv is what timerd passed (`--root R --sysfs S --log-level L <hook> --opt value...`),
 * time is wall-clock ms (sub-ms precision), timerId is $SANHOOK_TIMER_ID and fds maps each
 * open fd to what it refers to ("socket:[inode]", "pipe:[...]", a path): a socket-activated
 * timerd must not leak its listening socket into hooks.
 * With $FAKE_HOOK_SLEEP_MS it then runs that long and appends {pid, done: time} (a hook
 * killed meanwhile leaves no such line).
 * Exits with the number in the file $FAKE_HOOK_EXIT_FILE when it exists, else $FAKE_HOOK_EXIT,
 * else 1 (a failed attempt: the schedule keeps running).
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

const time = performance.timeOrigin + performance.now();
const fds = {};
for (const fd of readdirSync('/proc/self/fd')) {
  try {
    fds[fd] = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    // the directory handle itself, closed meanwhile
  }
}
const log = process.env.FAKE_HOOK_LOG;
if (log) {
  appendFileSync(
    log,
    `${JSON.stringify({ argv: process.argv.slice(2), pid: process.pid, ppid: process.ppid, time, timerId: process.env.SANHOOK_TIMER_ID ?? null, fds })}\n`,
  );
}
const sleepMs = Number(process.env.FAKE_HOOK_SLEEP_MS ?? '0');
if (sleepMs > 0) {
  await new Promise((resolve) => setTimeout(resolve, sleepMs));
  if (log) appendFileSync(log, `${JSON.stringify({ pid: process.pid, done: performance.timeOrigin + performance.now() })}\n`);
}
const file = process.env.FAKE_HOOK_EXIT_FILE;
const code = file && existsSync(file) ? readFileSync(file, 'utf8').trim() : (process.env.FAKE_HOOK_EXIT ?? '1');
process.exitCode = Number(code);
