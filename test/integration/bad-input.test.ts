/**
 * Bad input, from argv or from a udev event, is refused before anything runs:
 * exit 2, exactly one line on stderr starting with "sanhook: ", no stack trace,
 * nothing on stdout, and neither nvme nor systemd-run is ever called.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectExit, readAttributes, readUevent, Sandbox } from './harness.js';

const LONG = 'a'.repeat(5000);
const OK = ['-t', 'tcp', '-a', '127.0.0.1', '-s', '4420'];
/** OK with one option replaced (or added). */
function withOption(flag: string, value: string): string[] {
  const argv = [...OK];
  const at = argv.indexOf(flag);
  if (at >= 0) argv[at + 1] = value;
  else argv.push(flag, value);
  return ['connect', ...argv];
}

const argvCases: [string, string[]][] = [
  ['traddr with ;', withOption('-a', '127.0.0.1;reboot')],
  ['traddr with $(...)', withOption('-a', '$(reboot)')],
  ['traddr with backticks', withOption('-a', '`reboot`')],
  ['traddr with |', withOption('-a', '127.0.0.1|nc -l 4444')],
  ['traddr with a space', withOption('-a', '127.0.0.1 4420')],
  ['traddr with ../', withOption('-a', '../../etc/passwd')],
  ['traddr with a newline', withOption('-a', '127.0.0.1\nreboot')],
  ['traddr of 5000 characters', withOption('-a', LONG)],
  ['port 0', withOption('-s', '0')],
  ['port 65536', withOption('-s', '65536')],
  ['port -1', withOption('-s', '-1')],
  ['port --trsvcid=-1', ['connect', '-t', 'tcp', '-a', '127.0.0.1', '--trsvcid=-1']],
  ['port 4420x', withOption('-s', '4420x')],
  ['port with $(...)', withOption('-s', '$(id)')],
  ['unknown transport', withOption('-t', 'udp')],
  ['transport with ;', withOption('-t', 'tcp;reboot')],
  ['nqn with ;', withOption('-n', 'nqn.2026-11.io.sanhook:subsys1;reboot')],
  ['nqn with $(...)', withOption('-n', 'nqn.2026-11.io.sanhook:$(reboot)')],
  ['nqn with backticks', withOption('-n', 'nqn.2026-11.io.sanhook:`reboot`')],
  ['nqn with a space', withOption('-n', 'nqn.2026-11.io.sanhook:sub sys')],
  ['nqn with a newline', withOption('-n', 'nqn.2026-11.io.sanhook:subsys1\nreboot')],
  ['nqn of 5000 characters', withOption('-n', `nqn.2026-11.io.sanhook:${LONG}`)],
  ['hostnqn with |', withOption('--hostnqn', 'nqn.2014-08.org.nvmexpress:uuid:x|reboot')],
  ['hostnqn with ../', withOption('--hostnqn', '../../etc/nvme/hostnqn')],
  ['host-iface with ;', withOption('-f', 'eth0;reboot')],
  ['host-iface with a space', withOption('-f', 'eth0 up')],
  ['host-iface with ../', withOption('-f', '../eth0')],
  ['host-iface of 5000 characters', withOption('-f', LONG)],
  ['host-iface with $(...)', withOption('-f', '$(reboot)')],
  ['host-traddr with backticks', withOption('-w', '`reboot`')],
  ['hostid that is not a UUID', withOption('-I', '0f7b718b;reboot')],
  ['reconnect-delay that is not a number', withOption('-c', '5;reboot')],
  ['ctrl-loss-tmo below -1', withOption('-l', '-2')],
  ['device with ../', ['connect', '--device', '../nvme1']],
  ['device with ;', ['connect', '--device', 'nvme1;reboot']],
  ['trsvcid with fc', ['connect', '-t', 'fc', '-a', 'nn-0x203b00a098cbcac6:pn-0x204d00a098cbcac6', '-w', 'nn-0x20000090fa942779:pn-0x10000090fa942779', '-s', '4420']],
  ['no transport', ['connect', '-a', '127.0.0.1']],
  ['no traddr for tcp', ['connect', '-t', 'tcp']],
  ['unknown option', ['connect', ...OK, '--bogus']],
  ['a stray argument', ['connect', ...OK, 'extra']],
  ['unknown subcommand', ['frobnicate']],
  ['--all with an address', ['connect', '--all', '-a', '127.0.0.1']],
  ['--uevent with an address', ['connect', '--uevent', '-t', 'tcp']],
  ['bad --log-level', ['--log-level', 'loud', 'connect', ...OK]],
  ['bad -o', ['-o', 'yaml', 'connect', ...OK]],
  ['-o with $(...)', ['-o', '$(reboot)', 'connect', ...OK]],
];

/** Options a command does not take where it runs, and its other checks: [name, argv, how the one line starts]. */
const NQN = 'nqn.2026-11.io.sanhook:subsys1';
const FREEBSD = ['--platform', 'freebsd'];
const refusedCases: [string, string[], string][] = [
  ['reconnect --device on Linux', ['reconnect', '--device', 'nvme1'], 'sanhook: --device: reconnect --device is for FreeBSD'],
  ['give-up --device on Linux', ['give-up', '--device', 'nvme1', '-t', 'tcp'], 'sanhook: --device: give-up --device is for FreeBSD'],
  ['reconnect -t on FreeBSD', [...FREEBSD, 'reconnect', '--device', 'nvme1', '-t', 'tcp'], 'sanhook: --transport: not used with --device on FreeBSD'],
  ['give-up --nqn on FreeBSD', [...FREEBSD, 'give-up', '--device', 'nvme1', '--nqn', NQN], 'sanhook: --nqn: not used with --device on FreeBSD'],
  ['lost --uevent on FreeBSD', [...FREEBSD, 'lost', '--uevent'], 'sanhook: --uevent: there are no udev events on FreeBSD'],
  ['lost --hostid on FreeBSD', [...FREEBSD, 'lost', '--device', 'nvme1', '-I', '0f7b718b-ca26-43e8-b50a-d4410d1afaf8'], 'sanhook: --hostid: not used with --device on FreeBSD'],
  ['disconnect --nqn on FreeBSD', [...FREEBSD, 'disconnect', '--nqn', NQN], 'sanhook: --nqn: on FreeBSD, disconnect takes --device nvmeX only'],
  ['disconnect without --device on FreeBSD', [...FREEBSD, 'disconnect'], 'sanhook: --device: on FreeBSD, disconnect takes --device nvmeX only'],
  ['devd on Linux', ['devd', '!system=nvme subsystem=controller type=RECONNECT name="nvme1"'], 'sanhook: devd: FreeBSD only (--platform freebsd'],
  ['connect --uevent on FreeBSD', [...FREEBSD, 'connect', '--uevent'], 'sanhook: --uevent: there are no udev events on FreeBSD'],
  ['connected on FreeBSD', [...FREEBSD, 'connected', '--device', 'nvme1'], 'sanhook: connected: Linux only'],
  ['connected with --uevent and --device', ['connected', '--uevent', '--device', 'nvme1'], 'sanhook: give exactly one of --uevent or --device'],
  ['lost with --uevent and an endpoint', ['lost', '--uevent', '-t', 'tcp'], 'sanhook: give exactly one of --uevent, --device'],
  ['--trigger not one of the triggers', ['connect', ...OK, '--trigger', 'reboot'], "sanhook: option '--trigger <trigger>' argument 'reboot' is invalid"],
  ['timerd --max-concurrent 0', ['timerd', '--max-concurrent', '0'], 'sanhook: --max-concurrent: must be a whole number 1-256, got "0"'],
  ['timerd --hook-timeout with $(...)', ['timerd', '--hook-timeout', '$(reboot)'], 'sanhook: --hook-timeout: must be a whole number 1-86400'],
  ['timers arm --param without =', ['timers', 'arm', '--hook', 'reconnect', '--param', 'transport'], 'sanhook: --param: must be name=value, got "transport"'],
  ['--platform not a platform', ['--platform', 'windows', 'connect', ...OK], "sanhook: option '--platform <platform>' argument 'windows' is invalid"],
  ['--root empty', ['--root', '', 'connect', ...OK], 'sanhook: --root: must be a directory path'],
];

const AEN = readUevent('uevent-aen.txt');
const FC = {
  ACTION: 'change',
  SUBSYSTEM: 'fc',
  FC_EVENT: 'nvmediscovery',
  NVMEFC_HOST_TRADDR: 'nn-0x20000090fa942779:pn-0x10000090fa942779',
  NVMEFC_TRADDR: 'nn-0x203b00a098cbcac6:pn-0x204d00a098cbcac6',
};
const ueventCases: [string, Record<string, string>][] = [
  ['NVME_TRADDR with ;', { ...AEN, NVME_TRADDR: '127.0.0.1;reboot' }],
  ['NVME_TRADDR with $(...)', { ...AEN, NVME_TRADDR: '$(reboot)' }],
  ['NVME_TRADDR with a newline', { ...AEN, NVME_TRADDR: '127.0.0.1\nreboot' }],
  ['NVME_TRADDR of 5000 characters', { ...AEN, NVME_TRADDR: LONG }],
  ['NVME_TRSVCID 65536', { ...AEN, NVME_TRSVCID: '65536' }],
  ['NVME_TRSVCID with backticks', { ...AEN, NVME_TRSVCID: '`id`' }],
  ['NVME_TRTYPE unknown', { ...AEN, NVME_TRTYPE: 'udp' }],
  ['NVME_TRTYPE with |', { ...AEN, NVME_TRTYPE: 'tcp|x' }],
  ['NVME_HOST_IFACE with a space', { ...AEN, NVME_HOST_IFACE: 'eth0 up' }],
  ['NVME_HOST_IFACE with ../', { ...AEN, NVME_HOST_IFACE: '../eth0' }],
  ['NVME_HOST_TRADDR with backticks', { ...AEN, NVME_HOST_TRADDR: '`reboot`' }],
  ['DEVPATH naming a bad device', { ...AEN, DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme1;reboot' }],
  ['DEVNAME with ../ (no DEVPATH)', { ...Object.fromEntries(Object.entries(AEN).filter(([k]) => k !== 'DEVPATH')), DEVNAME: '../../nvme1' }],
  ['NVMEFC_TRADDR with ;', { ...FC, NVMEFC_TRADDR: 'nn-0x203b00a098cbcac6:pn-0x204d00a098cbcac6;reboot' }],
  ['NVMEFC_HOST_TRADDR of 5000 characters', { ...FC, NVMEFC_HOST_TRADDR: LONG }],
];

let box: Sandbox;
beforeAll(() => {
  box = new Sandbox();
  // A discovery controller exists, and the host looks systemd-booted: nothing may
  // reach either nvme or systemd-run when the input is bad.
  box.addController('nvme1', readAttributes('sysfs-discovery-ctrl.txt'));
  box.bootSystemd();
});
afterAll(async () => {
  await box.cleanup();
});

function expectRefused(result: Awaited<ReturnType<Sandbox['run']>>): void {
  expectExit(result, 2);
  expect(result.stdout).toBe('');
  expect(result.stderr.endsWith('\n')).toBe(true);
  const lines = result.stderr.slice(0, -1).split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]!.startsWith('sanhook: ')).toBe(true);
  expect(lines[0]!.length).toBeLessThan(400);
  expect(result.stderr).not.toMatch(/\bat .*\.js:\d+/);
  expect(result.stderr).not.toContain('internal error');
  expect(box.calls()).toEqual([]);
  expect(box.systemdRunCalls()).toEqual([]);
  // nothing was queued for a later holder either
  const pending = path.join(box.runDir, 'pending');
  expect(existsSync(pending) ? readdirSync(pending) : []).toEqual([]);
}

describe('bad input is refused (exit 2, one line, nothing run)', () => {
  it('has enough cases', () => {
    expect(argvCases.length + ueventCases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(argvCases)('argv: %s', async (_name, argv) => {
    expectRefused(await box.run(argv));
  });

  it.each(refusedCases)('refused: %s', async (_name, argv, start) => {
    const result = await box.run(argv);
    expectRefused(result);
    expect(result.stderr.startsWith(start), result.stderr).toBe(true);
  });

  it.each(ueventCases)('uevent: %s', async (_name, env) => {
    expectRefused(await box.run(['connect', '--uevent'], { env }));
  });
});
