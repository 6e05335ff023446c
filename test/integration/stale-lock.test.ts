/**
 * STALE LOCK: a holder killed with SIGKILL leaves its lock behind; the next event
 * recovers it within the configured stale bound. And a hook never waits
 * unboundedly: an event arriving while a live holder is slow is left to that
 * holder (exit 0 within ~2 × stale), which then runs another discovery for it.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectExit, KEY_4420, killGroup, now, Sandbox, sleep } from './harness.js';

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

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const lockDir = () => path.join(box.runDir, 'locks', `${KEY_4420}.lock`);

describe('stale lock recovery', () => {
  it('a SIGKILLed holder: the next event discovers within the stale bound and succeeds', async () => {
    const holder = box.start(TARGET, { env: { FAKE_NVME_DISCOVER_MS: '60000' }, timeoutMs: 90_000 });
    // the holder has the lock and its discovery is running
    await waitFor('the holder to lock and start discovering', () => existsSync(lockDir()) && existsSync(path.join(box.state, ACTIVE)));
    const killedAt = now();
    killGroup(holder.child, 'SIGKILL');
    const dead = await holder.done;
    expect(dead.signal).toBe('SIGKILL');
    // the kill left the lock behind (that is what must be recovered) ...
    expect(existsSync(lockDir())).toBe(true);
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
    const waited = discovery.start - killedAt;
    // recovered within the stale bound plus a small margin (node start-up, polling) ...
    expect(waited).toBeLessThanOrEqual(STALE_S * 1000 + 1500);
    // ... and only once the lock had really gone stale (the last refresh was < stale/2 before the kill)
    expect(waited).toBeGreaterThanOrEqual(STALE_S * 1000 / 2 - 250);
    expect(box.nvmeCalls('connect').map((c) => c.exit)).toEqual([0, 0]);
    expect(existsSync(lockDir())).toBe(false);
  });

  it('a live slow holder: a second event exits 0 within ~2 × stale and the holder runs discovery again for it', async () => {
    // the first discovery is slow; the test makes later ones fast once the second event is done
    const slowFile = path.join(box.state, 'discover-ms');
    writeFileSync(slowFile, String(STALE_S * 1000 * 4));
    const holder = box.start(TARGET, { timeoutMs: 60_000 });
    await waitFor('the holder to lock and start discovering', () => existsSync(lockDir()) && existsSync(path.join(box.state, ACTIVE)));

    const second = await box.run(TARGET, { timeoutMs: 30_000 });
    expectExit(second, 0);
    // bounded wait: 2 × stale, plus node start-up
    expect(second.exitedAt - second.spawnedAt).toBeLessThanOrEqual(2 * STALE_S * 1000 + 2000);
    expect(second.stdout).toMatch(/^queued\s+nvmf-disc:tcp:127\.0\.0\.1:4420:none:none: /m);
    expect(box.calls().filter((c) => c.ppid === second.pid)).toEqual([]);
    writeFileSync(slowFile, '20');

    const first = await holder.done;
    expectExit(first, 0);
    const discoveries = box.nvmeCalls('discover').sort((a, b) => a.start - b.start);
    expect(discoveries.map((d) => d.ppid)).toEqual([holder.pid, holder.pid]);
    expect(discoveries.map((d) => d.overlap)).toEqual([false, false]);
    // the second event was on disk before the holder's first round ended, and the
    // holder's next round (which starts with taking the pending event) came after that
    expect(discoveries[0]!.end).toBeGreaterThan(second.exitedAt);
    expect(discoveries[1]!.start).toBeGreaterThan(discoveries[0]!.end);
    expect(existsSync(lockDir())).toBe(false);
  });
});
