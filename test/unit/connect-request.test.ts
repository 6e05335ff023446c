import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, UsageError } from '../../src/core/errors.js';
import { classifyUevent, parseDiscoveryConf, requestFromOptions, requestToArgv, type ConnectRequest } from '../../src/hooks/nvmf/connect-request.js';
import { parseDiscoveryLog, checkRecord } from '../../src/hooks/nvmf/discovery-log.js';
import { parseAddress } from '../../src/hooks/nvmf/sysfs.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/nvme-cli/${name}`, import.meta.url), 'utf8');
/** The real AEN uevent (kernel side) captured from a 6.1 kernel. */
const aenEnv = () => {
  const env: Record<string, string> = {};
  for (const line of fixture('uevent-aen.txt').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
};

describe('classifyUevent', () => {
  it('the real AEN uevent is a device event for the discovery controller', () => {
    const input = classifyUevent(aenEnv());
    expect(input).toMatchObject({ kind: 'device', trigger: 'aen', device: expect.stringMatching(/^nvme[0-9]+$/) });
  });
  it.each([
    [{ SUBSYSTEM: 'nvme', ACTION: 'change', NVME_EVENT: 'rediscover', DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme3' }, 'device'],
    [{ SUBSYSTEM: 'fc', ACTION: 'change', FC_EVENT: 'nvmediscovery', NVMEFC_TRADDR: 'nn-0x1000000000000001:pn-0x2000000000000001', NVMEFC_HOST_TRADDR: 'nn-0x1000000000000002:pn-0x2000000000000002' }, 'endpoint'],
    [{ SUBSYSTEM: 'fc', ACTION: 'change', FC_EVENT: 'nvmediscovery' }, 'irrelevant'],
    [{ SUBSYSTEM: 'nvme', ACTION: 'change', NVME_EVENT: 'connected' }, 'irrelevant'],
    [{ SUBSYSTEM: 'nvme', ACTION: 'change', NVME_AEN: '0x000002' }, 'irrelevant'],
    [{ SUBSYSTEM: 'nvme', ACTION: 'add', NVME_AEN: '0x70f002' }, 'irrelevant'],
    [{ SUBSYSTEM: 'net', ACTION: 'add', INTERFACE: 'v0' }, 'irrelevant'],
    [{}, 'irrelevant'],
  ])('%j → %s', (env, kind) => expect(classifyUevent(env).kind).toBe(kind));

  it('hostile uevent values are rejected as data by the same validators', () => {
    const input = classifyUevent({ ...aenEnv(), NVME_TRADDR: '127.0.0.1 --all' });
    if (input.kind !== 'device') throw new Error('expected a device event');
    expect(() => requestFromOptions(input.raw, input.trigger)).toThrow(UsageError);
  });
  it('the real AEN env validates into a request for the discovery address', () => {
    const input = classifyUevent(aenEnv());
    if (input.kind !== 'device') throw new Error('expected a device event');
    const request = requestFromOptions(input.raw, input.trigger) as ConnectRequest;
    expect(request.discovery).toEqual({ kind: 'nvmf-disc', transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', hostTraddr: 'none', hostIface: 'none' });
  });
});

describe('requestFromOptions', () => {
  it.each([
    [{ transport: 'tcp', traddr: '10.0.0.5' }, { trsvcid: '8009' }],
    [{ transport: 'rdma', traddr: '10.0.0.5' }, { trsvcid: '4420' }],
    [{ transport: 'fc', traddr: 'nn-0x1000000000000001:pn-0x2000000000000001', 'host-traddr': 'nn-0x1000000000000002:pn-0x2000000000000002' }, { trsvcid: 'none' }],
    [{ transport: 'loop' }, { traddr: 'none', trsvcid: 'none' }],
  ] as const)('defaults %j', (raw, expected) => {
    expect((requestFromOptions(raw, 'manual') as ConnectRequest).discovery).toMatchObject(expected);
  });
  it.each([
    [{}, '--transport'],
    [{ transport: 'tcp' }, '--traddr'],
    [{ transport: 'fc', traddr: 'nn-0x1000000000000001:pn-0x2000000000000001' }, '--host-traddr'],
    [{ transport: 'rdma', traddr: '10.0.0.5', 'host-iface': 'eth0' }, '--host-iface'],
    [{ transport: 'fc', traddr: 'nn-0x1000000000000001:pn-0x2000000000000001', 'host-traddr': 'nn-0x1000000000000002:pn-0x2000000000000002', trsvcid: '4420' }, '--trsvcid'],
    [{ transport: 'tcp', traddr: '10.0.0.5', 'ctrl-loss-tmo': '-5' }, '--ctrl-loss-tmo'],
  ] as const)('rejects %j naming %s', (raw, option) => {
    expect(() => requestFromOptions(raw, 'manual')).toThrow(expect.objectContaining({ option }));
  });
  it('--device alone asks for sysfs completion', () => {
    expect(requestFromOptions({ device: 'nvme1' }, 'manual')).toMatchObject({ needsDevice: 'nvme1' });
  });
  it('round-trips through requestToArgv', () => {
    const request = requestFromOptions(
      { transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420', 'host-iface': 'eth0', hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:x', nqn: 'nqn.2026-11.io.sanhook:a', 'ctrl-loss-tmo': '-1', 'reconnect-delay': '5', persistent: true, device: 'nvme4' },
      'aen',
    ) as ConnectRequest;
    const argv = requestToArgv(request);
    const raw: Record<string, string | boolean> = {};
    for (let i = 0; i < argv.length; i++) {
      const name = argv[i]!.slice(2);
      if (name === 'persistent') raw[name] = true;
      else raw[name] = argv[++i]!;
    }
    const { trigger, ...rest } = raw;
    expect(requestFromOptions(rest, trigger as 'aen')).toEqual(request);
  });
});

describe('parseDiscoveryConf', () => {
  it('reads nvme-cli line formats, comments and blank lines', () => {
    const lines = parseDiscoveryConf('/etc/nvme/discovery.conf', '# comment\n\n-t tcp -a 10.0.0.5 -s 8009\n--transport=tcp --traddr=10.0.0.6 --trsvcid=4420 -q nqn.2014-08.org.nvmexpress:uuid:x # trailing\n  -t rdma -a 10.1.0.1\n');
    expect(lines.map((l) => [l.line, l.request.discovery.transport, l.request.discovery.traddr, l.request.discovery.trsvcid])).toEqual([
      [3, 'tcp', '10.0.0.5', '8009'],
      [4, 'tcp', '10.0.0.6', '4420'],
      [5, 'rdma', '10.1.0.1', '4420'],
    ]);
    expect(lines.every((l) => l.request.trigger === 'boot')).toBe(true);
  });
  it.each([
    ['-t tcp -a 10.0.0.5\n-t tcp -a 10.0.0.5;reboot\n', 2],
    ['-t tcp\n', 1],
    ['\n\n-t tcp -a 10.0.0.5 --bogus\n', 3],
    ['-t tcp -a 10.0.0.5 extra\n', 1],
    ['-t tcp -a 10.0.0.5 -s 0\n', 1],
  ])('names the bad line in %j', (text, line) => {
    try {
      parseDiscoveryConf('/etc/nvme/discovery.conf', text);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).line).toBe(line);
      expect((error as ConfigError).message).toMatch(new RegExp(`^/etc/nvme/discovery.conf:${line}: `));
      return;
    }
    throw new Error('expected a ConfigError');
  });
});

describe('real nvme-cli formats', () => {
  it('parses discover -o json', () => {
    const log = parseDiscoveryLog(fixture('discover.json'));
    expect(log.records.length).toBeGreaterThan(0);
    expect(log.records.every((r) => typeof r.subnqn === 'string' && r.trtype === 'tcp')).toBe(true);
  });
  it('rejects non-JSON', () => expect(() => parseDiscoveryLog('Discovery Log Number of Records 2')).toThrow(/not JSON/));
  it('checks wire records', () => {
    expect(checkRecord({ trtype: 'tcp', adrfam: 'ipv4', subtype: 'nvme subsystem', traddr: '127.0.0.1', trsvcid: '4420', subnqn: 'nqn.2026-11.io.sanhook:subsys1' })).toEqual({
      transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', subnqn: 'nqn.2026-11.io.sanhook:subsys1',
    });
  });
  it('parses the kernel address attribute', () => {
    expect(parseAddress('traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1\n')).toEqual({ traddr: '127.0.0.1', trsvcid: '4420', src_addr: '127.0.0.1' });
  });
});
