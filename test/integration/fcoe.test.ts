/**
 * FCoE end to end: the real `sanhook dcb-check` / `fcoe-destroy` and a real timerd, with
 * fake `dcb`/`dcbtool`/`lldptool` printing real formats (test/fakes/dcb.mjs) and a fake
 * sysfs whose FCoE files behave like the kernel's (test/fakes/fcoe-kernel.mjs, a preload
 * every process of these tests runs with, timerd's hooks included).
 *
 * The retry schedule runs at its real speed: fcoemon's 0.2 s × n for 10 attempts, then
 * fcoe-destroy. What each test waits for is an event in timerd's log or the fake kernel's
 * write log, never a fixed sleep.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addNetdev, ctlrs, DCB_READY, dcbCalls, fcoeWorld, FCOE_PRELOAD, fcoeWrites, removeNetdev, setDcb, setLink, writeCfg } from '../support/fcoe.mjs';
import type { TimerdProcess } from '../support/sandbox.mjs';
import { expectExit, Sandbox, waitFor } from './harness.js';

const STEP_MS = 200;
const RETRIES = 10;
/** As test/integration/timerd/ms-schedule.test.ts: half a step, ~50× timerd's p99 lateness. */
const LATE_TOLERANCE_MS = 100;
const KEY = 'fcoe:v0';
/** PFC configured but not operational (the DCBX peer has not answered yet): neither create nor destroy. */
const PFC_DOWN = { ...DCB_READY, pfcOper: false };

let box: Sandbox;
let timerd: TimerdProcess | undefined;
beforeEach(() => {
  box = new Sandbox({ prefix: 'sanhook-fcoe-' });
  fcoeWorld(box);
});
afterEach(async () => {
  await timerd?.stop();
  timerd = undefined;
  await box.cleanup();
});

const run = (args: string[], env: Record<string, string> = {}) => box.run(args, { nodeArgs: FCOE_PRELOAD, env });
const runJson = (args: string[]) => box.runJson(args, { nodeArgs: FCOE_PRELOAD });
async function startTimerd(): Promise<TimerdProcess> {
  timerd = box.startTimerd({ nodeArgs: FCOE_PRELOAD });
  await timerd.ready();
  return timerd;
}
const timers = async () => ((await box.request({ op: 'list' })).entries ?? []) as { key: string; id: number; attempts: number }[];
const destroys = () => fcoeWrites(box).filter((w) => w.file === 'bus/fcoe/ctlr_destroy');
const attemptsOf = (d: TimerdProcess) => d.logs('event fired', { key: KEY, event: 'reconnect' });

describe('dcb-check creates, DCB not required (the same path as DCB_REQUIRED="yes", no DCB asked)', () => {
  it('a link event on v0: ctlr_create, mode, enable, each after the one before; a second event creates nothing', async () => {
    addNetdev(box, 'v0');
    writeCfg(box, 'v0', { MODE: 'vn2vn' });
    expectExit(await run(['dcb-check', '--ifname', 'v0']), 0);
    expect(ctlrs(box)).toEqual([{ name: 'ctlr_0', ifname: 'v0', enabled: true, mode: 'VN2VN' }]);
    expect(fcoeWrites(box).map((w) => [w.file, w.value, w.ok])).toEqual([
      ['bus/fcoe/ctlr_create', 'v0', true],
      ['class/net/v0/ctlr_0/mode', 'vn2vn', true],
      ['class/net/v0/ctlr_0/enabled', '1', true],
    ]);
    expect(dcbCalls(box)).toEqual([]);
    expectExit(await run(['dcb-check', '--ifname', 'v0']), 0);
    expect(ctlrs(box)).toHaveLength(1);
    expect(fcoeWrites(box)).toHaveLength(3);
  });

  it('--dry-run -o json prints every write of the plan and writes nothing', async () => {
    addNetdev(box, 'v0');
    writeCfg(box, 'v0', { FIP_RESP: 'yes' });
    const { result, items } = await box.runJson(['--dry-run', 'dcb-check', '--ifname', 'v0'], { nodeArgs: FCOE_PRELOAD });
    expectExit(result, 0);
    expect(items.filter((i) => i.kind === 'write').map((i) => [i.outcome, i.file, i.value])).toEqual([
      ['would-create', 'bus/fcoe/ctlr_create', 'v0'],
      ['would-set-mode', 'class/net/v0/ctlr_*/mode', 'fabric'],
      ['would-set-fip-responder', 'class/net/v0/ctlr_*/fip_vlan_responder', '1'],
      ['would-enable', 'class/net/v0/ctlr_*/enabled', '1'],
    ]);
    expect(fcoeWrites(box)).toEqual([]);
  });

  it('a VLAN: a link event on the real interface checks the VLAN configured on it; DCB is asked on the real interface', async () => {
    addNetdev(box, 'v0');
    addNetdev(box, 'v0.100', { vlanOf: 'v0' });
    writeCfg(box, 'v0.100', { DCB_REQUIRED: 'yes' });
    setDcb(box, 'v0', DCB_READY);
    expectExit(await run(['dcb-check', '--ifname', 'v0']), 0);
    expect(ctlrs(box)).toEqual([{ name: 'ctlr_0', ifname: 'v0.100', enabled: true, mode: 'Fabric' }]);
    const asked = dcbCalls(box).map((c) => c.argv.join(' '));
    expect(asked.filter((line) => /\bv0$/.test(line)).length).toBeGreaterThan(0);
    expect(asked.filter((line) => line.includes('v0.100'))).toEqual([]);
  });

  it('the udev add event of an interface with a cfg file; other net events do nothing', async () => {
    addNetdev(box, 'v0');
    writeCfg(box, 'v0');
    expectExit(await run(['dcb-check', '--uevent'], { SUBSYSTEM: 'net', ACTION: 'add', INTERFACE: 'v0', SEQNUM: '7' }), 0);
    expect(ctlrs(box)).toHaveLength(1);
    addNetdev(box, 'v1');
    const other = await run(['dcb-check', '--uevent'], { SUBSYSTEM: 'net', ACTION: 'add', INTERFACE: 'v1', SEQNUM: '8' });
    expectExit(other, 0);
    expect(other.stdout).toMatch(/v1: no \/etc\/fcoe\/cfg-<ifname> for it or a VLAN on it/);
    expect(ctlrs(box)).toHaveLength(1);
  });

  it('legacy kernels (no /sys/bus/fcoe): one write to libfcoe create_vn2vn, and the instance is seen by its fc_host', async () => {
    await box.cleanup();
    box = new Sandbox({ prefix: 'sanhook-fcoe-' });
    fcoeWorld(box, { bus: false });
    addNetdev(box, 'v0');
    writeCfg(box, 'v0', { MODE: 'vn2vn' });
    expectExit(await run(['dcb-check', '--ifname', 'v0']), 0);
    expectExit(await run(['dcb-check', '--ifname', 'v0']), 0);
    expect(fcoeWrites(box).map((w) => [w.file, w.value])).toEqual([['module/libfcoe/parameters/create_vn2vn', 'v0']]);
    expectExit(await run(['fcoe-destroy', '--ifname', 'v0']), 0);
    expect(fcoeWrites(box).map((w) => [w.file, w.value]).at(-1)).toEqual(['module/libfcoe/parameters/destroy', 'v0']);
  });
});

describe('DCB_REQUIRED="yes" with a real timerd: retries at 0.2 s × n, then fcoe-destroy', () => {
  beforeEach(() => {
    addNetdev(box, 'v0');
    writeCfg(box, 'v0', { DCB_REQUIRED: 'yes' });
  });

  it('a flapping PFC that recovers before retry 10: created, never destroyed, the schedule ends', { timeout: 120_000 }, async () => {
    const d = await startTimerd();
    setDcb(box, 'v0', PFC_DOWN);
    const first = await run(['dcb-check', '--ifname', 'v0']);
    expectExit(first, 0);
    // the kernel's dcbnl (the dcb source) has one PFC state: not operational reads as not enabled
    expect(first.stdout).toMatch(/fcoe:v0: PFC is not (enabled|operational); retry: timerd armed/);
    await waitFor('three failed attempts', () => d.logs('hook finished', { key: KEY, exit_code: 1 }).length >= 3, { timeoutMs: 30_000 });
    setDcb(box, 'v0', DCB_READY);
    await waitFor('an attempt that succeeds', () => d.logs('hook finished', { key: KEY, exit_code: 0 }).length === 1, { timeoutMs: 30_000 });
    expect(ctlrs(box)).toEqual([{ name: 'ctlr_0', ifname: 'v0', enabled: true, mode: 'Fabric' }]);
    expect(await timers()).toEqual([]);
    expect(attemptsOf(d).length).toBeLessThan(RETRIES);
    expect(destroys()).toEqual([]);
    expect(d.logs('event fired', { key: KEY, event: 'loss' })).toEqual([]);
  });

  it('staying broken: 10 attempts 0.2, 0.4 … 2 s apart, then destroyed exactly once, nothing left', { timeout: 120_000 }, async () => {
    setDcb(box, 'v0', DCB_READY);
    expectExit(await run(['dcb-check', '--ifname', 'v0']), 0);
    expect(ctlrs(box)).toHaveLength(1);
    const d = await startTimerd();
    setDcb(box, 'v0', PFC_DOWN);
    expectExit(await run(['dcb-check', '--ifname', 'v0']), 0);
    await d.waitLog('the loss hook', (r) => r.msg === 'hook finished' && r.key === KEY && r.hook === 'fcoe-destroy', 60_000);
    const fired = d.logs('event fired', { key: KEY });
    const finished = d.logs('hook finished', { key: KEY });
    expect(fired.map((r) => r.event)).toEqual([...Array.from({ length: RETRIES }, () => 'reconnect'), 'loss']);
    expect(finished.map((r) => r.exit_code)).toEqual([...Array.from({ length: RETRIES }, () => 1), 0]);
    const waits: number[] = [];
    for (let n = 2; n <= RETRIES; n += 1) {
      const wait = fired[n - 1]!.at - finished[n - 2]!.at;
      waits.push(wait);
      expect(wait, `wait before attempt ${n}`).toBeGreaterThanOrEqual(STEP_MS * n - 1);
      expect(wait, `wait before attempt ${n}`).toBeLessThanOrEqual(STEP_MS * n + LATE_TOLERANCE_MS);
    }
    console.log(`[fcoe] staying broken: waits before attempts 2..10: ${waits.join(', ')} ms`);
    expect(destroys().map((w) => [w.value, w.ok])).toEqual([['v0', true]]);
    expect(fcoeWrites(box).filter((w) => w.file.endsWith('/enabled')).map((w) => w.value)).toEqual(['1', '0']);
    expect(ctlrs(box)).toEqual([]);
    expect(await timers()).toEqual([]);
  });

  it('netdev removal during the retries: no ctlr and no timer at once, and no attempt after it', { timeout: 120_000 }, async () => {
    setDcb(box, 'v0', DCB_READY);
    expectExit(await run(['dcb-check', '--ifname', 'v0']), 0);
    const d = await startTimerd();
    setDcb(box, 'v0', PFC_DOWN);
    expectExit(await run(['dcb-check', '--ifname', 'v0']), 0);
    await waitFor('two failed attempts', () => d.logs('hook finished', { key: KEY, exit_code: 1 }).length >= 2, { timeoutMs: 30_000 });
    removeNetdev(box, 'v0');
    const removed = await run(['fcoe-destroy', '--uevent'], { SUBSYSTEM: 'net', ACTION: 'remove', INTERFACE: 'v0', SEQNUM: '9' });
    expectExit(removed, 0);
    expect(await timers()).toEqual([]);
    expect(ctlrs(box)).toEqual([]);
    const after = attemptsOf(d).length;
    // the next attempt would have been due within 2 s: wait past it
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(attemptsOf(d).length).toBeLessThanOrEqual(after + 1); // one may have been running at the removal
    expect(d.logs('event fired', { key: KEY, event: 'loss' })).toEqual([]);
  });

  it('link down during the retries cancels them; link up starts the sequence over from attempt 1', { timeout: 120_000 }, async () => {
    const d = await startTimerd();
    setDcb(box, 'v0', PFC_DOWN);
    expectExit(await run(['dcb-check', '--ifname', 'v0']), 0);
    await waitFor('three failed attempts', () => d.logs('hook finished', { key: KEY, exit_code: 1 }).length >= 3, { timeoutMs: 30_000 });
    setLink(box, 'v0', false);
    const down = await run(['dcb-check', '--ifname', 'v0']);
    expectExit(down, 0);
    expect(down.stdout).toMatch(/link down on v0/);
    expect(await timers()).toEqual([]);
    const [before] = [attemptsOf(d).length];
    setLink(box, 'v0', true);
    const up = await run(['dcb-check', '--ifname', 'v0']);
    expectExit(up, 0);
    const [entry] = await timers();
    expect(entry).toMatchObject({ key: KEY, attempts: 0 });
    // attempt 1 of the new schedule is due 0.2 s after the arm
    await waitFor('the new schedule\'s first attempt', () => d.logs('event fired', { key: KEY, attempt: 1 }).length === 2, { timeoutMs: 10_000 });
    expect(attemptsOf(d).length).toBeGreaterThan(before);
    setDcb(box, 'v0', DCB_READY);
    await waitFor('created', () => ctlrs(box).length === 1, { timeoutMs: 30_000 });
    await waitFor('the schedule ended', async () => (await timers()).length === 0, { timeoutMs: 10_000 });
    expect(destroys()).toEqual([]);
  });

  it('the periodic recheck (--all) does not restart a running schedule (arm keep)', { timeout: 120_000 }, async () => {
    const d = await startTimerd();
    setDcb(box, 'v0', PFC_DOWN);
    expectExit(await run(['dcb-check', '--ifname', 'v0']), 0);
    const [armed] = await timers();
    await waitFor('two failed attempts', () => d.logs('hook finished', { key: KEY, exit_code: 1 }).length >= 2, { timeoutMs: 30_000 });
    expectExit(await run(['dcb-check', '--all']), 0);
    const [kept] = await timers();
    expect(kept!.id).toBe(armed!.id);
    expect(kept!.attempts).toBeGreaterThanOrEqual(2);
    // kept, never replaced: the only arm timerd logged is the first (the recheck may also have run a
    // queued attempt's round: that keeps the schedule too)
    expect(d.logs('already armed; kept', { key: KEY }).length).toBeGreaterThanOrEqual(1);
    expect(d.logs('armed', { key: KEY })).toHaveLength(1);
  });

  it('a DCB change without a link change: the recheck destroys at once when App:FCoE is disabled', async () => {
    setDcb(box, 'v0', DCB_READY);
    expectExit(await run(['dcb-check', '--all']), 0);
    expect(ctlrs(box)).toHaveLength(1);
    setDcb(box, 'v0', { ...DCB_READY, app: null });
    expectExit(await run(['dcb-check', '--all']), 0);
    expect(ctlrs(box)).toEqual([]);
    expect(destroys()).toHaveLength(1);
  });

  it('sanhook status lists the interface with its ctlr, DCB verdict and retry state', { timeout: 60_000 }, async () => {
    await startTimerd();
    setDcb(box, 'v0', PFC_DOWN);
    expectExit(await run(['dcb-check', '--ifname', 'v0']), 0);
    const { result, items } = await runJson(['status']);
    expectExit(result, 0);
    expect(items.find((i) => i.outcome === 'fcoe')).toMatchObject({ key: KEY, verdict: 'retry', dcbRequired: true, mode: 'fabric', ctlr: null, retry: { attempts: expect.any(Number) } });
    const text = await run(['status']);
    expectExit(text, 0);
    expect(text.stdout).toMatch(/^fcoe +fcoe:v0: no ctlr; fabric, DCB required; DCB retry \(dcb\): PFC is not (enabled|operational); retrying: \d+ attempt\(s\) made/m);
  });
});

describe('bad input: one clear line, nothing written', () => {
  it.each([
    ['an unquoted value', 'FCOE_ENABLE=yes\n', /cfg-v0:1: FCOE_ENABLE: /],
    ['an unknown key', 'FCOE_ENABLE="yes"\nDCB_REQUIRED="no"\nCOLOR="blue"\n', /cfg-v0:3: COLOR: /],
    ['an overlong value', `FCOE_ENABLE="yes"\nMODE="${'x'.repeat(400)}"\n`, /cfg-v0:2: MODE: /],
  ])('%s in cfg-v0: exit 2 naming file and line', async (_name, text, message) => {
    addNetdev(box, 'v0');
    box.writeRootFile('etc/fcoe/cfg-v0', text);
    const result = await run(['dcb-check', '--ifname', 'v0']);
    expectExit(result, 2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    expect(fcoeWrites(box)).toEqual([]);
  });

  it.each([['..'], ['a:b'], ['eth0 x'], ['x'.repeat(16)]])('a cfg file named cfg-%s: exit 2 naming the file, nothing written', async (name) => {
    addNetdev(box, 'v0');
    writeCfg(box, 'v0');
    box.writeRootFile(`etc/fcoe/cfg-${name}`, 'FCOE_ENABLE="yes"\n');
    const result = await run(['dcb-check', '--ifname', 'v0']);
    expectExit(result, 2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`cfg-${name}: the file name does not name a network interface`);
    expect(fcoeWrites(box)).toEqual([]);
  });

  it.each([
    ['../etc', /--ifname/],
    ['a/b', /--ifname/],
    ['x'.repeat(16), /--ifname/],
  ])('--ifname %s: exit 2, one line', async (name, message) => {
    const result = await run(['dcb-check', '--ifname', name]);
    expectExit(result, 2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });

  it('a hostile udev INTERFACE: exit 2, nothing run', async () => {
    const result = await run(['dcb-check', '--uevent'], { SUBSYSTEM: 'net', ACTION: 'add', INTERFACE: '../../x', SEQNUM: '1' });
    expectExit(result, 2);
    expect(result.stderr).toMatch(/INTERFACE/);
    expect(dcbCalls(box)).toEqual([]);
  });

  it.each([
    ['garbage', { garbage: 'Segmentation fault\n\u0000\u0001' }],
    ['huge', { garbage: 'x'.repeat(5_000_000) }],
    ['truncated JSON', { garbage: '{"prio_pfc":{"0":false,"1":fal' }],
  ])('hostile dcb output (%s): a query error, retried, never a crash', async (_name, state) => {
    addNetdev(box, 'v0');
    writeCfg(box, 'v0', { DCB_REQUIRED: 'yes' });
    setDcb(box, 'v0', { ...DCB_READY, ...state });
    // without timerd the arm fails (exit 3): the decision to retry is what matters, seen in dry run
    const { result, items } = await box.runJson(['--dry-run', 'dcb-check', '--ifname', 'v0'], { nodeArgs: FCOE_PRELOAD });
    expectExit(result, 0);
    expect(items.find((i) => i.kind === 'arm')).toMatchObject({ outcome: 'would-arm', reason: 'query-error' });
    expect(existsSync(path.join(box.sysfs, 'bus', 'fcoe', 'devices', 'ctlr_0'))).toBe(false);
  });
});
