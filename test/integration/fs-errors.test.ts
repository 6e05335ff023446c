/**
 * FILESYSTEM ERRORS through the real CLI: a state or run directory that cannot
 * be created is exit 3 with one line naming the path, what it is for, the errno
 * and the likely cause, never "internal error" or a stack trace; and a connect
 * whose managed-path records cannot be written still connects every subsystem
 * of the discovery log (issue 9: 1 of 3 connected, then "internal error: ENOENT
 * ... mkdir '/var/lib/sanhook'").
 *
 * Tests run as root, so permission bits stop nothing: a regular FILE sits where
 * a directory must be created (ENOTDIR/EEXIST, which fail for root too). Where
 * the host lets us (unshare -m), a read-only bind mount of var/ reproduces the
 * unit's ProtectSystem=strict exactly, including node's ENOENT for EROFS.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { locate } from '../../src/core/fs-errors.js';
import { commandWrites } from '../../src/core/registry.js';
import { FABRICS } from '../../src/hooks/index.js';
import { resolvePaths } from '../../src/core/system.js';
import { expectExit, logRecords, messageLines, Sandbox, SUBSYS1, SUBSYS2, SUBSYS3, type RunResult } from './harness.js';

const CONNECT = ['connect', '-t', 'tcp', '-a', '127.0.0.1', '-s', '4420'];

let box: Sandbox;
beforeEach(() => {
  box = new Sandbox();
});
afterEach(async () => {
  await box.cleanup();
});

/** A regular file where sanhook must create a directory (relative to the root). */
function fileInTheWay(relative: string): string {
  const file = path.join(box.root, relative);
  rmSync(file, { recursive: true, force: true });
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, 'not a directory\n');
  return file;
}

/** One discovery controller with three subsystems, as on the host of issue 9. */
function threeSubsystems(): void {
  const log = JSON.parse(readFileSync(path.join(box.state, 'logs', 'default.json'), 'utf8')) as { records: Record<string, unknown>[] };
  const third = { ...log.records.at(-1)!, subnqn: SUBSYS3 };
  box.writeStateFile('logs/default.json', JSON.stringify({ ...log, records: [...log.records, third] }));
}

/** The user's message: exactly one non-log line on stderr, no stack trace. */
function oneLine(result: RunResult): string {
  const lines = messageLines(result.stderr);
  expect(lines, result.stderr).toHaveLength(1);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stderr).not.toContain('internal error');
  return lines[0]!;
}

describe('a directory sanhook cannot create: exit 3, one line that explains it', () => {
  it('connect: the run directory (locks) is a file', async () => {
    const run = fileInTheWay('run');
    const result = await box.run(CONNECT);
    expectExit(result, 3);
    expect(oneLine(result)).toBe(
      `sanhook: cannot create ${run}/sanhook (run directory for locks, pending events and the timerd socket): not a directory (ENOTDIR); ${run} is in its way and is not a directory`,
    );
    expect(box.calls()).toEqual([]); // nothing touched the fabric without a lock
  });

  it('timerd: its state directory is a file', async () => {
    const state = fileInTheWay('var/lib/sanhook');
    const result = await box.run(['timerd']);
    expectExit(result, 3);
    expect(oneLine(result)).toBe(`sanhook: cannot create ${state} (timerd state directory): file already exists (EEXIST); ${state} is in its way and is not a directory`);
  });

  it('disconnect: the tombstone cannot be written, so nothing is disconnected', async () => {
    expectExit(await box.run(CONNECT), 0);
    const device = box.sysfsControllers().find((name) => readFileSync(path.join(box.sysfs, 'class', 'nvme', name, 'subsysnqn'), 'utf8').trim() === SUBSYS1)!;
    const lib = fileInTheWay('var/lib');
    const result = await box.run(['disconnect', '--device', device]);
    expectExit(result, 3);
    expect(oneLine(result)).toBe(
      `sanhook: cannot create ${lib}/sanhook/nvmf/disconnected (state directory for NVMe-oF paths disconnected on purpose): not a directory (ENOTDIR); ${lib} is in its way and is not a directory`,
    );
    expect(box.calls().filter((c) => c.argv[0] === 'disconnect')).toEqual([]);
  });
});

describe('connect whose managed records cannot be written (issue 9)', () => {
  it('connects all 3 subsystems of the log, reports each record that was not recorded, exits 1', async () => {
    threeSubsystems();
    const lib = fileInTheWay('var/lib');
    const result = await box.run(CONNECT);
    expectExit(result, 1);
    // every subsystem was connected: the failed state write did not abort the loop
    expect(box.nvmeCalls('connect').map((c) => c.argv[c.argv.indexOf('--nqn') + 1])).toEqual([SUBSYS1, SUBSYS2, SUBSYS3]);
    expect(box.nvmeCalls('connect').every((c) => c.exit === 0)).toBe(true);
    const why = `cannot create ${lib}/sanhook/nvmf/managed (state directory for managed NVMe-oF paths): not a directory (ENOTDIR); ${lib} is in its way and is not a directory`;
    for (const subnqn of [SUBSYS1, SUBSYS2, SUBSYS3]) {
      expect(result.stdout).toMatch(new RegExp(`${subnqn} at tcp 127\\.0\\.0\\.1:4420: connected as nvme[0-9]+`));
      expect(result.stdout).toContain(`${subnqn} at tcp 127.0.0.1:4420: not recorded as managed, so it will not be brought back if lost: ${why}`);
    }
    const notRecorded = logRecords(result.stderr).filter((r) => r.outcome === 'not-recorded');
    expect(notRecorded.map((r) => r.subnqn)).toEqual([SUBSYS1, SUBSYS2, SUBSYS3]);
    expect(notRecorded.every((r) => r.err === why)).toBe(true);
    expect(oneLine(result)).toBe(
      `sanhook: 3 action(s) failed: ${SUBSYS1}: not recorded as managed; ${SUBSYS2}: not recorded as managed; ${SUBSYS3}: not recorded as managed`,
    );
  });

  it('a connect that can write them records all 3 (the same log, for contrast)', async () => {
    threeSubsystems();
    const result = await box.run(CONNECT);
    expectExit(result, 0);
    expect(readdirSync(path.join(box.root, 'var', 'lib', 'sanhook', 'nvmf', 'managed')).filter((n) => !n.endsWith('.tmp'))).toHaveLength(3);
  });

  it("writes nothing outside the locations commandWrites() lists for connect (what the units' test relies on)", async () => {
    threeSubsystems();
    expectExit(await box.run(CONNECT), 0);
    const allowed = commandWrites(FABRICS).get('connect')!.map((location) => locate(resolvePaths(box.root, box.sysfs), location).path);
    const written: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const file = path.join(dir, name);
        if (statSync(file).isDirectory()) walk(file);
        else written.push(file);
      }
    };
    walk(box.root);
    const ours = written.filter((f) => f !== path.join(box.root, 'etc', 'nvme', 'hostnqn'));
    expect(ours.length).toBeGreaterThan(0);
    for (const file of ours) expect(allowed.some((dir) => file.startsWith(`${dir}/`)), `${file} is not under ${allowed.join(', ')}`).toBe(true);
  });
});

/** Runs the CLI with <root>/var bind-mounted read-only in a private mount namespace (unshare -m). */
function runWithReadOnlyVar(args: readonly string[]): Promise<RunResult> {
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const varDir = path.join(box.root, 'var');
  const script = `mount --bind ${quote(varDir)} ${quote(varDir)} && mount -o remount,bind,ro ${quote(varDir)} && exec ${[process.execPath, ...box.argv(args)].map(quote).join(' ')}`;
  return box.spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { timeoutMs: 60_000 }).done;
}

const canBindReadOnly = (() => {
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'd=$(mktemp -d) && mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" && ! touch "$d/x" 2>/dev/null; s=$?; umount "$d"; rmdir "$d"; exit $s'], { encoding: 'utf8' });
  return probe.status === 0;
})();

describe.skipIf(!canBindReadOnly)('a read-only /var, as under ProtectSystem=strict without StateDirectory= (needs unshare -m)', () => {
  it('connect connects both subsystems; each record fails with EROFS and the unit setting that allows it', async () => {
    mkdirSync(path.join(box.root, 'var', 'lib'), { recursive: true });
    const result = await runWithReadOnlyVar(CONNECT);
    expectExit(result, 1);
    expect(box.nvmeCalls('connect')).toHaveLength(2);
    const state = path.join(box.root, 'var', 'lib', 'sanhook');
    // node's recursive mkdir says ENOENT here (the message); sanhook asks again and gets EROFS.
    const why = `cannot create ${state} (state directory for managed NVMe-oF paths): read-only file system (EROFS); under systemd the unit needs ReadWritePaths=${state}`;
    expect(logRecords(result.stderr).filter((r) => r.outcome === 'not-recorded').map((r) => r.err)).toEqual([why, why]);
    expect(oneLine(result)).toBe(`sanhook: 2 action(s) failed: ${SUBSYS1}: not recorded as managed; ${SUBSYS2}: not recorded as managed`);
  });

  it('timerd: exit 3 naming its state directory and EROFS', async () => {
    mkdirSync(path.join(box.root, 'var', 'lib'), { recursive: true });
    const result = await runWithReadOnlyVar(['timerd']);
    expectExit(result, 3);
    const state = path.join(box.root, 'var', 'lib', 'sanhook');
    expect(oneLine(result)).toBe(`sanhook: cannot create ${state} (timerd state directory): read-only file system (EROFS); under systemd the unit needs ReadWritePaths=${state}`);
  });
});
