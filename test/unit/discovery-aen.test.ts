/** Which discovery controllers get their AENs re-enabled before a discovery round (connect.ts). */
import { describe, expect, it } from 'vitest';
import { persistentDiscoveryControllers } from '../../src/hooks/nvmf/connect.js';
import { NONE, type NvmfDiscoveryEndpoint } from '../../src/hooks/nvmf/keys.js';
import type { Controller } from '../../src/hooks/nvmf/sysfs.js';

const endpoint: NvmfDiscoveryEndpoint = { kind: 'nvmf-disc', transport: 'tcp', traddr: '192.168.1.10', trsvcid: '8009', hostTraddr: NONE, hostIface: NONE };
const ctrl = (name: string, fields: Partial<Controller> = {}): Controller => ({
  name,
  transport: 'tcp',
  traddr: '192.168.1.10',
  trsvcid: '8009',
  hostTraddr: '',
  hostIface: '',
  subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery',
  hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:1',
  cntrltype: 'discovery',
  state: 'live',
  ...fields,
});

describe('persistentDiscoveryControllers', () => {
  it.each([
    ['a live discovery controller at the address', [ctrl('nvme1')], undefined, ['nvme1']],
    ['an I/O controller at the address is not one', [ctrl('nvme1', { cntrltype: 'io' })], undefined, []],
    ['a reconnecting discovery controller is left to the kernel', [ctrl('nvme1', { state: 'connecting' })], undefined, []],
    ['another port', [ctrl('nvme1', { trsvcid: '4420' })], undefined, []],
    ['another address', [ctrl('nvme1', { traddr: '192.168.1.11' })], undefined, []],
    ['another transport', [ctrl('nvme1', { transport: 'rdma' })], undefined, []],
    ['the event\'s device, whatever its address', [ctrl('nvme4', { traddr: '10.0.0.1' })], 'nvme4', ['nvme4']],
    ['several persistent ones at one address (two host interfaces)', [ctrl('nvme1', { hostIface: 'eth0' }), ctrl('nvme2', { hostIface: 'eth1' })], undefined, ['nvme1', 'nvme2']],
  ] as [string, Controller[], string | undefined, string[]][])('%s', (_name, controllers, device, expected) => {
    expect(persistentDiscoveryControllers(controllers, endpoint, device)).toEqual(expected);
  });

  it('a host interface or host address in the request must match', () => {
    const controllers = [ctrl('nvme1', { hostIface: 'eth0' }), ctrl('nvme2', { hostIface: 'eth1', hostTraddr: '192.168.1.2' })];
    expect(persistentDiscoveryControllers(controllers, { ...endpoint, hostIface: 'eth1' }, undefined)).toEqual(['nvme2']);
    expect(persistentDiscoveryControllers(controllers, { ...endpoint, hostTraddr: '192.168.1.3' }, undefined)).toEqual([]);
  });

  it('IPv6 addresses compare in one spelling', () => {
    const v6 = { ...endpoint, traddr: 'fd00::a' };
    expect(persistentDiscoveryControllers([ctrl('nvme1', { traddr: 'FD00:0:0:0:0:0:0:A' })], v6, undefined)).toEqual(['nvme1']);
  });
});
