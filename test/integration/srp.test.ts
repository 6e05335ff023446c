/**
 * SRP end to end: the real `sanhook srp-*` / `lost` and a real timerd, over a fake sysfs whose
 * SRP files behave like the kernel's (test/fakes/srp-kernel.mjs: add_target logs in or answers
 * EEXIST / ETIMEDOUT, the timers are checked with srp_tmo_valid, delete removes the login), a
 * preload every process of these tests runs with, timerd's hooks included. udev's part is
 * played by the environment the shipped rule gives the hooks (test/support/srp.mjs).
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deviceState, kernelDeletes, portAddEnv, scsiHostRemoveEnv, setPortState, setTargetAway, setWriteDelay, SRP_PRELOAD, srpPorts, srpWorld, srpWrites } from '../support/srp.mjs';
import type { TimerdProcess } from '../support/sandbox.mjs';
import { expectExit, Sandbox, waitFor } from './harness.js';

const ID = '0002c90300a0b0c1';
const GUID = '0002c90300a0b0c2';
const RDMA_LINE = `id_ext=0x${ID},ioc_guid=0x${GUID},dest=10.91.0.1:5555,src=10.91.0.1`;
const KEY = `srp:rxe0-1:${ID}:${GUID}:0000000000000000`;
const CANONICAL = `id_ext=${ID},ioc_guid=${GUID},initiator_ext=0000000000000000,dest=10.91.0.1:5555,src=10.91.0.1`;
const FAST = 'srp:\n  reconnect-delay: 2\n  fast-io-fail: 3\n  dev-loss: 8\n  re-add:\n    delay: 0.2\n    growth: fixed\n';

let box: Sandbox;
let timerd: TimerdProcess | undefined;
beforeEach(() => {
  box = new Sandbox({ prefix: 'sanhook-srp-' });
  srpWorld(box);
});
afterEach(async () => {
  await timerd?.stop();
  timerd = undefined;
  await box.cleanup();
});

const run = (args: string[], env: Record<string, string> = {}) => box.run(args, { nodeArgs: SRP_PRELOAD, env });
const runJson = (args: string[], env: Record<string, string> = {}) => box.runJson(args, { nodeArgs: SRP_PRELOAD, env });
async function startTimerd(): Promise<TimerdProcess> {
  timerd = box.startTimerd({ nodeArgs: SRP_PRELOAD });
  await timerd.ready();
  return timerd;
}
const timers = async () => ((await box.request({ op: 'list' })).entries ?? []) as { key: string; attempts: number }[];
const writesTo = (pattern: RegExp) => srpWrites(box).filter((w) => pattern.test(w.file));
const addTargetWrites = () => writesTo(/add_target$/);
const timerFileWrites = () => writesTo(/(reconnect_delay|fast_io_fail_tmo|dev_loss_tmo)$/).map((w) => [w.file.split('/').at(-1), w.value, w.ok]);

/** srp-add, then the port's add event as udev runs the shipped rule. */
async function login(line = RDMA_LINE): Promise<string> {
  expectExit(await run(['srp-add', '--srp-host', 'srp-rxe0-1', '--target', line]), 0);
  const port = Object.keys(srpPorts(box)).at(-1)!;
  const hostNo = Number(/^port-([0-9]+):/.exec(port)![1]);
  expectExit(await run(['srp-setup', '--uevent'], portAddEnv(hostNo)), 0);
  return port;
}

describe('srp-setup applies the policy to a new port', () => {
  it("the rule's add event: the timers from the kernel's 10/15/600 to sanhook's, in an order the kernel accepts", async () => {
    box.writeConfig('srp:\n  reconnect-delay: 2\n  fast-io-fail: 3\n  dev-loss: 8\n');
    const port = await login();
    expect(srpPorts(box)[port]).toEqual({ state: 'running', reconnect_delay: '2', fast_io_fail_tmo: '3', dev_loss_tmo: '8' });
    // dev_loss 8 before fast_io_fail 3 would leave fast_io_fail 15 >= dev_loss 8 (EINVAL): fast_io_fail goes first
    expect(timerFileWrites()).toEqual([
      ['reconnect_delay', '2', true],
      ['fast_io_fail_tmo', '3', true],
      ['dev_loss_tmo', '8', true],
    ]);
    // a second add event (udevadm trigger) changes nothing
    expectExit(await run(['srp-setup', '--port', port]), 0);
    expect(timerFileWrites()).toHaveLength(3);
  });

  it('per-target rules: first match wins, merged over the defaults; re-add: no is kept for lost', async () => {
    box.writeConfig(`srp:\n  fast-io-fail: off\n  dev-loss: 60\n  targets:\n    - id-ext: 0xffff\n      dev-loss: 30\n    - ioc-guid: 0x${GUID}\n      fast-io-fail: 4\n      dev-loss: off\n`);
    const port = await login();
    expect(srpPorts(box)[port]).toEqual({ state: 'running', reconnect_delay: '5', fast_io_fail_tmo: '4', dev_loss_tmo: 'off' });
  });

  it('--dry-run -o json prints each write and writes nothing', async () => {
    expectExit(await run(['srp-add', '--srp-host', 'srp-rxe0-1', '--target', RDMA_LINE]), 0);
    const { result, items } = await runJson(['--dry-run', 'srp-setup', '--uevent'], portAddEnv(0));
    expectExit(result, 0);
    expect(items.filter((i) => i.kind === 'write').map((i) => [i.outcome, i.file, i.value])).toEqual([
      ['would-set', 'class/srp_remote_ports/port-0:1/reconnect_delay', '5'],
      ['would-set', 'class/srp_remote_ports/port-0:1/fast_io_fail_tmo', '5'],
    ]);
    expect(timerFileWrites()).toEqual([]);
  });

  it('an add event for a port that is gone already is a no-op (exit 0)', async () => {
    const result = await run(['srp-setup', '--uevent'], portAddEnv(7));
    expectExit(result, 0);
    expect(result.stdout).toContain('gone already');
  });
});

describe('lost → timerd → srp-reconnect adds the target again', () => {
  it('the kernel deletes the port at dev_loss; timerd re-adds it once the target is back; then disarmed', async () => {
    box.writeConfig(FAST);
    await startTimerd();
    await login();
    setTargetAway(box, true);
    const env = kernelDeletes(box, 0);
    expectExit(await run(['lost', '--uevent'], env), 0);
    expect((await timers()).map((t) => t.key)).toEqual([KEY]);
    // attempts fail while the target is away (ETIMEDOUT), and the timer stays
    await waitFor('two failed add_target attempts', () => addTargetWrites().filter((w) => !w.ok).length >= 2, { timeoutMs: 20_000 });
    expect(addTargetWrites().filter((w) => !w.ok).every((w) => w.error === 'ETIMEDOUT' && w.value === CANONICAL)).toBe(true);
    setTargetAway(box, false);
    await waitFor('the port back', () => Object.keys(srpPorts(box)).length === 1 || undefined, { timeoutMs: 20_000 });
    await waitFor('the timer disarmed', async () => (await timers()).length === 0, { timeoutMs: 20_000 });
    expect(addTargetWrites().at(-1)).toMatchObject({ ok: true, value: CANONICAL });
    expect(Object.keys(srpPorts(box))).toEqual(['port-1:1']);
  });

  it('EEXIST (already logged in, e.g. srp_daemon was quicker) is success and disarms', async () => {
    box.writeConfig(FAST);
    await startTimerd();
    await login();
    const env = scsiHostRemoveEnv(box, 0);
    // the remove event is handled while someone has logged in again already: the port is there
    const { items } = await runJson(['lost', '--uevent'], env);
    expect(items.map((i) => i.outcome)).toContain('present');
    expect(await timers()).toEqual([]);
    // srp-reconnect by hand for a login that exists: the kernel answers EEXIST only when asked,
    // which a reconnect of a running port never does (it sees the port running)
    const reconnect = await runJson(['srp-reconnect', '--srp-host', 'srp-rxe0-1', '--target', RDMA_LINE]);
    expectExit(reconnect.result, 0);
    expect(reconnect.items.map((i) => i.outcome)).toContain('running');
    // and a direct add of an existing login: EEXIST → already-connected, exit 0
    const again = await runJson(['srp-add', '--srp-host', 'srp-rxe0-1', '--target', RDMA_LINE]);
    expectExit(again.result, 0);
    expect(again.items.map((i) => i.outcome)).toContain('already-connected');
    expect(addTargetWrites().at(-1)).toMatchObject({ ok: false, error: 'EEXIST' });
  });

  it('an RDMA/CM login not added with srp-add cannot be brought back: a warning, no timer', async () => {
    await startTimerd();
    await login();
    forgetRecords(); // as if logged in by a plain echo to add_target: sanhook never saw the line
    const result = await run(['lost', '--uevent'], kernelDeletes(box, 0));
    expectExit(result, 0);
    expect(result.stdout).toContain('cannot-re-add');
    expect(result.stdout).toContain('not armed: an RDMA/CM login not added with `sanhook srp-add`');
    expect(await timers()).toEqual([]);
  });

  it('an IB CM login added some other way is brought back from what sysfs showed (initiator_ext 0)', async () => {
    box.writeConfig(FAST);
    await startTimerd();
    const ib = `id_ext=${ID},ioc_guid=${GUID},dgid=fe800000000000000002c90300a0b0c3,pkey=ffff,service_id=${ID}`;
    expectExit(await run(['srp-add', '--srp-host', 'srp-rxe0-1', '--target', ib]), 0);
    forgetRecords();
    const env = kernelDeletes(box, 0);
    expect(env.SANHOOK_SRP_DGID).toBe('fe80:0000:0000:0000:0002:c903:00a0:b0c3');
    expectExit(await run(['lost', '--uevent'], env), 0);
    await waitFor('the port back', () => Object.keys(srpPorts(box)).length === 1 || undefined, { timeoutMs: 20_000 });
    expect(addTargetWrites().at(-1)).toMatchObject({ ok: true, value: `id_ext=${ID},ioc_guid=${GUID},initiator_ext=0000000000000000,dgid=fe800000000000000002c90300a0b0c3,pkey=ffff,service_id=${ID}` });
  });
});

/** What srp-add recorded, gone: the login looks as if made by srp_daemon or a plain echo. */
function forgetRecords(): void {
  rmSync(path.join(box.stateDir, 'srp', 'targets'), { recursive: true, force: true });
}

describe('srp-erase', () => {
  it('deletes the port; its remove event arms nothing; a re-add by hand or by timerd adds nothing; srp-add brings it back', async () => {
    box.writeConfig(FAST);
    await startTimerd();
    const port = await login();
    const env = scsiHostRemoveEnv(box, 0);
    expectExit(await run(['srp-erase', '--port', port]), 0);
    expect(srpPorts(box)).toEqual({});
    expect(writesTo(/delete$/).map((w) => [w.file, w.ok])).toEqual([[`class/srp_remote_ports/${port}/delete`, true]]);
    // udev: the host's remove event
    const lost = await runJson(['lost', '--uevent'], env);
    expectExit(lost.result, 0);
    expect(lost.items.map((i) => i.outcome)).toEqual(['erased']);
    expect(await timers()).toEqual([]);
    // a timer that was armed before the erase (or a hand-run reconnect) adds nothing
    const reconnect = await runJson(['srp-reconnect', '--srp-host', 'srp-rxe0-1', '--target', RDMA_LINE]);
    expectExit(reconnect.result, 0);
    expect(reconnect.items.map((i) => i.outcome)).toContain('erased');
    expect(addTargetWrites()).toHaveLength(1);
    expect((await run(['status'])).stdout).toContain(`${KEY}: erased on purpose (manual, `);
    // added again on purpose
    expectExit(await run(['srp-add', '--srp-host', 'srp-rxe0-1', '--target', RDMA_LINE]), 0);
    expect(Object.keys(srpPorts(box))).toEqual(['port-1:1']);
  });

  it('the erase wins over a re-add schedule that is running (timerd is disarmed, the next attempt adds nothing)', async () => {
    box.writeConfig(FAST);
    await startTimerd();
    await login();
    setTargetAway(box, true);
    expectExit(await run(['lost', '--uevent'], kernelDeletes(box, 0)), 0);
    await waitFor('a failed attempt', () => addTargetWrites().some((w) => !w.ok) || undefined, { timeoutMs: 20_000 });
    expectExit(await run(['srp-erase', '--srp-host', 'srp-rxe0-1', '--target', RDMA_LINE]), 0);
    expect(await timers()).toEqual([]);
    setTargetAway(box, false);
    const before = addTargetWrites().length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(addTargetWrites()).toHaveLength(before);
    expect(srpPorts(box)).toEqual({});
  });

  it('srp.erased: enforce — a port added again other than by srp-add is deleted again at its add event', async () => {
    box.writeConfig('srp:\n  erased: enforce\n');
    const port = await login();
    expectExit(await run(['srp-erase', '--port', port]), 0);
    const tombstones = path.join(box.stateDir, 'srp', 'erased');
    const [name] = readdirSync(tombstones);
    const tombstone = readFileSync(path.join(tombstones, name!), 'utf8');
    // srp_daemon's next rescan logs in again: a login sanhook's srp-add did not make (its tombstone stays)
    expectExit(await run(['srp-add', '--srp-host', 'srp-rxe0-1', '--target', RDMA_LINE]), 0);
    writeFileSync(path.join(tombstones, name!), tombstone);
    const { result, items } = await runJson(['srp-setup', '--uevent'], portAddEnv(1));
    expectExit(result, 0);
    expect(items.map((i) => i.outcome)).toEqual(['erased-again', 'deleted']);
    expect(srpPorts(box)).toEqual({});
  });
});

describe('srp-disconnect / srp-reconnect / a blocked port', () => {
  it('disconnect offlines the running devices (the host stays); reconnect brings them back', async () => {
    const port = await login();
    expectExit(await run(['srp-disconnect', '--port', port]), 0);
    expect(deviceState(box, '0:0:0:0')).toBe('offline');
    expect(srpPorts(box)[port]?.state).toBe('running');
    expectExit(await run(['srp-reconnect', '--port', port]), 0);
    expect(deviceState(box, '0:0:0:0')).toBe('running');
    expect(writesTo(/device\/state$/).map((w) => [w.value, w.ok])).toEqual([
      ['offline\n', true],
      ['running\n', true],
    ]);
  });

  it('a blocked port gets a reconnect now: reconnect_delay off, 1, then its value again', async () => {
    box.writeConfig('srp:\n  reconnect-delay: 7\n');
    const port = await login();
    setPortState(box, port, 'blocked');
    const { result, items } = await runJson(['srp-reconnect', '--port', port]);
    expectExit(result, 0);
    expect(items.map((i) => i.outcome)).toEqual(['written', 'written', 'written', 'kicked']);
    expect(timerFileWrites().slice(-3)).toEqual([
      ['reconnect_delay', 'off', true],
      ['reconnect_delay', '1', true],
      ['reconnect_delay', '7', true],
    ]);
  });

  it('status lists the port with its state, timers and devices', async () => {
    const port = await login();
    const { items } = await runJson(['status']);
    expect(items.find((i) => i.outcome === 'srp')).toMatchObject({ key: KEY, port, state: 'running', timers: { reconnectDelay: 5, fastIoFail: 5, devLoss: 600 }, scsiHost: 'host0' });
    const text = await run(['status']);
    expect(text.stdout).toContain(`${KEY}: ${port} (host0) running; reconnect_delay=5 fast_io_fail_tmo=5 dev_loss_tmo=600 (as sanhook sets them); failed_reconnects 0; 0:0:0:0 running; can be added again`);
  });
});

describe('racing add and remove events for one login are serialised', () => {
  it('six hooks at once on one key: each process writes in one run, the policy ends applied, nothing armed', async () => {
    box.writeConfig('srp:\n  reconnect-delay: 2\n  fast-io-fail: 3\n  dev-loss: 8\n');
    await startTimerd();
    expectExit(await run(['srp-add', '--srp-host', 'srp-rxe0-1', '--target', RDMA_LINE]), 0);
    setWriteDelay(box, 60);
    const env = scsiHostRemoveEnv(box, 0);
    const results = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => (i % 2 === 0 ? run(['srp-setup', '--uevent'], portAddEnv(0)) : run(['lost', '--uevent'], env))));
    for (const r of results) expectExit(r, 0);
    const writes = timerFileWrites();
    expect(writes).toEqual([
      ['reconnect_delay', '2', true],
      ['fast_io_fail_tmo', '3', true],
      ['dev_loss_tmo', '8', true],
    ]);
    // no two writes overlapped in time, and one process made them all (the others queued or found them done)
    const timed = writesTo(/(reconnect_delay|fast_io_fail_tmo|dev_loss_tmo)$/);
    for (let i = 1; i < timed.length; i++) expect(timed[i]!.at).toBeGreaterThanOrEqual(timed[i - 1]!.end);
    expect(new Set(timed.map((w) => w.pid)).size).toBe(1);
    // lost saw the port present every time: nothing armed
    expect(await timers()).toEqual([]);
  });
});

describe('bad input: exit 2, one line, nothing written', () => {
  const cases: [string, string[], Record<string, string>][] = [
    ['DEVPATH with ..', ['srp-setup', '--uevent'], { ...portAddEnv(0), DEVPATH: '/devices/../../etc/port-0:1' }],
    ['DEVPATH not below /devices', ['srp-setup', '--uevent'], { ...portAddEnv(0), DEVPATH: '/sys/class/srp_remote_ports/port-0:1' }],
    ['a port name that is not port-H:N', ['srp-setup', '--port', '../scsi_host/host0'], {}],
    ['id_ext with an injected option', ['lost', '--uevent'], { SUBSYSTEM: 'scsi_host', ACTION: 'remove', SANHOOK_SRP_ID_EXT: '0x1,dest=6.6.6.6:1', SANHOOK_SRP_IOC_GUID: '0x2', SANHOOK_SRP_IBDEV: 'rxe0', SANHOOK_SRP_IBPORT: '1' }],
    ['ibdev with a path', ['lost', '--uevent'], { SUBSYSTEM: 'scsi_host', ACTION: 'remove', SANHOOK_SRP_ID_EXT: '0x1', SANHOOK_SRP_IOC_GUID: '0x2', SANHOOK_SRP_IBDEV: '../../x', SANHOOK_SRP_IBPORT: '1' }],
    ['overlong non-hex dgid', ['lost', '--uevent'], { SUBSYSTEM: 'scsi_host', ACTION: 'remove', SANHOOK_SRP_ID_EXT: '0x1', SANHOOK_SRP_IOC_GUID: '0x2', SANHOOK_SRP_IBDEV: 'rxe0', SANHOOK_SRP_IBPORT: '1', SANHOOK_SRP_DGID: 'g'.repeat(5000), SANHOOK_SRP_PKEY: '0xffff', SANHOOK_SRP_SERVICE_ID: '0x1' }],
    ['a line with a newline', ['srp-add', '--srp-host', 'srp-rxe0-1', '--target', `${RDMA_LINE}\nio_class=ff00\nid_ext=1`], {}],
    ['an unknown option in the line', ['srp-add', '--srp-host', 'srp-rxe0-1', '--target', `${RDMA_LINE},evil=1`], {}],
    ['a traversal in --srp-host', ['srp-add', '--srp-host', 'srp-../../../etc-1', '--target', RDMA_LINE], {}],
    ['non-hex id_ext', ['srp-add', '--srp-host', 'srp-rxe0-1', '--target', 'id_ext=xyz,ioc_guid=1,dest=1.2.3.4:5'], {}],
  ];
  it.each(cases)('%s', async (_name, args, env) => {
    const result = await run(args, env);
    expectExit(result, 2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(srpWrites(box)).toEqual([]);
  });

  it('hostile sysfs content (an id_ext that would inject an option) is refused before any write', async () => {
    const port = await login();
    const before = srpWrites(box).length;
    writeFileSync(path.join(box.sysfs, 'class', 'scsi_host', 'host0', 'id_ext'), '0x1,dest=6.6.6.6:1\n');
    const result = await run(['srp-setup', '--port', port]);
    expectExit(result, 2);
    expect(result.stderr).toContain('/sys/class/scsi_host/host0/id_ext');
    expect(srpWrites(box)).toHaveLength(before);
  });

  it('a policy the kernel would refuse is refused at config load with file, line and key', async () => {
    expectExit(await run(['srp-add', '--srp-host', 'srp-rxe0-1', '--target', RDMA_LINE]), 0);
    box.writeConfig('srp:\n  fast-io-fail: 30\n  dev-loss: 20\n');
    const result = await run(['srp-setup', '--uevent'], portAddEnv(0));
    expectExit(result, 2);
    expect(result.stderr).toMatch(/sanhook\.yaml:2: srp\.fast-io-fail: fast-io-fail must be less than dev-loss/);
    expect(timerFileWrites()).toEqual([]);
  });
});
