/**
 * NVMe/RDMA end to end through the real CLI: the real AEN of an rdma
 * persistent discovery controller (6.1 kernel over Soft-RoCE), its real sysfs
 * attributes and nvme-cli 2.3's real rdma discovery log (test/fixtures/nvme-cli/
 * *-rdma.*), the fake nvme creating rdma controllers as the kernel prints them
 * (`address` without src_addr). The VM suites nvmf-aen-rdma and nvmf-loss-rdma
 * run the same on the real kernel.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectExit, FIXTURES, HOSTNQN, readAttributes, readUevent, Sandbox, SUBSYS1 as S1, SUBSYS2 as S2 } from './harness.js';

const ADDR = '10.92.0.1';
const AEN = readUevent('uevent-aen-rdma.txt');
const DISCOVERY_CTRL = readAttributes('sysfs-discovery-ctrl-rdma.txt');
const TARGET = ['--transport', 'rdma', '--traddr', ADDR, '--trsvcid', '4420'];
const rearm = ['get-log', '/dev/nvme1', '--log-id=0x70', '--log-len=1024', '--raw-binary'];
const discoverVia = ['discover', ...TARGET, '--device', 'nvme1', '--hostnqn', HOSTNQN, '--output-format', 'json'];
const connectArgv = (nqn: string) => ['connect', ...TARGET, '--nqn', nqn, '--hostnqn', HOSTNQN, '--output-format', 'json'];

let box: Sandbox;
beforeEach(() => {
  box = new Sandbox();
  // what nvme-cli 2.3 printed for `discover --device nvme1 -t rdma ...` once both subsystems were linked
  box.writeStateFile(`logs/rdma_${ADDR}_4420.json`, readFileSync(path.join(FIXTURES, 'discover-device-rdma.json'), 'utf8'));
  box.addController('nvme1', DISCOVERY_CTRL);
});
afterEach(async () => {
  await box.cleanup();
});

const attribute = (name: string, attr: string) => readFileSync(path.join(box.sysfs, 'class', 'nvme', name, attr), 'utf8').trim();
const items = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('connect --uevent over rdma', () => {
  it('the captured fixtures are an rdma AEN of the rdma discovery controller nvme1', () => {
    expect(AEN).toMatchObject({ ACTION: 'change', SUBSYSTEM: 'nvme', NVME_AEN: '0x70f002', DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme1', NVME_TRTYPE: 'rdma', NVME_HOST_TRADDR: 'none' });
    expect(DISCOVERY_CTRL).toMatchObject({ transport: 'rdma', cntrltype: 'discovery', address: `traddr=${ADDR},trsvcid=4420` });
  });

  it('the AEN re-reads the log through nvme1 and connects both subsystems over rdma, keyed on the rdma address', async () => {
    const result = await box.run(['-o', 'json', 'connect', '--uevent'], { env: AEN });
    expectExit(result, 0);
    expect(box.calls().map((c) => c.argv)).toEqual([rearm, discoverVia, connectArgv(S1), connectArgv(S2)]);
    const report = items(result.stdout);
    expect(report.filter((i) => i.outcome === 'connected').map((i) => [i.subnqn, i.trigger])).toEqual([
      [S1, 'aen'],
      [S2, 'aen'],
    ]);
    expect(report.every((i) => i.key === `nvmf-disc:rdma:${ADDR}:4420:none:none`)).toBe(true);
    expect(box.sysfsControllers()).toEqual(['nvme0', 'nvme1', 'nvme2']);
    expect(['nvme0', 'nvme2'].map((c) => [attribute(c, 'transport'), attribute(c, 'address'), attribute(c, 'subsysnqn')])).toEqual([
      ['rdma', `traddr=${ADDR},trsvcid=4420`, S1],
      ['rdma', `traddr=${ADDR},trsvcid=4420`, S2],
    ]);
  });

  it('the next AEN finds both served by their rdma controllers: no nvme connect', async () => {
    expectExit(await box.run(['connect', '--uevent'], { env: AEN }), 0);
    const before = box.calls().length;
    const again = await box.run(['-o', 'json', 'connect', '--uevent'], { env: AEN });
    expectExit(again, 0);
    expect(box.calls().slice(before).map((c) => c.argv)).toEqual([rearm, discoverVia]);
    expect(items(again.stdout).map((i) => [i.subnqn, i.outcome, i.reason])).toEqual([
      ['nqn.2014-08.org.nvmexpress.discovery', 'skipped', 'discovery-entry'],
      [S1, 'skipped', 'already-connected'],
      [S2, 'skipped', 'already-connected'],
    ]);
  });

  it('an admin\'s `sanhook connect -t rdma -a ADDR` (rdma discovery defaults to port 4420) reuses the persistent discovery controller\'s address', async () => {
    const result = await box.run(['-o', 'json', 'connect', '-t', 'rdma', '-a', ADDR, '--persistent']);
    expectExit(result, 0);
    const discover = box.calls().find((c) => c.argv[0] === 'discover');
    expect(discover?.argv.slice(0, 7)).toEqual(['discover', ...TARGET]);
    expect(box.sysfsControllers().filter((c) => attribute(c, 'cntrltype') === 'discovery')).toEqual(['nvme1']);
    expect(items(result.stdout).every((i) => i.key === `nvmf-disc:rdma:${ADDR}:4420:none:none`)).toBe(true);
  });
});
