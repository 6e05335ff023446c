/**
 * /etc/sanhook/sanhook.yaml errors: exit 2 with one line `file:line: [key: ]problem`,
 * before anything runs.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectExit, Sandbox } from './harness.js';

let box: Sandbox;
beforeEach(() => {
  box = new Sandbox();
});
afterEach(async () => {
  await box.cleanup();
});

const TARGET = ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', '4420'];

/** [name, file text, line(s) (a syntax error may be reported on the next line), key (or null for a YAML syntax error), problem] */
const cases: [string, string, number | number[], string | null, RegExp][] = [
  ['unclosed flow sequence', 'lock:\n  stale-seconds: [1, 2\nnvmf:\n  reconnect-delay: 5\n', [2, 3], null, /flow sequence/i],
  ['tab indentation', 'nvmf:\n\treconnect-delay: 5\n', 2, null, /tab/i],
  ['duplicate key', 'lock:\n  stale-seconds: 3\nlock:\n  stale-seconds: 4\n', 3, null, /unique/i],
  ['unknown setting', '# sanhook\nlock:\n  stale-secs: 5\n', 3, 'lock.stale-secs', /unknown setting/],
  ['unknown section', 'nvmf:\n  reconnect-delay: 5\nlocks:\n  stale-seconds: 5\n', 3, 'locks', /unknown section/],
  ['unknown exclude field', 'nvmf:\n  exclude:\n    - subnqn: nqn.2026-11.io.sanhook:subsys1\n      port: 4420\n', 4, 'nvmf.exclude[0].port', /unknown field/],
  ['stale bound below the minimum', 'lock:\n  stale-seconds: 1\n', 2, 'lock.stale-seconds', /must be seconds 2-3600, got "1"/],
  ['bad handoff mode', 'nvmf:\n  udev-handoff: maybe\n', 2, 'nvmf.udev-handoff', /must be one of auto, systemd-run, inline/],
  ['bad reconnect-delay', 'nvmf:\n  reconnect-delay: soon\n', 2, 'nvmf.reconnect-delay', /whole seconds/],
  ['bad exclude nqn', 'nvmf:\n  exclude:\n    - subnqn: "nqn.x;reboot"\n', 3, 'nvmf.exclude[0].subnqn', /NQN/],
  ['section that is not a mapping', 'lock: 5\n', 1, 'lock', /must be a mapping/],
];

describe('sanhook.yaml errors', () => {
  it.each(cases)('%s → exit 2, file:line: key: problem', async (_name, text, line, key, problem) => {
    const file = box.writeRootFile('etc/sanhook/sanhook.yaml', text);
    const result = await box.run(TARGET);
    expectExit(result, 2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.split('\n').filter((l) => l !== '');
    expect(lines, result.stderr).toHaveLength(1);
    const reported = [line].flat().find((n) => lines[0]!.startsWith(`sanhook: ${file}:${n}: `));
    expect(reported, `${lines[0]}\ndoes not name ${file}:${[line].flat().join('|')}`).toBeDefined();
    const prefix = `sanhook: ${file}:${reported}: ${key === null ? '' : `${key}: `}`;
    expect(lines[0]!.startsWith(prefix), `${lines[0]}\ndoes not start with\n${prefix}`).toBe(true);
    expect(lines[0]!.slice(prefix.length)).toMatch(problem);
    expect(box.calls()).toEqual([]);
  });

  it('a malformed /etc/nvme/hostnqn (nvme-cli\'s file) → exit 2 naming it, no nvme call', async () => {
    const file = box.writeRootFile('etc/nvme/hostnqn', '# host NQN\nnqn.2014-08.org.nvmexpress:uuid:$(reboot)\n');
    const result = await box.run(TARGET);
    expectExit(result, 2);
    const lines = result.stderr.split('\n').filter((l) => l !== '');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]!.startsWith(`sanhook: ${file}:2: hostnqn: `)).toBe(true);
    expect(box.calls()).toEqual([]);
  });

  it('an empty file means all defaults', async () => {
    box.writeRootFile('etc/sanhook/sanhook.yaml', '# nothing set\n');
    expectExit(await box.run(TARGET), 0);
    expect(box.nvmeCalls('connect')).toHaveLength(2);
  });
});
