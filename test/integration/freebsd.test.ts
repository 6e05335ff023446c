/**
 * FreeBSD, end to end on this machine: the real CLI with `--platform freebsd`
 * (paths under /usr/local/etc, /var/run, /var/db of a temp root), the fake
 * nvmecontrol (test/fakes/nvmecontrol.mjs: FreeBSD 15's messages and devlist
 * format), and real timerd processes for the manual path of kernels without
 * reconnect timers.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectExit, now, RECORD_PENDING, Sandbox, waitFor, type RunResult } from './harness.js';

const NQN = 'nqn.2026-11.io.sanhook:subsys1';
const LANDED = '!system=nvme subsystem=controller type=RECONNECT name="nvme0"';
const DRAFT = '!system=nvmf subsystem=nvme0 type=reconnect';
const KEY = 'nvmf-ctrl:nvme0';

let box: Sandbox;
beforeEach(() => {
  box = new Sandbox({ platform: 'freebsd' });
});
afterEach(async () => {
  await box.cleanup();
});

const run = (args: string[]) => box.run(args);
const calls = () => box.controlCalls();
const reconnects = () => calls().filter((c) => c.argv[0] === 'reconnect').sort((a, b) => a.start - b.start);
const controllers = () => JSON.parse(readFileSync(path.join(box.control, 'controllers.json'), 'utf8')) as Record<string, { state: string }>;

function setController(name: string, state: 'connected' | 'disconnected'): void {
  const file = path.join(box.control, 'controllers.json');
  const all = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  all[name] = { state, transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420', subnqn: NQN, hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:3b2ec7f2-8d5e-11ef-9c4a-0cc47a8c2f10', ...(state === 'disconnected' ? { disconnectedSince: Date.now() - 12_000 } : {}) };
  box.writeControlFile('controllers.json', JSON.stringify(all));
}

describe('FreeBSD: a devd RECONNECT notification reconnects the controller', () => {
  it.each([
    ['the landed form', LANDED],
    ['the draft form', DRAFT],
  ])('%s: devlist shows it disconnected, `nvmecontrol reconnect nvme0` (the kernel kept its parameters), exit 0', async (_name, line) => {
    setController('nvme0', 'disconnected');
    const result = await run(['-o', 'json', 'devd', line]);
    expectExit(result, 0);
    expect(calls().map((c) => c.argv)).toEqual([['devlist'], ['reconnect', 'nvme0']]);
    expect(controllers().nvme0!.state).toBe('connected');
    expect(JSON.parse(result.stdout.trim())).toMatchObject({ hook: 'reconnect', key: KEY, device: 'nvme0', trigger: 'devd', outcome: 'reconnected' });
  });

  it('the event line on stdin (`sanhook devd -`) works the same', async () => {
    setController('nvme0', 'disconnected');
    expectExit(await box.run(['devd', '-'], { stdin: `${LANDED}\n` }), 0);
    expect(reconnects().map((c) => c.argv)).toEqual([['reconnect', 'nvme0']]);
  });

  it('a late notification for a connected controller runs no reconnect', async () => {
    setController('nvme0', 'connected');
    const result = await run(['devd', LANDED]);
    expectExit(result, 0);
    expect(calls().map((c) => c.argv)).toEqual([['devlist']]);
    expect(result.stdout).toMatch(/nvme0 is connected \(tcp 10\.0\.0\.5:4420\)/);
  });

  it('a controller already detached (ctrl-loss) is nothing to do', async () => {
    setController('nvme1', 'connected');
    const result = await run(['devd', LANDED]);
    expectExit(result, 0);
    expect(reconnects()).toEqual([]);
    expect(result.stdout).toMatch(/nvme0 no longer exists/);
  });

  it('a target still down: exit 1 with nvmecontrol\'s message on one line; the kernel notifies again after reconnect-delay', async () => {
    setController('nvme0', 'disconnected');
    box.writeControlFile('unreachable', '10.0.0.5:4420\n');
    const result = await run(['devd', LANDED]);
    expectExit(result, 1);
    expect(result.stderr.trim().split('\n').filter((l) => l.startsWith('sanhook:'))).toEqual([
      'sanhook: nvmf-ctrl:nvme0: nvmecontrol reconnect failed: Failed to connect to controller at 10.0.0.5:4420: Connection refused',
    ]);
    expect(controllers().nvme0!.state).toBe('disconnected');
  });

  it.each([
    ['garbage', 'reconnect nvme0', /devd event "reconnect nvme0": must start with/],
    ['a hostile name', '!system=nvme subsystem=controller type=RECONNECT name="nvme0 && reboot"', /devd event name: must be an NVMe controller name like nvme0/],
    ['an unterminated quote', '!system=nvme subsystem=controller type=RECONNECT name="nvme0', /unterminated quoted value of name/],
  ])('%s: exit 2, one line, nothing run', async (_name, line, message) => {
    const result = await run(['devd', line]);
    expectExit(result, 2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    expect(calls()).toEqual([]);
  });

  it('other devd events are ignored (exit 0, nothing run)', async () => {
    const result = await run(['devd', '!system=IFNET subsystem=em0 type=LINK_UP']);
    expectExit(result, 0);
    expect(calls()).toEqual([]);
  });
});

describe('FreeBSD: a storm of 100 notifications for one controller', () => {
  const PRELOAD = ['--import', pathToFileURL(RECORD_PENDING).href];

  async function storm(count: number, extra: Record<string, string>): Promise<{ results: RunResult[]; lastSpawn: number }> {
    const running = [];
    for (let i = 0; i < count; i += 1) running.push(box.start(['devd', LANDED], { env: { FAKE_PENDING_JITTER_MS: '10', ...extra }, nodeArgs: PRELOAD, timeoutMs: 150_000 }));
    const lastSpawn = now();
    return { results: await Promise.all(running.map((r) => r.done)), lastSpawn };
  }

  it('target down: attempts are serialised (never two nvmecontrol reconnect at once), coalesced, and the last one starts after the last notification was recorded', { timeout: 200_000 }, async () => {
    setController('nvme0', 'disconnected');
    box.writeControlFile('unreachable', '10.0.0.5:4420\n');
    box.writeControlFile('reconnect-ms', '30');
    const { results, lastSpawn } = await storm(100, {});
    expect(results.filter((r) => r.signal !== null || (r.exitCode !== 0 && r.exitCode !== 1)).map((r) => r.stderr)).toEqual([]);
    const attempts = reconnects();
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.length).toBeLessThan(100);
    expect(attempts.filter((a) => a.overlap)).toEqual([]);
    for (let i = 1; i < attempts.length; i += 1) expect(attempts[i]!.start).toBeGreaterThan(attempts[i - 1]!.end);
    expect(attempts.at(-1)!.start).toBeGreaterThan(lastSpawn);
    // strict: every process wrote its event once; the last write was taken (no marker is left, and the last
    // take did not end before the last write began: each rename is only known to lie between its
    // before/after stamps, taken in different processes), and an attempt followed the last take
    const renames = box.pendingRenames().filter((r) => r.ok);
    const marker = `${KEY}#reconnect`; // pending/<key>#<verb>
    const writes = renames.filter((r) => r.to === marker && r.from.endsWith('.tmp'));
    const takes = renames.filter((r) => r.from === marker && r.to.startsWith(`${marker}.taken.`));
    expect(writes).toHaveLength(100);
    expect(existsSync(path.join(box.pendingDir, marker))).toBe(false);
    const lastWriteBegan = Math.max(...writes.map((w) => w.before));
    const lastTake = takes.reduce((a, b) => (b.before > a.before ? b : a)); // takes never overlap: only the holder takes
    expect(lastTake.after).toBeGreaterThan(lastWriteBegan);
    expect(attempts.at(-1)!.start).toBeGreaterThan(lastTake.after);
  });

  it('target back: exactly one nvmecontrol reconnect; the queued notifications find it connected', { timeout: 200_000 }, async () => {
    setController('nvme0', 'disconnected');
    box.writeControlFile('reconnect-ms', '50');
    const { results } = await storm(100, {});
    expect(results.filter((r) => r.exitCode !== 0).map((r) => r.stderr.slice(-300))).toEqual([]);
    expect(reconnects()).toHaveLength(1);
    expect(calls().filter((c) => c.argv[0] === 'devlist').length).toBeGreaterThan(1);
    expect(controllers().nvme0!.state).toBe('connected');
  });
});

describe('FreeBSD: kernels without reconnect timers (the manual path through timerd)', () => {
  const config = (delay: number, loss: number) => box.writeRootFile('usr/local/etc/sanhook/sanhook.yaml', `nvmf:\n  lost:\n    reconnect-delay: ${delay}\n    ctrl-loss-tmo: ${loss}\n`);

  async function withTimerd<T>(body: () => Promise<T>): Promise<T> {
    const daemon = box.startTimerd();
    await daemon.ready();
    try {
      return await body();
    } finally {
      await daemon.stop();
    }
  }

  it('lost --device with the address arms timerd; it runs `reconnect --device` every reconnect-delay until nvmecontrol reconnect succeeds, then disarms', { timeout: 120_000 }, async () => {
    config(1, 60);
    setController('nvme0', 'disconnected');
    box.writeControlFile('unreachable', '10.0.0.5:4420\n');
    await withTimerd(async () => {
      const lost = await run(['lost', '--device', 'nvme0', '-a', '10.0.0.5', '-s', '4420']);
      expectExit(lost, 0);
      expect(lost.stdout).toMatch(/nvmf-ctrl:nvme0: timerd armed/);
      await waitFor('two reconnect attempts', () => reconnects().length >= 2);
      box.writeControlFile('unreachable', '');
      await waitFor('nvme0 reconnected', () => controllers().nvme0!.state === 'connected');
      const attempts = reconnects();
      // the address form: older kernels do not keep the parameters
      expect(attempts[0]!.argv).toEqual(['reconnect', '--transport', 'tcp', 'nvme0', '10.0.0.5:4420']);
      for (let i = 1; i < attempts.length; i += 1) expect(attempts[i]!.start - attempts[i - 1]!.start).toBeGreaterThan(800);
      await waitFor('the timer disarmed', async () => /no timers|empty/i.test((await run(['timers'])).stdout));
    });
  });

  it('both timers 0 (both disabled) is refused up front, naming the file and line: such a timer would never do anything', async () => {
    config(0, 0);
    const result = await run(['lost', '--device', 'nvme0', '-a', '10.0.0.5', '-s', '4420']);
    expectExit(result, 2);
    expect(result.stderr.trim()).toBe(`sanhook: ${path.join(box.root, 'usr/local/etc/sanhook/sanhook.yaml')}:3: nvmf.lost: reconnect-delay 0 with ctrl-loss-tmo 0/-1 would keep a timer that never does anything`);
  });

  it('0 disables attempts only: with reconnect-delay 0 timerd makes no attempt and detaches at ctrl-loss (give-up: nvmecontrol disconnect)', { timeout: 120_000 }, async () => {
    config(0, 2);
    setController('nvme0', 'disconnected');
    await withTimerd(async () => {
      expectExit(await run(['lost', '--device', 'nvme0', '-a', '10.0.0.5', '-s', '4420']), 0);
      await waitFor('the give-up (nvmecontrol disconnect)', () => calls().some((c) => c.argv[0] === 'disconnect'));
    });
    expect(reconnects()).toEqual([]);
    expect(calls().find((c) => c.argv[0] === 'disconnect')!.argv).toEqual(['disconnect', 'nvme0']);
    expect(Object.keys(controllers())).toEqual([]);
  });

  it('sanhook disconnect --device: nvmecontrol disconnect, and a later notification does not reconnect it', async () => {
    setController('nvme0', 'disconnected');
    expectExit(await run(['disconnect', '--device', 'nvme0']), 0);
    setController('nvme0', 'disconnected'); // as if the kernel still listed it
    const result = await run(['devd', LANDED]);
    expectExit(result, 0);
    expect(result.stdout).toMatch(/disconnected on purpose/);
    expect(reconnects()).toEqual([]);
  });
});
