/**
 * STALE LOCK: a holder killed with SIGKILL leaves its lock behind; the next event
 * recovers it once the lock is stale. And a hook never waits unboundedly: an event
 * arriving while a live holder is stuck is left to that holder (exit 0 while the
 * holder is still stuck), which then runs another discovery for it.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectExit, KEY_4420, Sandbox, waitFor } from './harness.js';

const STALE_S = 2;
const TARGET = ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', '4420'];
const ACTIVE = 'active/tcp_127.0.0.1_4420';

let box: Sandbox;
beforeEach(() => {
  box = new Sandbox();
  box.writeRootFile('etc/sanhook/sanhook.yaml', `lock:\n  stale-seconds: ${STALE_S}\n`);
});
afterEach(async () => {
  await box.cleanup();
});

const lockDir = () => path.join(box.runDir, 'locks', `${KEY_4420}.lock`);

describe('stale lock recovery', () => {
  it('a SIGKILLed holder: the next event discovers within the stale bound and succeeds', async () => {
    const holder = box.start(TARGET, { env: { FAKE_NVME_DISCOVER_MS: '60000' }, timeoutMs: 90_000 });
    // the holder has the lock and its discovery is running
    await waitFor('the holder to lock and start discovering', () => existsSync(lockDir()) && existsSync(path.join(box.state, ACTIVE)), { timeoutMs: 20_000 });
    holder.killGroup('SIGKILL');
    const dead = await holder.done;
    expect(dead.signal).toBe('SIGKILL');
    // the kill left the lock behind (that is what must be recovered) ...
    expect(existsSync(lockDir())).toBe(true);
    // ... last refreshed (proper-lockfile: mtime every stale/2) at this time: stale from lastRefresh + stale on
    const lastRefresh = statSync(lockDir()).mtimeMs;
    // ... and the fake's in-flight marker of the killed nvme (the fake's own state, not sanhook's)
    rmSync(path.join(box.state, ACTIVE), { force: true });
    expect(box.calls()).toEqual([]); // the killed discovery never completed

    const next = await box.run(TARGET, { env: { FAKE_NVME_DISCOVER_MS: '50' }, timeoutMs: 30_000 });
    expectExit(next, 0);
    const discoveries = box.nvmeCalls('discover');
    expect(discoveries).toHaveLength(1);
    const discovery = discoveries[0]!;
    expect(discovery.ppid).toBe(next.pid);
    expect(discovery.exit).toBe(0);
    // recovered only once the lock had really gone stale ...
    expect(discovery.start).toBeGreaterThanOrEqual(lastRefresh + STALE_S * 1000);
    // ... and within the bound: the next event got the lock itself (a hook that waits for a
    // fresh lock past 2 x stale leaves its event to the holder, "queued", and discovers nothing)
    expect(next.stdout).not.toMatch(/^queued/m);
    expect(box.nvmeCalls('connect').map((c) => c.exit)).toEqual([0, 0]);
    expect(existsSync(lockDir())).toBe(false);
  });

  it('a live stuck holder: a second event exits 0 while the holder is still stuck, and the holder runs discovery again for it', async () => {
    // the first discovery is held until the second event is done; later ones run at once
    const release = box.holdDiscovery();
    const holder = box.start(TARGET, { timeoutMs: 60_000 });
    await waitFor('the holder to lock and start discovering', () => existsSync(lockDir()) && existsSync(path.join(box.state, ACTIVE)), { timeoutMs: 20_000 });

    // bounded wait: it returns although the holder never finishes on its own (30 s: failure bound)
    const second = await box.run(TARGET, { timeoutMs: 30_000 });
    expectExit(second, 0);
    expect(second.stdout).toMatch(/^queued\s+nvmf-disc:tcp:127\.0\.0\.1:4420:none:none: /m);
    expect(box.calls().filter((c) => c.ppid === second.pid)).toEqual([]);
    expect(box.calls()).toEqual([]); // the holder's discovery is still held
    release();

    const first = await holder.done;
    expectExit(first, 0);
    const discoveries = box.nvmeCalls('discover').sort((a, b) => a.start - b.start);
    expect(discoveries.map((d) => d.ppid)).toEqual([holder.pid, holder.pid]);
    expect(discoveries.map((d) => d.overlap)).toEqual([false, false]);
    expect(discoveries.map((d) => d.held ?? false)).toEqual([true, false]);
    // the second event was on disk before the holder's first round ended, and the
    // holder's next round (which starts with taking the pending event) came after that
    expect(discoveries[0]!.end).toBeGreaterThan(second.exitedAt);
    expect(discoveries[1]!.start).toBeGreaterThan(discoveries[0]!.end);
    expect(existsSync(lockDir())).toBe(false);
  });
});
