/**
 * netdev.ts: the pure VLAN walk (realInterfaceOf, upperVlans), fcoemon's
 * link-up rule, and the sysfs readers on a fake /sys/class/net.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import type { System } from '../../src/core/system.js';
import {
  devtypeOf,
  fcoeInterfacesInvolving,
  linkUp,
  observeInterfaces,
  readLinks,
  readNetdev,
  realInterfaceOf,
  upperVlans,
  VlanChainError,
  type LinkInfo,
} from '../../src/hooks/fcoe/netdev.js';
import { tempSystem } from '../support/system.js';

const vlan = (...lowers: string[]): LinkInfo => ({ vlan: true, lowers });
const dev = (...lowers: string[]): LinkInfo => ({ vlan: false, lowers });

const LINKS: ReadonlyMap<string, LinkInfo> = new Map([
  ['eth0', dev()],
  ['eth0.100', vlan('eth0')],
  ['eth0.100.200', vlan('eth0.100')],
  ['eth0.200', vlan('eth0')],
  ['eth1', dev()],
  ['bond0', dev('eth2', 'eth3')],
  ['bond0.5', vlan('bond0')],
  ['orphan.5', vlan()],
  ['orphan.5.6', vlan('orphan.5')],
  ['twin.5', vlan('eth0', 'eth1')],
  ['loop.a', vlan('loop.b')],
  ['loop.b', vlan('loop.a')],
  ['self.1', vlan('self.1')],
]);

describe('realInterfaceOf', () => {
  it.each([
    ['a plain interface', 'eth0', 'eth0'],
    ['an unknown interface', 'ib0', 'ib0'],
    ['a VLAN', 'eth0.100', 'eth0'],
    ['a QinQ VLAN', 'eth0.100.200', 'eth0'],
    ['a VLAN on a bond (not its ports)', 'bond0.5', 'bond0'],
    ['a bond', 'bond0', 'bond0'],
  ])('%s: %s → %s', (_what, ifname, real) => {
    expect(realInterfaceOf(ifname, LINKS)).toBe(real);
  });

  it.each([
    ['a VLAN without a lower device', 'orphan.5', 'cannot find the real interface of orphan.5: VLAN orphan.5 has no lower device (orphan.5)', ['orphan.5']],
    ['a VLAN on one without a lower device', 'orphan.5.6', 'cannot find the real interface of orphan.5.6: VLAN orphan.5 has no lower device (orphan.5.6 → orphan.5)', ['orphan.5.6', 'orphan.5']],
    ['a VLAN with two lower devices', 'twin.5', 'cannot find the real interface of twin.5: VLAN twin.5 has 2 lower devices (eth0, eth1) (twin.5)', ['twin.5']],
    ['a loop', 'loop.a', 'cannot find the real interface of loop.a: VLAN loop.b loops back to loop.a (loop.a → loop.b → loop.a)', ['loop.a', 'loop.b', 'loop.a']],
    ['a VLAN on itself', 'self.1', 'cannot find the real interface of self.1: VLAN self.1 loops back to self.1 (self.1 → self.1)', ['self.1', 'self.1']],
  ])('%s throws a VlanChainError naming the chain', (_what, ifname, message, chain) => {
    let error: unknown;
    try {
      realInterfaceOf(ifname, LINKS);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VlanChainError);
    expect((error as VlanChainError).message).toBe(message);
    expect((error as VlanChainError).chain).toEqual(chain);
    expect((error as VlanChainError).exitCode).toBe(1);
  });
});

describe('upperVlans', () => {
  it.each([
    ['eth0', ['eth0.100', 'eth0.100.200', 'eth0.200', 'twin.5']],
    ['eth0.100', ['eth0.100.200']],
    ['eth0.100.200', []],
    ['eth1', ['twin.5']],
    ['bond0', ['bond0.5']],
    ['eth2', []],
    ['unknown', []],
    ['loop.a', ['loop.b']],
    ['self.1', []],
  ])('%s → %j', (ifname, uppers) => {
    expect(upperVlans(ifname, LINKS)).toEqual(uppers);
  });
});

describe('linkUp', () => {
  it.each([
    ['0x1003', 'up', '1', true],
    ['0x1003\n', 'up\n', undefined, true],
    ['0x1002', 'up', '1', false],
    ['0x1003', 'down', '0', false],
    ['0x1003', 'lowerlayerdown', '0', false],
    ['0x1003', 'dormant', '1', false],
    ['0x9', 'unknown', '1\n', true],
    ['0x1003', 'unknown', '0', false],
    ['0x1003', 'unknown', undefined, false],
    ['4099', 'up', '1', false],
    ['', 'up', '1', false],
  ] as const)('flags %j operstate %j carrier %j → %s', (flags, operstate, carrier, up) => {
    expect(linkUp(flags, operstate, carrier)).toBe(up);
  });

  it('devtypeOf reads DEVTYPE= from a uevent', () => {
    expect(devtypeOf('DEVTYPE=vlan\nINTERFACE=eth0.100\nIFINDEX=5\n')).toBe('vlan');
    expect(devtypeOf('INTERFACE=eth0\nIFINDEX=2\n')).toBe('');
  });
});

describe('on a fake /sys/class/net', () => {
  interface FakeDev {
    readonly vlan?: boolean;
    readonly lowers?: readonly string[];
    readonly uppers?: readonly string[];
    readonly flags?: string;
    readonly operstate?: string;
    /** Absent: reading it fails, as the kernel's EINVAL on a down device. */
    readonly carrier?: string;
  }

  function fakeSysfs(devices: Record<string, FakeDev>): System {
    const system = tempSystem();
    const net = path.join(system.paths.sysfs, 'class', 'net');
    for (const [name, d] of Object.entries(devices)) {
      const dir = path.join(net, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'uevent'), `${d.vlan ? 'DEVTYPE=vlan\n' : ''}INTERFACE=${name}\nIFINDEX=3\n`);
      if (d.flags !== undefined) writeFileSync(path.join(dir, 'flags'), `${d.flags}\n`);
      if (d.operstate !== undefined) writeFileSync(path.join(dir, 'operstate'), `${d.operstate}\n`);
      if (d.carrier !== undefined) writeFileSync(path.join(dir, 'carrier'), `${d.carrier}\n`);
      for (const lower of d.lowers ?? []) symlinkSync(path.join('..', lower), path.join(dir, `lower_${lower}`));
      for (const upper of d.uppers ?? []) symlinkSync(path.join('..', upper), path.join(dir, `upper_${upper}`));
    }
    // A device half gone: its directory is there, its attributes are not.
    mkdirSync(path.join(net, 'vanishing'), { recursive: true });
    return system;
  }

  const UP = { flags: '0x1003', operstate: 'up', carrier: '1' };
  const system = fakeSysfs({
    eth0: { ...UP, uppers: ['eth0.100'] },
    'eth0.100': { ...UP, vlan: true, lowers: ['eth0'], uppers: ['eth0.100.200'] },
    'eth0.100.200': { ...UP, vlan: true, lowers: ['eth0.100'] },
    eth1: { flags: '0x1002', operstate: 'down', uppers: ['eth1.7'] },
    'eth1.7': { flags: '0x1003', operstate: 'lowerlayerdown', carrier: '0', vlan: true, lowers: ['eth1'] },
    lo: { flags: '0x9', operstate: 'unknown', carrier: '1' },
    bond0: { ...UP, lowers: ['eth2'], uppers: ['bond0.5'] },
    'bond0.5': { ...UP, vlan: true, lowers: ['bond0'] },
    eth2: { ...UP, uppers: ['bond0'] },
    'orphan.5': { ...UP, vlan: true },
  });

  it('readLinks: every netdev, with VLAN flag and lower devices', async () => {
    const links = await readLinks(system);
    expect(Object.fromEntries(links)).toEqual({
      eth0: dev(),
      'eth0.100': vlan('eth0'),
      'eth0.100.200': vlan('eth0.100'),
      eth1: dev(),
      'eth1.7': vlan('eth1'),
      lo: dev(),
      bond0: dev('eth2'),
      'bond0.5': vlan('bond0'),
      eth2: dev(),
      'orphan.5': vlan(),
    });
  });

  it("readLinks of names: those and the devices below their VLANs, not a bond's ports; missing and bad names left out", async () => {
    expect([...(await readLinks(system, ['eth0.100.200'])).keys()]).toEqual(['eth0.100.200', 'eth0.100', 'eth0']);
    expect([...(await readLinks(system, ['bond0.5', 'lo'])).keys()]).toEqual(['bond0.5', 'lo', 'bond0']);
    expect((await readLinks(system, ['gone', '../..', 'vanishing'])).size).toBe(0);
    expect((await readLinks(tempSystem())).size).toBe(0);
  });

  it.each([
    ['eth0', true, true],
    ['eth1', true, false],
    ['eth1.7', true, false],
    ['lo', true, true],
    ['gone', false, false],
    ['vanishing', false, false],
  ])('readNetdev %s: present %s, up %s', async (ifname, present, up) => {
    expect(await readNetdev(system, ifname)).toEqual({ ifname, present, up });
  });

  it('readNetdev refuses a name that is no interface name', async () => {
    await expect(readNetdev(system, '../../etc')).rejects.toThrow(UsageError);
  });

  it('observeInterfaces: a QinQ VLAN and its real interface', async () => {
    expect(await observeInterfaces(system, 'eth0.100.200')).toEqual({
      fcoe: { ifname: 'eth0.100.200', present: true, up: true },
      real: { ifname: 'eth0', present: true, up: true },
    });
    expect(await observeInterfaces(system, 'eth1.7')).toEqual({
      fcoe: { ifname: 'eth1.7', present: true, up: false },
      real: { ifname: 'eth1', present: true, up: false },
    });
  });

  it('observeInterfaces: a non-VLAN (or a missing interface) is its own real interface, the same object', async () => {
    for (const ifname of ['eth0', 'bond0', 'gone']) {
      const pair = await observeInterfaces(system, ifname);
      expect(pair.real).toBe(pair.fcoe);
      expect(pair.fcoe.ifname).toBe(ifname);
    }
  });

  it('observeInterfaces: a VLAN without a lower device is a VlanChainError', async () => {
    await expect(observeInterfaces(system, 'orphan.5')).rejects.toThrow(new VlanChainError(['orphan.5'], 'VLAN orphan.5 has no lower device'));
  });

  it.each([
    ['eth0', ['eth0', 'eth0.100', 'eth0.100.200']],
    ['eth0.100', ['eth0.100', 'eth0.100.200']],
    ['eth1', ['eth1.7']],
    ['eth2', []],
    ['bond0', ['bond0.5']],
    ['gone', ['gone']],
  ])('fcoeInterfacesInvolving %s → %j', async (ifname, involved) => {
    const configured = ['gone', 'eth1.7', 'eth0.100.200', 'orphan.5', 'eth0', 'bond0.5', 'eth0.100', 'eth0'];
    expect(await fcoeInterfacesInvolving(system, ifname, configured)).toEqual(involved);
  });
});
