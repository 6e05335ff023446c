/**
 * `sanhook connect --uevent`: the udev RUN entry. The event comes from the
 * environment (the real AEN uevent captured from a 6.1 kernel); under systemd the
 * network work is handed to a transient unit (fake systemd-run, which really runs it).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BIN,
  expectExit,
  HOSTNQN,
  KEY_4420,
  readAttributes,
  readUevent,
  Sandbox,
  shebangFlags,
  SUBSYS1,
  SUBSYS2,
  waitFor,
} from './harness.js';

let box: Sandbox;
beforeEach(() => {
  box = new Sandbox();
});
afterEach(async () => {
  await box.cleanup();
});

const AEN = readUevent('uevent-aen.txt');
const DISCOVERY_CTRL = readAttributes('sysfs-discovery-ctrl.txt');

const discoverViaNvme1 = [
  'discover', '--transport', 'tcp', '--traddr', '127.0.0.1', '--trsvcid', '4420', '--device', 'nvme1', '--hostnqn', HOSTNQN, '--output-format', 'json',
];
/** Re-enables the discovery controller's AENs before each discovery (see nvme-cli.ts rearmDiscoveryAen). */
const rearmNvme1 = ['get-log', '/dev/nvme1', '--log-id=0x70', '--log-len=1024', '--raw-binary'];
const connectArgv = (nqn: string) => ['connect', '--transport', 'tcp', '--traddr', '127.0.0.1', '--trsvcid', '4420', '--nqn', nqn, '--hostnqn', HOSTNQN, '--output-format', 'json'];

function subsysnqnOf(name: string): string {
  return readFileSync(path.join(box.sysfs, 'class', 'nvme', name, 'subsysnqn'), 'utf8').trim();
}

describe('connect --uevent (inline: no systemd)', () => {
  it('the captured fixture is the discovery-log-changed AEN of nvme1', () => {
    expect(AEN).toMatchObject({ ACTION: 'change', SUBSYSTEM: 'nvme', NVME_AEN: '0x70f002', DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme1', NVME_TRTYPE: 'tcp' });
    expect(DISCOVERY_CTRL).toMatchObject({ cntrltype: 'discovery', transport: 'tcp' });
  });

  it('the real AEN re-reads the log through the persistent discovery controller and connects what is new', async () => {
    box.addController('nvme1', DISCOVERY_CTRL);
    const result = await box.run(['-o', 'json', 'connect', '--uevent'], { env: AEN });
    expectExit(result, 0);
    expect(box.calls().map((c) => c.argv)).toEqual([rearmNvme1, discoverViaNvme1, connectArgv(SUBSYS1), connectArgv(SUBSYS2)]);
    expect(box.calls().every((c) => c.ppid === result.pid)).toBe(true);
    const items = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(items.filter((i) => i.outcome === 'connected').map((i) => [i.subnqn, i.trigger])).toEqual([
      [SUBSYS1, 'aen'],
      [SUBSYS2, 'aen'],
    ]);
    // the discovery controller is untouched; the new I/O controllers took free names
    expect(box.sysfsControllers()).toEqual(['nvme0', 'nvme1', 'nvme2']);
    expect(subsysnqnOf('nvme1')).toBe('nqn.2014-08.org.nvmexpress.discovery');
    expect([subsysnqnOf('nvme0'), subsysnqnOf('nvme2')]).toEqual([SUBSYS1, SUBSYS2]);
  });

  it('NVME_EVENT=rediscover is handled like the AEN', async () => {
    box.addController('nvme1', DISCOVERY_CTRL);
    const { NVME_AEN: _aen, ...rest } = AEN;
    const result = await box.run(['connect', '--uevent'], { env: { ...rest, NVME_EVENT: 'rediscover' } });
    expectExit(result, 0);
    expect(box.calls().map((c) => c.argv[0])).toEqual(['get-log', 'discover', 'connect', 'connect']);
    expect(box.calls()[1]!.argv).toEqual(discoverViaNvme1);
  });

  it('when the discovery controller is gone by the time the hook runs, the address from the event is asked directly', async () => {
    const result = await box.run(['connect', '--uevent'], { env: AEN });
    expectExit(result, 0);
    expect(box.calls().map((c) => c.argv)).toEqual([
      ['discover', '--transport', 'tcp', '--traddr', '127.0.0.1', '--trsvcid', '4420', '--hostnqn', HOSTNQN, '--output-format', 'json'],
      connectArgv(SUBSYS1),
      connectArgv(SUBSYS2),
    ]);
  });

  it('an FC nvmediscovery event runs discovery over FC with the host port of the event', async () => {
    const host = 'nn-0x20000090fa942779:pn-0x10000090fa942779';
    const target = 'nn-0x203b00a098cbcac6:pn-0x204d00a098cbcac6';
    // nvme-cli's JSON format, FC values (not captured: the VM has no FC HBA)
    box.writeStateFile(
      `logs/fc_${target}_none.json`,
      JSON.stringify({
        genctr: 1,
        records: [
          { trtype: 'fc', adrfam: 'fibre-channel', subtype: 'nvme subsystem', treq: 'not specified', portid: 1, trsvcid: 'none', subnqn: SUBSYS1, traddr: target, eflags: 'none', sectype: 'none' },
        ],
      }),
    );
    const env = { ACTION: 'change', SUBSYSTEM: 'fc', DEVPATH: '/devices/virtual/fc/fc_udev_device', FC_EVENT: 'nvmediscovery', NVMEFC_HOST_TRADDR: host, NVMEFC_TRADDR: target, SEQNUM: '4711' };
    const result = await box.run(['-o', 'json', 'connect', '--uevent'], { env });
    expectExit(result, 0);
    expect(box.calls().map((c) => c.argv)).toEqual([
      ['discover', '--transport', 'fc', '--traddr', target, '--host-traddr', host, '--hostnqn', HOSTNQN, '--output-format', 'json'],
      ['connect', '--transport', 'fc', '--traddr', target, '--host-traddr', host, '--nqn', SUBSYS1, '--hostnqn', HOSTNQN, '--output-format', 'json'],
    ]);
    const items = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(items.map((i) => [i.outcome, i.trigger])).toEqual([
      ['connected', 'fc-discovery'],
      ['claimed', 'fc-discovery'],
    ]);
  });

  const base = { ...AEN };
  const irrelevant: [string, Record<string, string>][] = [
    ['another subsystem', { ...base, SUBSYSTEM: 'block' }],
    ['an add of the controller', { ...base, ACTION: 'add' }],
    ['a remove of the controller', { ...base, ACTION: 'remove' }],
    ['another AEN (namespace attribute changed)', { ...base, NVME_AEN: '0x000002' }],
    ['NVME_EVENT=connected', { ...Object.fromEntries(Object.entries(base).filter(([k]) => k !== 'NVME_AEN')), NVME_EVENT: 'connected' }],
    ['an fc event that is not nvmediscovery', { ACTION: 'change', SUBSYSTEM: 'fc', FC_EVENT: 'linkup' }],
    ['an fc nvmediscovery without addresses', { ACTION: 'change', SUBSYSTEM: 'fc', FC_EVENT: 'nvmediscovery' }],
    ['no udev environment at all', {}],
  ];
  describe.each([
    ['with --root/--sysfs', undefined],
    ['bare `sanhook connect --uevent` (fast path)', [] as string[]],
  ])('irrelevant events, %s → exit 0, no nvme call, no output', (_how, globals) => {
    it.each(irrelevant)('%s', async (_name, env) => {
      box.addController('nvme1', DISCOVERY_CTRL);
      const result = await box.run(['connect', '--uevent'], { env, ...(globals ? { globals } : {}) });
      expectExit(result, 0);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe('');
      expect(box.calls()).toEqual([]);
      expect(box.systemdRunCalls()).toEqual([]);
    });
  });
});

describe('connect --uevent under systemd: hand-off to a transient unit', () => {
  it('records the event, calls systemd-run --no-block with sanhook argv words, returns at once; the unit connects', async () => {
    box.bootSystemd();
    box.addController('nvme1', DISCOVERY_CTRL);
    // the unit's discovery is held: the hook must return while it is still running
    const release = box.holdDiscovery();
    const hook = await box.run(['-o', 'json', 'connect', '--uevent'], { env: AEN });
    expectExit(hook, 0);
    const runs = box.systemdRunCalls();
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run.ppid).toBe(hook.pid);
    expect(run.options['--no-block']).toBe(true);
    expect(run.unit).toMatch(/^sanhook-connect-[0-9a-f]{12}-792\.service$/);
    // the unit runs node as the hook ran: with the entry's #! flags (--jitless under udevd's MDWE)
    expect(run.command).toEqual([
      // core/self-argv.ts: the same program with the same global options as this process
      process.execPath, ...shebangFlags(), BIN, '--platform', 'linux', '--root', box.root, '--sysfs', box.sysfs, '--log-level', 'info',
      'connect', '--transport', 'tcp', '--traddr', '127.0.0.1', '--trsvcid', '4420', '--device', 'nvme1', '--trigger', 'aen',
    ]);
    // the event was on disk before the hand-off
    expect(run.pending).toContain(`${KEY_4420}#connect`); // pending/<key>#<verb>
    const report = hook.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(report).toEqual([expect.objectContaining({ outcome: 'handed-off', key: KEY_4420 })]);
    // the hook itself touched no network
    expect(box.calls().filter((c) => c.ppid === hook.pid)).toEqual([]);
    // returned at once: the unit's discovery has not finished (it is held once it starts)
    expect(box.nvmeCalls('discover')).toEqual([]);
    await waitFor("the unit's discovery to start", () => existsSync(path.join(box.state, 'active', 'tcp_127.0.0.1_4420')));
    release();

    const unit = await box.unitResult(run.unit);
    expect(unit.exitCode, unit.log).toBe(0);
    const calls = box.calls();
    expect(calls.map((c) => c.argv)).toEqual([rearmNvme1, discoverViaNvme1, connectArgv(SUBSYS1), connectArgv(SUBSYS2)]);
    expect(calls.every((c) => c.ppid === unit.mainPid)).toBe(true);
    expect(calls[1]!.held).toBe(true);
    expect(box.sysfsControllers()).toEqual(['nvme0', 'nvme1', 'nvme2']);
  });

  it('a failing systemd-run makes the hook fail (exit 1) with one message line', async () => {
    box.bootSystemd();
    box.addController('nvme1', DISCOVERY_CTRL);
    // the same SEQNUM twice: the second unit name is still taken (the first unit is running: its discovery is held)
    const release = box.holdDiscovery();
    const first = await box.run(['connect', '--uevent'], { env: AEN });
    expectExit(first, 0);
    const second = await box.run(['connect', '--uevent'], { env: AEN });
    expectExit(second, 1);
    const messages = second.stderr.split('\n').filter((l) => l.startsWith('sanhook: '));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^sanhook: systemd-run failed \(exit 1\): Failed to start transient service unit/);
    expect(second.stderr).not.toMatch(/\n\s+at /);
    release();
    await box.unitResult(box.systemdRunCalls()[0]!.unit);
  });

  it('--dry-run under systemd does not hand off: it observes inline and prints the plan', async () => {
    box.bootSystemd();
    box.addController('nvme1', DISCOVERY_CTRL);
    const result = await box.run(['--dry-run', 'connect', '--uevent'], { env: AEN });
    expectExit(result, 0);
    expect(box.systemdRunCalls()).toEqual([]);
    expect(box.calls().map((c) => c.argv)).toEqual([discoverViaNvme1]);
    expect(result.stdout).toMatch(/^would-connect\s+nvme connect /m);
    expect(box.sysfsControllers()).toEqual(['nvme1']);
  });
});
