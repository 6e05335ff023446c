/**
 * `sanhook connect --all`: every discovery controller of nvme-cli's own
 * /etc/nvme/discovery.conf (boot), validated up front, line by line.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectExit, FIXTURES, HOSTNQN, messageLines, Sandbox, SUBSYS1, SUBSYS2 } from './harness.js';

const SUBSYS3 = 'nqn.2026-11.io.sanhook:subsys3';

let box: Sandbox;
beforeEach(() => {
  box = new Sandbox();
});
afterEach(async () => {
  await box.cleanup();
});

/** The real log, re-addressed to a second target port that serves another subsystem. */
function secondTargetLog(): string {
  const log = JSON.parse(readFileSync(path.join(FIXTURES, 'discover-2subsys.json'), 'utf8')) as { genctr: number; records: Record<string, unknown>[] };
  const records = log.records.slice(0, 2).map((r) => ({ ...r, traddr: '127.0.0.2', trsvcid: '4421', ...(r.subtype === 'nvme subsystem' ? { subnqn: SUBSYS3 } : {}) }));
  return `${JSON.stringify({ genctr: 7, records }, null, 2)}\n`;
}

const discover = (traddr: string, trsvcid: string) => ['discover', '--transport', 'tcp', '--traddr', traddr, '--trsvcid', trsvcid, '--hostnqn', HOSTNQN, '--output-format', 'json'];
const connect = (traddr: string, trsvcid: string, nqn: string) => [
  'connect', '--transport', 'tcp', '--traddr', traddr, '--trsvcid', trsvcid, '--nqn', nqn, '--hostnqn', HOSTNQN, '--output-format', 'json',
];

describe('connect --all (/etc/nvme/discovery.conf)', () => {
  it('reads both nvme-cli line formats, comments and blank lines, and connects each address in file order', async () => {
    box.writeStateFile('logs/tcp_127.0.0.2_4421.json', secondTargetLog());
    box.writeRootFile(
      'etc/nvme/discovery.conf',
      [
        '# Used for extracting default parameters for discovery',
        '#',
        '# Example:',
        '# --transport=<trtype> --traddr=<traddr> --trsvcid=<trsvcid> --host-traddr=<host-traddr> --host-iface=<host-iface>',
        '',
        '-t tcp -a 127.0.0.1 -s 4420',
        '   ',
        '\t--transport=tcp --traddr=127.0.0.2 --trsvcid=4421   # second target',
        '',
      ].join('\n'),
    );
    const result = await box.run(['-o', 'json', 'connect', '--all']);
    expectExit(result, 0);
    expect(box.calls().map((c) => c.argv)).toEqual([
      discover('127.0.0.1', '4420'),
      connect('127.0.0.1', '4420', SUBSYS1),
      connect('127.0.0.1', '4420', SUBSYS2),
      discover('127.0.0.2', '4421'),
      connect('127.0.0.2', '4421', SUBSYS3),
    ]);
    const items = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(items.filter((i) => i.outcome === 'connected').map((i) => [i.key, i.subnqn, i.trigger])).toEqual([
      ['nvmf-disc:tcp:127.0.0.1:4420:none:none', SUBSYS1, 'boot'],
      ['nvmf-disc:tcp:127.0.0.1:4420:none:none', SUBSYS2, 'boot'],
      ['nvmf-disc:tcp:127.0.0.2:4421:none:none', SUBSYS3, 'boot'],
    ]);
  });

  it('one unreachable address fails the run (exit 1) but the other addresses are still connected', async () => {
    box.writeStateFile('logs/tcp_127.0.0.2_4421.json', secondTargetLog());
    box.writeStateFile('unreachable', '127.0.0.1:4420\n');
    box.writeRootFile('etc/nvme/discovery.conf', '-t tcp -a 127.0.0.1 -s 4420\n-t tcp -a 127.0.0.2 -s 4421\n');
    const result = await box.run(['connect', '--all']);
    expectExit(result, 1);
    expect(messageLines(result.stderr)).toHaveLength(1);
    expect(box.nvmeCalls('connect').map((c) => c.argv)).toEqual([connect('127.0.0.2', '4421', SUBSYS3)]);
  });

  const malformed: [string, string[], number, RegExp][] = [
    ['bad port', ['-t tcp -a 127.0.0.1 -s 4420', '# ok so far', '-t tcp -a 127.0.0.2 -s 99999'], 3, /--trsvcid: must be a port number 1-65535, got "99999"/],
    ['unknown option', ['', '-t tcp -a 127.0.0.1 -s 4420 --bogus=1'], 2, /bogus/],
    ['bad address', ['--transport=tcp --traddr=127.0.0.1;reboot --trsvcid=4420'], 1, /--traddr: must be an IPv4 or IPv6 address/],
    ['no transport', ['-a 127.0.0.1 -s 4420'], 1, /--transport is required/],
    ['bad transport', ['-t udp -a 127.0.0.1'], 1, /--transport: must be one of tcp, rdma, fc, loop, got "udp"/],
    ['stray word', ['-t tcp -a 127.0.0.1 -s 4420 extra'], 1, /extra/],
  ];
  it.each(malformed)('a malformed line (%s) → exit 2 naming file and line, and no nvme call at all', async (_name, lines, lineNo, why) => {
    const file = box.writeRootFile('etc/nvme/discovery.conf', `${lines.join('\n')}\n`);
    const result = await box.run(['connect', '--all']);
    expectExit(result, 2);
    expect(result.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
    expect(result.stderr.startsWith(`sanhook: ${file}:${lineNo}: `)).toBe(true);
    expect(result.stderr).toMatch(why);
    expect(box.calls()).toEqual([]);
    expect(result.stdout).toBe('');
  });

  it('no discovery.conf → exit 0, nothing-to-do, no nvme call', async () => {
    const result = await box.run(['connect', '--all']);
    expectExit(result, 0);
    expect(result.stdout).toMatch(/^nothing-to-do\s+.*discovery\.conf does not exist/);
    expect(box.calls()).toEqual([]);
  });

  it('a discovery.conf with only comments → exit 0, nothing-to-do, no nvme call', async () => {
    box.writeRootFile('etc/nvme/discovery.conf', '# nothing configured yet\n\n#-t tcp -a 127.0.0.1 -s 4420\n');
    const result = await box.run(['-o', 'json', 'connect', '--all']);
    expectExit(result, 0);
    expect(JSON.parse(result.stdout.trim())).toMatchObject({ hook: 'connect', outcome: 'nothing-to-do' });
    expect(box.calls()).toEqual([]);
  });
});
