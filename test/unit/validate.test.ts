import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import * as v from '../../src/hooks/nvmf/validate.js';

const rejects = (fn: () => unknown, option: string) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message.startsWith(`${option}: `)).toBe(true);
    expect((error as UsageError).message).not.toContain('\n');
    return;
  }
  throw new Error('expected a UsageError');
};

describe('transportAddress', () => {
  it.each([
    ['tcp', '10.0.0.5', '10.0.0.5'],
    ['tcp', 'FE80::1', 'fe80::1'],
    ['rdma', '2001:db8:0:0::1', '2001:db8::1'],
    ['fc', 'nn-0x20000090FA942779:pn-0x10000090fa942779', 'nn-0x20000090fa942779:pn-0x10000090fa942779'],
  ] as const)('%s %s → %s', (transport, value, expected) => {
    expect(v.transportAddress(value, transport, '--traddr')).toBe(expected);
  });

  it.each([
    ['tcp', '1.2.3.4;reboot'],
    ['tcp', '$(id)'],
    ['tcp', '`id`'],
    ['tcp', '1.2.3.4 5.6.7.8'],
    ['tcp', '../../etc/passwd'],
    ['tcp', 'host.example.com'],
    ['tcp', '256.1.1.1'],
    ['tcp', ''],
    ['tcp', '-a'],
    ['tcp', '1.2.3.4\n'],
    ['tcp', 'x'.repeat(5000)],
    ['fc', '10.0.0.5'],
    ['fc', 'nn-0x2000:pn-0x1000'],
    ['loop', '10.0.0.5'],
  ] as const)('%s rejects %j', (transport, value) => {
    rejects(() => v.transportAddress(value, transport, '--traddr'), '--traddr');
  });
});

describe('port', () => {
  it.each([['4420', '4420'], ['8009', '8009'], ['1', '1'], ['65535', '65535'], ['04420', '4420']])('%s → %s', (value, expected) => {
    expect(v.port(value)).toBe(expected);
  });
  it.each(['0', '65536', '-1', '4420x', '', ' 4420', '1e3', '0x10', '999999'])('rejects %j', (value) => rejects(() => v.port(value), '--trsvcid'));
});

describe('nqn', () => {
  it.each([
    'nqn.2014-08.org.nvmexpress.discovery',
    'nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
    'nqn.1992-08.com.netapp:sn.0123456789abcdef:subsystem.vol_1',
    'nqn.2026-11.io.sanhook:subsys1',
  ])('accepts %s', (value) => expect(v.nqn(value)).toBe(value));
  it.each([
    'nqn.2026-11.io.sanhook:a b',
    'nqn.2026-11.io.sanhook:a;b',
    'nqn.2026-11.io.sanhook:$(id)',
    'nqn.2026-11.io.sanhook:../x',
    'iqn.2026-11.io.sanhook:x',
    'nqn.26-11.io.sanhook:x',
    `nqn.2026-11.io.sanhook:${'a'.repeat(220)}`,
    '',
  ])('rejects %j', (value) => rejects(() => v.nqn(value), '--nqn'));
});

describe('hostIface, hostId, device, timers', () => {
  it.each(['eth0', 'ens1f0np0', 'bond0.100', 'v0'])('iface %s', (value) => expect(v.hostIface(value)).toBe(value));
  it.each(['..', '.', 'eth0;id', 'eth 0', 'a/b', 'sixteen-chars-xx', '-eth0', ''])('iface rejects %j', (value) => rejects(() => v.hostIface(value), '--host-iface'));
  it('hostid', () => expect(v.hostId('AFAD591E-E97D-4397-9B0C-0D60993DE59C')).toBe('afad591e-e97d-4397-9b0c-0d60993de59c'));
  it.each(['afad591e', 'not-a-uuid', ''])('hostid rejects %j', (value) => rejects(() => v.hostId(value), '--hostid'));
  it.each([['nvme0', 'nvme0'], ['/dev/nvme12', 'nvme12']])('device %s', (value, expected) => expect(v.device(value)).toBe(expected));
  it.each(['nvme0n1', 'sda', '/dev/../nvme0', 'nvme', ''])('device rejects %j', (value) => rejects(() => v.device(value), '--device'));
  it.each([['-1', -1], ['0', 0], ['600', 600]])('ctrl-loss-tmo %s', (value, expected) => expect(v.ctrlLossTmo(value)).toBe(expected));
  it.each(['-2', '1.5', 'forever', ''])('ctrl-loss-tmo rejects %j', (value) => rejects(() => v.ctrlLossTmo(value), '--ctrl-loss-tmo'));
  it.each(['0', '-1', 'ten'])('reconnect-delay rejects %j', (value) => rejects(() => v.reconnectDelay(value), '--reconnect-delay'));
});

describe('showValue', () => {
  it('escapes control characters and truncates', () => {
    expect(v.showValue('a\nb')).toBe('"a\\nb"');
    expect(v.showValue('x'.repeat(100))).toMatch(/…" \(100 characters\)$/);
  });
});
