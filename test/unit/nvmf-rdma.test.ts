/**
 * NVMe/RDMA through sanhook's pure paths, on the real captures of an rdma
 * controller (Linux 6.1 nvme-rdma/nvmet-rdma over Soft-RoCE, nvme-cli 2.3:
 * test/fixtures/nvme-cli/*-rdma.*, capture-rdma.sh). What differs from tcp
 * on the wire: NVME_TRTYPE=rdma, no src_addr in the controller's `address`,
 * and rdma_* fields in nvme-cli's discovery records. The keys a discovery
 * round, an admin's connect, the AEN, the I/O path and its remove event
 * make must all be the same for one address: they serialise hooks and tie
 * `lost` to what `connect` recorded.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classifyUevent, requestFromOptions, type ConnectRequest } from '../../src/hooks/nvmf/connect-request.js';
import { decideConnect, servingController } from '../../src/hooks/nvmf/connect-decide.js';
import { persistentDiscoveryControllers } from '../../src/hooks/nvmf/connect.js';
import { checkRecord, parseDiscoveryLog } from '../../src/hooks/nvmf/discovery-log.js';
import { ioKey, ioParamsFromOptions } from '../../src/hooks/nvmf/io-request.js';
import { endpointKey } from '../../src/hooks/nvmf/keys.js';
import { classifyLostUevent } from '../../src/hooks/nvmf/lost.js';
import { matchConnectedUevent, matchLostUevent, matchUevent } from '../../src/hooks/nvmf/prefilter.js';
import { controllerFromAttributes, parseAddress, type Controller } from '../../src/hooks/nvmf/sysfs.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/nvme-cli/${name}`, import.meta.url), 'utf8');
const S1 = 'nqn.2026-11.io.sanhook:subsys1';
const S2 = 'nqn.2026-11.io.sanhook:subsys2';
const ADDR = '10.92.0.1';
const DISC_KEY = `nvmf-disc:rdma:${ADDR}:4420:none:none`;
const IO_KEY_S1 = `nvmf:rdma:${ADDR}:4420:${S1}:none:none`;

/** The kernel-side block of a `udevadm monitor --environment` capture whose header matches. */
function kernelEvent(name: string, header: RegExp): Record<string, string> {
  const block = fixture(name)
    .split(/\n\s*\n/)
    .find((b) => b.trimStart().startsWith('KERNEL[') && header.test(b.trimStart().split('\n')[0]!));
  if (!block) throw new Error(`${name}: no kernel event matching ${header}`);
  const env: Record<string, string> = {};
  for (const line of block.trim().split('\n').slice(1)) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}
const attributes = (name: string): Record<string, string> =>
  Object.fromEntries(
    fixture(name)
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
const controller = (name: string, file: string): Controller => {
  const c = controllerFromAttributes(name, attributes(file));
  if (!c) throw new Error(`${file}: not a fabrics controller`);
  return c;
};

const AEN = kernelEvent('uevent-aen-rdma.txt', /change .*\(nvme\)$/);
const REMOVE = kernelEvent('uevent-lost-rdma.txt', /remove .*ctl\/nvme[0-9]+ \(nvme\)$/);
const CONNECTED = kernelEvent('uevent-connect-rdma.txt', /change .*ctl\/nvme[0-9]+ \(nvme\)$/);
const ADD = kernelEvent('uevent-connect-rdma.txt', /add .*ctl\/nvme[0-9]+ \(nvme\)$/);

describe('the rdma captures are what the tests say they are', () => {
  it.each([
    ['AEN', AEN, { ACTION: 'change', NVME_AEN: '0x70f002' }],
    ['remove', REMOVE, { ACTION: 'remove' }],
    ['connected', CONNECTED, { ACTION: 'change', NVME_EVENT: 'connected' }],
    ['add', ADD, { ACTION: 'add' }],
  ])('%s: an nvme event of an rdma controller with the host side "none"', (_name, env, expected) => {
    expect(env).toMatchObject({ SUBSYSTEM: 'nvme', NVME_TRTYPE: 'rdma', NVME_TRADDR: ADDR, NVME_TRSVCID: '4420', NVME_HOST_TRADDR: 'none', NVME_HOST_IFACE: 'none', ...expected });
  });
  it('an rdma controller\'s address has no src_addr (tcp\'s has)', () => {
    expect(parseAddress(attributes('sysfs-io-ctrl-rdma.txt').address!)).toEqual({ traddr: ADDR, trsvcid: '4420' });
    expect(parseAddress(attributes('sysfs-io-ctrl.txt').address!)).toHaveProperty('src_addr');
  });
});

describe('prefilters: the rdma events select the same hooks as tcp ones', () => {
  it.each([
    ['AEN → connect', AEN, { connect: true, lost: false, connected: false }],
    ['remove → lost', REMOVE, { connect: false, lost: true, connected: false }],
    ['NVME_EVENT=connected → connected', CONNECTED, { connect: false, lost: false, connected: true }],
    ['add → none', ADD, { connect: false, lost: false, connected: false }],
  ])('%s', (_name, env, expected) => {
    expect({ connect: matchUevent(env).relevant, lost: matchLostUevent(env), connected: matchConnectedUevent(env) }).toEqual(expected);
  });
});

describe('one discovery address, one key', () => {
  const fromAen = (): ConnectRequest => {
    const input = classifyUevent(AEN);
    if (input.kind !== 'device') throw new Error(`expected a device event, got ${input.kind}`);
    expect(input).toMatchObject({ trigger: 'aen', device: 'nvme1' });
    return requestFromOptions(input.raw, input.trigger) as ConnectRequest;
  };
  it('the AEN of the persistent discovery controller validates into the rdma discovery address', () => {
    expect(fromAen().discovery).toEqual({ kind: 'nvmf-disc', transport: 'rdma', traddr: ADDR, trsvcid: '4420', hostTraddr: 'none', hostIface: 'none' });
    expect(endpointKey(fromAen().discovery)).toBe(DISC_KEY);
  });
  it.each([
    ['sanhook connect -t rdma -a 10.92.0.1 -s 4420', { transport: 'rdma', traddr: ADDR, trsvcid: '4420' }],
    ['sanhook connect -t rdma -a 10.92.0.1 (rdma discovery defaults to 4420)', { transport: 'rdma', traddr: ADDR }],
    ['the persistent discovery controller\'s sysfs (connect --device nvme1)', { transport: 'rdma', traddr: ADDR, trsvcid: '4420', 'host-traddr': 'none', 'host-iface': 'none' }],
  ])('%s: the same key as the AEN, so they queue on one lock', (_name, raw) => {
    expect(endpointKey((requestFromOptions(raw, 'manual') as ConnectRequest).discovery)).toBe(DISC_KEY);
  });
  it('the rdma discovery controller is found for the rdma address, not for tcp at the same address', () => {
    const dc = controller('nvme1', 'sysfs-discovery-ctrl-rdma.txt');
    expect(dc).toMatchObject({ transport: 'rdma', cntrltype: 'discovery', state: 'live', hostTraddr: 'none', hostIface: 'none' });
    const rdma = fromAen().discovery;
    expect(persistentDiscoveryControllers([dc], rdma, undefined)).toEqual(['nvme1']);
    expect(persistentDiscoveryControllers([dc], { ...rdma, transport: 'tcp' }, undefined)).toEqual([]);
  });
});

describe('the rdma discovery log (nvme-cli 2.3 -o json, rdma_* fields)', () => {
  const request = (): ConnectRequest => requestFromOptions({ transport: 'rdma', traddr: ADDR, trsvcid: '4420' }, 'aen') as ConnectRequest;
  it('parses: every record rdma, ipv4, the port as the service id', () => {
    const log = parseDiscoveryLog(fixture('discover-device-rdma.json'));
    expect(log.genctr).toBe(4);
    expect(log.records.map((r) => [r.trtype, r.adrfam, r.subtype, r.traddr, r.trsvcid, r.subnqn])).toEqual([
      ['rdma', 'ipv4', 'current discovery subsystem', ADDR, '4420', 'nqn.2014-08.org.nvmexpress.discovery'],
      ['rdma', 'ipv4', 'nvme subsystem', ADDR, '4420', S1],
      ['rdma', 'ipv4', 'nvme subsystem', ADDR, '4420', S2],
    ]);
    expect(checkRecord(log.records[1]!)).toEqual({ transport: 'rdma', traddr: ADDR, trsvcid: '4420', subnqn: S1 });
  });
  it('decides to connect the new subsystems over rdma, and skips the one a live rdma controller serves', () => {
    const log = parseDiscoveryLog(fixture('discover-device-rdma.json'));
    const io = controller('nvme0', 'sysfs-io-ctrl-rdma.txt');
    const plan = decideConnect({ log, controllers: [io], hostnqn: io.hostnqn }, request(), { exclude: [] });
    expect(plan.decisions.map((d) => (d.action === 'connect' ? `connect ${d.params.subnqn}` : d.action === 'skip' ? `skip:${d.reason}` : `follow ${d.key}`))).toEqual(['skip:discovery-entry', 'skip:already-connected', `connect ${S2}`]);
    const connect = plan.decisions[2]!;
    if (connect.action !== 'connect') throw new Error('expected a connect');
    expect(connect.params).toMatchObject({ transport: 'rdma', traddr: ADDR, trsvcid: '4420', hostTraddr: 'none', hostIface: 'none' });
  });
  it('a controller the kernel is reconnecting (state connecting, as after the unlink) still serves its path', () => {
    const connecting = controller('nvme0', 'sysfs-io-ctrl-connecting-rdma.txt');
    expect(connecting.state).toBe('connecting');
    expect(servingController(ioParamsFromOptions({ transport: 'rdma', traddr: ADDR, trsvcid: '4420', nqn: S1 }), [connecting])?.name).toBe('nvme0');
  });
});

describe('the I/O path: what connect records is what lost finds', () => {
  it('the remove event (with the subnqn the rules stored in the udev db) keys the same path the discovery round connected', () => {
    const log = parseDiscoveryLog(fixture('discover-rdma.json'));
    const request = requestFromOptions({ transport: 'rdma', traddr: ADDR, trsvcid: '4420' }, 'manual') as ConnectRequest;
    const connect = decideConnect({ log, controllers: [], hostnqn: undefined }, request, { exclude: [] }).decisions.find((d) => d.action === 'connect');
    if (connect?.action !== 'connect') throw new Error('expected a connect');
    expect(ioKey(connect.params)).toBe(IO_KEY_S1);

    const lost = classifyLostUevent({ ...REMOVE, SANHOOK_SUBNQN: S1, SANHOOK_CNTRLTYPE: 'io' });
    if (lost.kind !== 'lost') throw new Error(`expected lost, got ${lost.kind}`);
    expect(lost.options).toEqual({ transport: 'rdma', traddr: ADDR, trsvcid: '4420', nqn: S1 });
    expect(ioKey(ioParamsFromOptions(lost.options))).toBe(IO_KEY_S1);
  });
  it('the live rdma controller in sysfs stands for the same path', () => {
    const io = controller('nvme0', 'sysfs-io-ctrl-rdma.txt');
    expect(io).toMatchObject({ transport: 'rdma', traddr: ADDR, trsvcid: '4420', hostTraddr: 'none', hostIface: 'none', subsysnqn: S1, cntrltype: 'io', state: 'live' });
    expect(ioKey(ioParamsFromOptions({ transport: io.transport, traddr: io.traddr, trsvcid: io.trsvcid, nqn: io.subsysnqn }))).toBe(IO_KEY_S1);
  });
});
