/** FreeBSD controller hooks: request validation, the reconnect decision, and nvmecontrol's argv and devlist (pure tables). */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import {
  controllerArmMessage,
  controllerKey,
  controllerOptions,
  controllerRequest,
  decideControllerDisconnect,
  decideControllerGiveUp,
  decideControllerLost,
  decideControllerReconnect,
  decideFreebsdConnect,
} from '../../src/hooks/nvmf/controller.js';
import { DEFAULT_LOST_POLICY } from '../../src/hooks/nvmf/config.js';
import { NONE } from '../../src/hooks/nvmf/keys.js';
import { addressWord, connectAllArgv, connectArgv, disconnectArgv, parseDevlist, reconnectArgv, toolMessage, type DevlistController } from '../../src/hooks/nvmf/nvmecontrol.js';

const NQN = 'nqn.2026-11.io.sanhook:subsys1';
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:3b2ec7f2-8d5e-11ef-9c4a-0cc47a8c2f10';

describe('controllerRequest', () => {
  it.each([
    ['the device alone (kernels that keep the parameters)', { device: 'nvme0' }, { device: 'nvme0' }],
    ['/dev/ prefix accepted', { device: '/dev/nvme3' }, { device: 'nvme3' }],
    ['with an address (older kernels)', { device: 'nvme0', traddr: '10.0.0.5', trsvcid: '4420' }, { device: 'nvme0', address: { traddr: '10.0.0.5', trsvcid: '4420' } }],
    [
      'address, host NQN and timers',
      { device: 'nvme0', traddr: 'fd00::5', trsvcid: '4420', hostnqn: HOSTNQN, 'reconnect-delay': '5', 'ctrl-loss-tmo': '0' },
      { device: 'nvme0', address: { traddr: 'fd00::5', trsvcid: '4420', hostnqn: HOSTNQN, reconnectDelay: 5, ctrlLossTmo: 0 } },
    ],
  ])('%s', (_name, options, request) => {
    expect(controllerRequest(options)).toEqual(request);
    // round trip through a timer entry's plain options
    expect(controllerRequest(controllerOptions(controllerRequest(options)))).toEqual(request);
  });

  it.each([
    ['no device', {}, /--device is required/],
    ['a hostile device', { device: 'nvme0;reboot' }, /--device: must be an NVMe controller name/],
    ['a namespace, not a controller', { device: 'nvme0ns1' }, /must be an NVMe controller name/],
    ['an address without a port', { device: 'nvme0', traddr: '10.0.0.5' }, /--traddr and --trsvcid go together/],
    ['a port without an address', { device: 'nvme0', trsvcid: '4420' }, /go together/],
    ['a bad port', { device: 'nvme0', traddr: '10.0.0.5', trsvcid: '99999' }, /--trsvcid/],
    ['a bad address', { device: 'nvme0', traddr: '10.0.0.5 -r 1', trsvcid: '4420' }, /--traddr/],
    ['a Linux-only option', { device: 'nvme0', 'host-iface': 'em0' }, /--host-iface: not used with --device on FreeBSD/],
    ['a subsystem NQN (the kernel knows it)', { device: 'nvme0', nqn: NQN }, /--nqn: not used with --device/],
  ])('rejects %s', (_name, options, message) => {
    expect(() => controllerRequest(options as Record<string, string>)).toThrow(UsageError);
    expect(() => controllerRequest(options as Record<string, string>)).toThrow(message);
  });

  it('names timer parameters as params.*', () => {
    expect(() => controllerRequest({ device: 'nvme0', traddr: '10.0.0.5' }, 'params.')).toThrow(/params\.traddr and params\.trsvcid/);
  });
});

describe('decideControllerReconnect', () => {
  const ctrl = (association: DevlistController['association']): DevlistController => ({ name: 'nvme0', model: 'FreeBSD', association });
  it.each([
    ['disconnected: reconnect', ctrl({ state: 'disconnected', seconds: 12 }), false, { kind: 'run', argv: ['nvmecontrol', 'reconnect', 'nvme0'], interpret: 'nvmecontrol' }],
    ['association unknown: only an attempt can tell', ctrl({ state: 'unknown' }), false, { kind: 'run', argv: ['nvmecontrol', 'reconnect', 'nvme0'] }],
    ['connected (a late notification): done', ctrl({ state: 'connected', transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420' }), false, { kind: 'note', outcome: 'connected' }],
    ['gone (detached at ctrl-loss): done', undefined, false, { kind: 'note', outcome: 'gone' }],
    ['disconnected by the admin: done, even if the kernel still lists it', ctrl({ state: 'disconnected', seconds: 1 }), true, { kind: 'note', outcome: 'disconnected-by-admin' }],
  ])('%s', (_name, observed, tombstoned, expected) => {
    const plan = decideControllerReconnect({ request: { device: 'nvme0' }, observed, tombstoned, fromTimerd: true, trigger: 'timer' });
    expect(plan).toMatchObject({ hook: 'reconnect', key: 'nvmf-ctrl:nvme0', actions: [expected] });
    expect(plan.actions).toHaveLength(1);
  });
  it('run by hand (devd or an admin), a settled controller also drops its timer', () => {
    const plan = decideControllerReconnect({ request: { device: 'nvme0' }, observed: undefined, tombstoned: false, fromTimerd: false, trigger: 'devd' });
    expect(plan.actions.map((a) => a.kind)).toEqual(['note', 'disarm']);
  });
});

describe('FreeBSD give-up, lost and disconnect: the plans', () => {
  const ctrl = (association: DevlistController['association']): DevlistController => ({ name: 'nvme0', model: 'FreeBSD', association });
  it('give-up detaches a controller that is still disconnected, and leaves a connected or gone one alone', () => {
    expect(decideControllerGiveUp('nvme0', ctrl({ state: 'disconnected', seconds: 600 }), 'timer').actions).toMatchObject([{ kind: 'run', argv: ['nvmecontrol', 'disconnect', 'nvme0'], done: 'given-up' }]);
    expect(decideControllerGiveUp('nvme0', ctrl({ state: 'connected', transport: 'tcp', traddr: 'a', trsvcid: '1' }), 'timer').actions).toMatchObject([{ kind: 'note', outcome: 'connected' }]);
    expect(decideControllerGiveUp('nvme0', undefined, 'timer').actions).toMatchObject([{ kind: 'note', outcome: 'gone' }]);
  });
  it('lost arms unless the controller was disconnected on purpose', () => {
    const policy = { reconnectDelay: 10, ctrlLossTmo: 600, growth: 'fixed' as const, maxAttempts: 0, reconnectUnmanaged: false };
    expect(decideControllerLost({ device: 'nvme0' }, false, policy).actions).toMatchObject([{ kind: 'arm', request: { hook: 'reconnect', params: { device: 'nvme0' } } }]);
    expect(decideControllerLost({ device: 'nvme0' }, true, policy).actions).toMatchObject([{ kind: 'note', outcome: 'ignored' }]);
  });
  it('connect runs nvmecontrol connect-all for the discovery address (not nvme-cli)', () => {
    const discovery = { kind: 'nvmf-disc' as const, transport: 'tcp' as const, traddr: '10.0.0.5', trsvcid: '8009', hostTraddr: NONE, hostIface: NONE };
    expect(decideFreebsdConnect({ discovery, trigger: 'manual', persistent: false }, 'nqn.2014-08.org.nvmexpress:uuid:1')).toMatchObject({
      hook: 'connect',
      key: 'nvmf-disc:tcp:10.0.0.5:8009:none:none',
      actions: [{ kind: 'run', verb: 'connect', argv: ['nvmecontrol', 'connect-all', '--transport', 'tcp', '--hostnqn', 'nqn.2014-08.org.nvmexpress:uuid:1', '10.0.0.5:8009'], interpret: 'nvmecontrol' }],
    });
  });
  it('disconnect: tombstone first, then disarm and detach', () => {
    expect(decideControllerDisconnect('nvme0').actions).toMatchObject([{ kind: 'record', store: 'disconnected', then: [{ kind: 'disarm' }, { kind: 'run', argv: ['nvmecontrol', 'disconnect', 'nvme0'] }] }]);
  });
});

describe('nvmecontrol argv', () => {
  it('addresses are one word; IPv6 in brackets', () => {
    expect(addressWord('10.0.0.5', '4420')).toBe('10.0.0.5:4420');
    expect(addressWord('fd00::5', '4420')).toBe('[fd00::5]:4420');
  });
  it('reconnect: the device alone reuses what the kernel saved', () => {
    expect(reconnectArgv('nvme0')).toEqual(['reconnect', 'nvme0']);
  });
  it('reconnect with an address: options first, then device and address (getopt stops at the first operand)', () => {
    expect(reconnectArgv('nvme0', { traddr: '10.0.0.5', trsvcid: '4420', hostnqn: HOSTNQN, reconnectDelay: 5, ctrlLossTmo: -1 })).toEqual([
      'reconnect', '--transport', 'tcp', '--hostnqn', HOSTNQN, '--reconnect-delay', '5', '--ctrl-loss-tmo', '0', 'nvme0', '10.0.0.5:4420',
    ]);
  });
  it('connect: address then SubNQN as operands; -1 (never) becomes 0, which disables the loss timer there', () => {
    expect(connectArgv({ transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420', subnqn: NQN, hostTraddr: NONE, hostIface: NONE, hostnqn: HOSTNQN, reconnectDelay: 10, ctrlLossTmo: -1 })).toEqual([
      'connect', '--transport', 'tcp', '--hostnqn', HOSTNQN, '--reconnect-delay', '10', '--ctrl-loss-tmo', '0', '10.0.0.5:4420', NQN,
    ]);
  });
  it('connect-all: the discovery port defaults to 8009', () => {
    expect(connectAllArgv({ kind: 'nvmf-disc', transport: 'tcp', traddr: '10.0.0.5', trsvcid: NONE, hostTraddr: NONE, hostIface: NONE })).toEqual(['connect-all', '--transport', 'tcp', '10.0.0.5:8009']);
  });
  it('disconnect: the controller name', () => {
    expect(disconnectArgv('nvme2')).toEqual(['disconnect', 'nvme2']);
  });
  it('messages lose the program prefix', () => {
    expect(toolMessage('nvmecontrol: Failed to handoff queues to kernel: Device busy\n')).toBe('Failed to handoff queues to kernel: Device busy');
  });
});

describe('parseDevlist (sbin/nvmecontrol/devlist.c formats)', () => {
  it('connected, disconnected, local (PCIe) controllers; namespace lines skipped; IPv6 printed without brackets', () => {
    const stdout = [
      ' nvme0: FreeBSD (connected via TCP 10.0.0.5:4420)',
      '    nvme0ns1 (1024MB)',
      ' nvme1: FreeBSD (disconnected for 12 seconds)',
      ' nvme2: Samsung SSD 980 PRO 1TB',
      '    nvme2ns1 (953869MB)',
      ' nvme3: Linux (connected via TCP fd00::5:4420)',
      '',
    ].join('\n');
    expect(parseDevlist(stdout)).toEqual([
      { name: 'nvme0', model: 'FreeBSD', association: { state: 'connected', transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420' } },
      { name: 'nvme1', model: 'FreeBSD', association: { state: 'disconnected', seconds: 12 } },
      { name: 'nvme2', model: 'Samsung SSD 980 PRO 1TB', association: { state: 'unknown' } },
      { name: 'nvme3', model: 'Linux', association: { state: 'connected', transport: 'tcp', traddr: 'fd00::5', trsvcid: '4420' } },
    ]);
  });
  it('no controllers ("No NVMe controllers found.", exit 69) is an empty list', () => {
    expect(parseDevlist('No NVMe controllers found.\n')).toEqual([]);
  });
});

describe('timer entries for controllers', () => {
  it('key and arm request: reconnect every delay, give-up at ctrl-loss; 0 (FreeBSD: disabled) is never', () => {
    const request = controllerRequest({ device: 'nvme0', traddr: '10.0.0.5', trsvcid: '4420' });
    expect(controllerKey('nvme0')).toBe('nvmf-ctrl:nvme0');
    expect(controllerArmMessage(request, DEFAULT_LOST_POLICY)).toEqual({
      op: 'arm', hook: 'reconnect', lossHook: 'give-up', params: { device: 'nvme0', traddr: '10.0.0.5', trsvcid: '4420' }, delayMs: 10_000, growth: 'fixed', lossMs: 600_000, lossAttempts: 0,
    });
    expect(controllerArmMessage(request, { ...DEFAULT_LOST_POLICY, ctrlLossTmo: 0 }).lossMs).toBe(-1);
  });
});
