/**
 * `sanhook connect` for one discovery address, end to end: the real program, the
 * fake nvme (real nvme-cli 2.3 output formats), a temp root and a fake sysfs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DISCOVERY_NQN, expectExit, HOSTNQN, messageLines, Sandbox, SUBSYS1, SUBSYS2 } from './harness.js';

const TARGET = ['-t', 'tcp', '-a', '127.0.0.1', '-s', '4420'];
const discoverArgv = ['discover', '--transport', 'tcp', '--traddr', '127.0.0.1', '--trsvcid', '4420', '--hostnqn', HOSTNQN, '--output-format', 'json'];
const connectArgv = (nqn: string, extra: string[] = []) => [
  'connect', '--transport', 'tcp', '--traddr', '127.0.0.1', '--trsvcid', '4420', '--nqn', nqn, '--hostnqn', HOSTNQN, ...extra, '--output-format', 'json',
];

let box: Sandbox;
beforeEach(() => {
  box = new Sandbox();
});
afterEach(async () => {
  await box.cleanup();
});

function jsonReport(stdout: string): Record<string, unknown>[] {
  const lines = stdout.split('\n').filter((l) => l !== '');
  expect(lines.length).toBeGreaterThan(0);
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('connect: discovery + connect-all for one address', () => {
  it('connects every NVM subsystem of the log with the host NQN of /etc/nvme/hostnqn, skipping the discovery entry', async () => {
    const result = await box.run(['connect', ...TARGET]);
    expect(result.stderr.split('\n').filter((l) => l.startsWith('sanhook:'))).toEqual([]);
    expectExit(result, 0);
    expect(box.calls().map((c) => c.argv)).toEqual([discoverArgv, connectArgv(SUBSYS1), connectArgv(SUBSYS2)]);
    // the fake kernel now has one I/O controller per subsystem
    const subsysnqns = box.sysfsControllers().map((n) => readFileSync(path.join(box.sysfs, 'class', 'nvme', n, 'subsysnqn'), 'utf8').trim());
    expect(subsysnqns.sort()).toEqual([SUBSYS1, SUBSYS2]);
    // one human line per record
    const lines = result.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^skipped\s+nqn\.2014-08\.org\.nvmexpress\.discovery .*discovery-entry/);
    expect(lines[1]).toMatch(new RegExp(`^connected\\s+${SUBSYS1} at tcp 127\\.0\\.0\\.1:4420: connected as nvme0$`));
    // nvme-cli 2.3 has no --owner: sanhook records its ownership in the registry itself
    expect(lines[2]).toMatch(new RegExp(`^claimed\\s+${SUBSYS1} at tcp 127\\.0\\.0\\.1:4420: nvme0 recorded as owned by sanhook \\(seqnum [0-9]+\\)$`));
    expect(lines[3]).toMatch(new RegExp(`^connected\\s+${SUBSYS2} at tcp 127\\.0\\.0\\.1:4420: connected as nvme1$`));
    expect(lines[4]).toMatch(/^claimed\s+.* nvme1 recorded as owned by sanhook/);
  });

  it('a second run connects nothing: every subsystem is already-connected', async () => {
    expectExit(await box.run(['connect', ...TARGET]), 0);
    const before = box.calls().length;
    const second = await box.run(['-o', 'json', 'connect', ...TARGET]);
    expectExit(second, 0);
    const after = box.calls().slice(before);
    expect(after.map((c) => c.argv)).toEqual([discoverArgv]);
    const items = jsonReport(second.stdout);
    expect(items.map((i) => [i.subnqn, i.outcome, i.reason])).toEqual([
      [DISCOVERY_NQN, 'skipped', 'discovery-entry'],
      [SUBSYS1, 'skipped', 'already-connected'],
      [SUBSYS2, 'skipped', 'already-connected'],
    ]);
    expect(box.sysfsControllers()).toEqual(['nvme0', 'nvme1']);
  });

  it('-o json prints one parseable JSON object per line with hook, key and outcome', async () => {
    const result = await box.run(['-o', 'json', 'connect', ...TARGET]);
    expectExit(result, 0);
    const items = jsonReport(result.stdout);
    expect(items).toHaveLength(5);
    for (const item of items) {
      expect(item.hook).toBe('connect');
      expect(item.key).toBe('nvmf-disc:tcp:127.0.0.1:4420:none:none');
      expect(item).not.toHaveProperty('text');
    }
    expect(items.map((i) => i.outcome)).toEqual(['skipped', 'connected', 'claimed', 'connected', 'claimed']);
    expect(items.filter((i) => i.outcome === 'connected').map((i) => [i.subnqn, i.device])).toEqual([
      [SUBSYS1, 'nvme0'],
      [SUBSYS2, 'nvme1'],
    ]);
    // logs go to stderr as JSON lines, never to stdout
    expect(result.stdout).not.toContain('"level"');
  });

  it('--dry-run runs the discovery but no nvme connect, and creates no controller', async () => {
    const result = await box.run(['--dry-run', '-o', 'json', 'connect', ...TARGET]);
    expectExit(result, 0);
    expect(box.calls().map((c) => c.argv[0])).toEqual(['discover']);
    expect(box.calls()[0]!.argv).not.toContain('--persistent');
    expect(box.sysfsControllers()).toEqual([]);
    const items = jsonReport(result.stdout);
    const planned = items.filter((i) => i.outcome === 'would-connect');
    expect(planned.map((i) => i.argv)).toEqual([['nvme', ...connectArgv(SUBSYS1)], ['nvme', ...connectArgv(SUBSYS2)]]);
    expect(items.some((i) => i.outcome === 'connected')).toBe(false);
    // nothing left behind for a later hook to pick up
    const pending = path.join(box.runDir, 'pending');
    expect(existsSync(pending) ? readdirSync(pending) : []).toEqual([]);
  });

  it('a failing connect exits 1 with one message line; the other subsystem is still connected', async () => {
    box.writeStateFile('fail-connect', `${SUBSYS1}\n`);
    const result = await box.run(['connect', ...TARGET]);
    expectExit(result, 1);
    const messages = messageLines(result.stderr);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^sanhook: 1 action\(s\) failed: .*subsys1/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(box.calls().map((c) => [c.argv[0], c.argv[0] === 'connect' ? c.argv[8] : null, c.exit])).toEqual([
      ['discover', null, 0],
      ['connect', SUBSYS1, 1],
      ['connect', SUBSYS2, 0],
    ]);
    expect(result.stdout).toMatch(new RegExp(`^failed\\s+${SUBSYS1} .*nvme connect failed \\(exit 1\\): Failed to write to /dev/nvme-fabrics: Connection refused$`, 'm'));
    expect(result.stdout).toMatch(new RegExp(`^connected\\s+${SUBSYS2} `, 'm'));
    expect(box.sysfsControllers()).toHaveLength(1);
    expect(readFileSync(path.join(box.sysfs, 'class', 'nvme', 'nvme0', 'subsysnqn'), 'utf8').trim()).toBe(SUBSYS2);
  });

  it('an unreachable discovery controller exits 1 with a one-line message and connects nothing', async () => {
    box.writeStateFile('unreachable', '127.0.0.1:4999\n');
    const result = await box.run(['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', '4999']);
    expectExit(result, 1);
    const messages = messageLines(result.stderr);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^sanhook: .*discovery failed/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toMatch(/^failed\s+nvmf-disc:tcp:127\.0\.0\.1:4999:none:none: nvme discover failed \(exit 1\): Failed to write to \/dev\/nvme-fabrics: Connection refused$/m);
    expect(box.calls().map((c) => c.argv[0])).toEqual(['discover']);
    expect(box.sysfsControllers()).toEqual([]);
  });

  it('settings of /etc/sanhook/sanhook.yaml reach nvme connect: exclude rules, reconnect-delay, ctrl-loss-tmo', async () => {
    box.writeRootFile(
      'etc/sanhook/sanhook.yaml',
      ['nvmf:', '  reconnect-delay: 5', '  ctrl-loss-tmo: -1', '  exclude:', `    - subnqn: ${SUBSYS1}`, ''].join('\n'),
    );
    const result = await box.run(['-o', 'json', 'connect', ...TARGET]);
    expectExit(result, 0);
    expect(box.nvmeCalls('connect').map((c) => c.argv)).toEqual([connectArgv(SUBSYS2, ['--reconnect-delay', '5', '--ctrl-loss-tmo', '-1'])]);
    const items = jsonReport(result.stdout);
    expect(items.find((i) => i.subnqn === SUBSYS1)).toMatchObject({ outcome: 'skipped', reason: 'excluded' });
  });

  it('command-line host identity wins over /etc/nvme/hostnqn', async () => {
    const mine = 'nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555';
    const result = await box.run(['connect', ...TARGET, '--hostnqn', mine, '--nqn', SUBSYS2]);
    expectExit(result, 0);
    const calls = box.calls();
    expect(calls[0]!.argv).toEqual(['discover', '--transport', 'tcp', '--traddr', '127.0.0.1', '--trsvcid', '4420', '--hostnqn', mine, '--output-format', 'json']);
    // --nqn: only that subsystem of the log
    expect(calls.slice(1).map((c) => c.argv)).toEqual([
      ['connect', '--transport', 'tcp', '--traddr', '127.0.0.1', '--trsvcid', '4420', '--nqn', SUBSYS2, '--hostnqn', mine, '--output-format', 'json'],
    ]);
  });
});
