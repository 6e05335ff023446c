/**
 * The initramfs hand-over end to end: the real program, the fake nvme and sysfs.
 * `connect --all --initramfs` in a temp root, then "switch root": the initramfs's
 * state dir is gone (it lived in the initramfs), /run stays; then the real root's
 * `connect --all`. Nothing connected twice, nothing disconnected, the paths managed,
 * the persistent discovery controller still one and sanhook's.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectExit, HOSTNQN, Sandbox, SUBSYS1, SUBSYS2 } from './harness.js';

const BOOT = '6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const FW = 'nqn.2026-11.io.sanhook:bootvol';

let box: Sandbox;
beforeEach(() => {
  box = new Sandbox();
  box.writeRootFile('proc/sys/kernel/random/boot_id', `${BOOT}\n`);
  box.writeRootFile('etc/nvme/discovery.conf', '-t tcp -a 127.0.0.1 -s 4420 --persistent\n');
});
afterEach(async () => {
  await box.cleanup();
});

const handoverFile = () => path.join(box.runDir, 'initramfs-handover.json');
const managedDir = () => path.join(box.stateDir, 'nvmf', 'managed');
const managedKeys = () => (existsSync(managedDir()) ? readdirSync(managedDir()).map((f) => JSON.parse(readFileSync(path.join(managedDir(), f), 'utf8')).key as string).sort() : []);
const ioKey = (nqn: string, traddr = '127.0.0.1') => `nvmf:tcp:${traddr}:4420:${nqn}:none:none`;
/** What survives switch-root: /run. The initramfs's /var/lib/sanhook does not. */
const switchRoot = () => rmSync(box.stateDir, { recursive: true, force: true });
const discoveryControllers = () => box.controllers().filter((c) => c.cntrltype === 'discovery');
const ioControllers = () => box.controllers().filter((c) => c.cntrltype === 'io');

describe('initramfs stage → real root', () => {
  it('records the connected paths and the persistent discovery controller; the real root adopts them without a second connect', async () => {
    const initramfs = await box.run(['connect', '--all', '--initramfs']);
    expectExit(initramfs, 0);
    const record = JSON.parse(readFileSync(handoverFile(), 'utf8'));
    expect(record).toMatchObject({ format: 'sanhook-initramfs-handover', version: 1, bootId: BOOT, nbft: false });
    expect(record.paths.map((p: { options: { nqn: string }; origin: string }) => `${p.options.nqn}:${p.origin}`).sort()).toEqual([`${SUBSYS1}:connected`, `${SUBSYS2}:connected`]);
    expect(record.discoveryControllers).toHaveLength(1);
    expect(initramfs.stdout).toMatch(/recorded\s+.*2 path\(s\), 1 persistent discovery controller\(s\) handed over/);
    const connectsBefore = box.nvmeCalls('connect').length;
    const controllersBefore = box.controllers().map((c) => `${c.name}:${c.cntrltype}:${c.subsysnqn}`);
    expect(connectsBefore).toBe(2);

    switchRoot();
    const root = await box.run(['-o', 'json', 'connect', '--all']);
    expectExit(root, 0);
    // nothing connected twice, nothing torn down, no second persistent discovery controller
    expect(box.nvmeCalls('connect')).toHaveLength(connectsBefore);
    expect(box.nvmeCalls('disconnect')).toEqual([]);
    expect(box.controllers().map((c) => `${c.name}:${c.cntrltype}:${c.subsysnqn}`)).toEqual(controllersBefore);
    expect(discoveryControllers()).toHaveLength(1);
    expect(managedKeys()).toEqual([ioKey(SUBSYS1), ioKey(SUBSYS2)]);
    // the persistent discovery controller is sanhook's again: its discovery record (timerd brings it back), as the initramfs round wrote it
    const discoveryDir = path.join(box.stateDir, 'nvmf', 'discovery');
    const records = readdirSync(discoveryDir).map((f) => JSON.parse(readFileSync(path.join(discoveryDir, f), 'utf8')) as { key: string; device: string; options: Record<string, string> });
    expect(records).toEqual([expect.objectContaining({ key: 'nvmf-disc:tcp:127.0.0.1:4420:none:none', device: discoveryControllers()[0]!.name, options: expect.objectContaining({ transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420' }) })]);
    expect(readFileSync(path.join(box.root, 'run', 'nvme', 'registry', discoveryControllers()[0]!.name, 'owner'), 'utf8')).toBe('sanhook\n');
    expect(readFileSync(path.join(box.runDir, 'initramfs-handover.adopted'), 'utf8')).toBe(`${BOOT}\n`);

    // once per boot: a later connect --all does not adopt again
    const again = await box.run(['-o', 'json', 'connect', '--all']);
    expectExit(again, 0);
    expect(again.stdout).not.toMatch(/initramfs-handover|origin/);
    expect(box.nvmeCalls('connect')).toHaveLength(connectsBefore);
  });

  it('a second initramfs round (dracut runs its hook per interface) keeps the record sanhook\'s: still connected, no second connect', async () => {
    box.writeRootFile('../sys/firmware/acpi/tables/NBFT', 'NBFT'); // even with NBFT: its own paths are not the firmware's
    expectExit(await box.run(['connect', '--all', '--initramfs']), 0);
    expectExit(await box.run(['connect', '--all', '--initramfs']), 0);
    const record = JSON.parse(readFileSync(handoverFile(), 'utf8'));
    expect(record.paths.map((p: { origin: string }) => p.origin)).toEqual(['connected', 'connected']);
    expect(record.discoveryControllers).toHaveLength(1);
    expect(box.nvmeCalls('connect')).toHaveLength(2);
    expect(discoveryControllers()).toHaveLength(1);
  });

  it('a record of another boot is ignored with its reason, and the round still adopts what it finds', async () => {
    expectExit(await box.run(['connect', '--all', '--initramfs']), 0);
    switchRoot();
    box.writeRootFile('proc/sys/kernel/random/boot_id', '11111111-2222-4333-8444-555555555555\n');
    const root = await box.run(['connect', '--all']);
    expectExit(root, 0);
    expect(root.stdout).toMatch(/ignored\s+.*initramfs hand-over record ignored: stale: written in boot 6f1b2c3d/);
    expect(box.nvmeCalls('connect')).toHaveLength(2);
    expect(managedKeys()).toEqual([ioKey(SUBSYS1), ioKey(SUBSYS2)]);
  });

  it('a corrupt record is ignored with its reason; the boot connect goes on (exit 0)', async () => {
    mkdirSync(box.runDir, { recursive: true });
    writeFileSync(handoverFile(), '{"format":"sanhook-initramfs-handover","version":1,');
    const root = await box.run(['connect', '--all']);
    expectExit(root, 0);
    expect(root.stdout).toMatch(/ignored\s+.*initramfs hand-over record ignored: corrupt: not JSON/);
    expect(box.nvmeCalls('connect')).toHaveLength(2);
  });

  it('--initramfs goes with --all only (exit 2)', async () => {
    const result = await box.run(['connect', '--initramfs', '-t', 'tcp', '-a', '127.0.0.1']);
    expectExit(result, 2);
    expect(result.stderr).toMatch(/--initramfs goes with --all/);
  });
});

describe('firmware boot paths (NBFT)', () => {
  beforeEach(() => {
    // The firmware's boot path, connected before sanhook's initramfs round (`nvme connect-all --nbft`).
    box.writeRootFile('../sys/firmware/acpi/tables/NBFT', 'NBFT');
    box.addController('nvme0', {
      transport: 'tcp',
      address: 'traddr=127.0.0.9,trsvcid=4420,src_addr=127.0.0.1',
      subsysnqn: FW,
      hostnqn: HOSTNQN,
      cntrltype: 'io',
      state: 'live',
      dev: '249:0',
    });
  });

  it('are recorded as firmware, adopted as managed, and `sanhook disconnect` refuses them unless --force', async () => {
    expectExit(await box.run(['connect', '--all', '--initramfs']), 0);
    const record = JSON.parse(readFileSync(handoverFile(), 'utf8'));
    expect(record.nbft).toBe(true);
    expect(record.paths.find((p: { options: { nqn: string } }) => p.options.nqn === FW)).toMatchObject({ device: 'nvme0', origin: 'firmware' });
    switchRoot();
    expectExit(await box.run(['connect', '--all']), 0);
    expect(managedKeys()).toContain(ioKey(FW, '127.0.0.9'));

    const refused = await box.run(['disconnect', '--nqn', FW]);
    expectExit(refused, 1);
    expect(refused.stdout).toMatch(/refused\s+.*connected by firmware for boot \(NBFT\); not disconnected \(--force disconnects it anyway\)/);
    expect(box.nvmeCalls('disconnect')).toEqual([]);
    expect(ioControllers().map((c) => c.subsysnqn)).toContain(FW);
    expect(managedKeys()).toContain(ioKey(FW, '127.0.0.9'));

    // (the fake nvme has no `disconnect`: the rest is the plan a dry run prints)
    const other = await box.run(['--dry-run', 'disconnect', '--nqn', SUBSYS1]);
    expectExit(other, 0);
    expect(other.stdout).toMatch(/would-disconnect/);
    const forced = await box.run(['--dry-run', 'disconnect', '--nqn', FW, '--force']);
    expectExit(forced, 0);
    expect(forced.stdout).toMatch(/would-disconnect\s+.*nvme0/);
    expect(forced.stdout).not.toMatch(/refused/);
  });
});
