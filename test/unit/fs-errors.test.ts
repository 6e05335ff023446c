/**
 * fs-errors.ts: a failed file-system call on sanhook's own files becomes one
 * EnvironmentError line (exit 3) naming the path, what it is for, the errno and
 * the likely cause; the places that write sanhook's files use it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as fsPromises from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EnvironmentError, ExitCode, UsageError, describeError, exitCodeFor } from '../../src/core/errors.js';
import { COMMAND_WRITES, LOCATIONS, fsError, locate, makeDir, unitSettingFor, type FsOp, type FsTarget, type Location } from '../../src/core/fs-errors.js';
import { ensureRunDirs, runCoalesced, writePending } from '../../src/core/lock.js';
import { putRecord } from '../../src/core/state.js';
import { NVMF_STORES } from '../../src/hooks/nvmf/endpoint-state.js';
import { ioParamsFromOptions } from '../../src/hooks/nvmf/io-request.js';
import { resolvePaths } from '../../src/core/system.js';
import { TimerStore } from '../../src/timerd/store.js';
import { runTimerd } from '../../src/timerd/main.js';
import { maskLocation, setMask } from '../../src/core/coexist.js';
import { commandWrites, locations } from '../../src/core/registry.js';
import type { Fabric } from '../../src/core/fabric.js';
import { FABRICS } from '../../src/hooks/index.js';
import { NVMF_AUTOCONNECT_RULES, NVMF_AUTOCONNECT_SERVICE } from '../../src/hooks/nvmf/coexist.js';
import { NVMF_LOCATIONS } from '../../src/hooks/nvmf/locations.js';
import { silentLogger } from '../../src/core/log.js';
import { tempSystem } from '../support/system.js';

// makeDir's read-only probe is tested with a scripted mkdir (node's own behaviour on a
// read-only mount, measured: the recursive call says ENOENT, the single one EROFS).
const scripted: { mkdir?: (...args: Parameters<typeof fsPromises.mkdir>) => ReturnType<typeof fsPromises.mkdir> } = {};
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return { ...real, mkdir: (...args: Parameters<typeof real.mkdir>) => (scripted.mkdir ?? real.mkdir)(...args) };
});
afterEach(() => {
  delete scripted.mkdir;
});

function errno(code: string, syscall: string, file: string, text: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${text}, ${syscall} '${file}'`), { code, errno: -1, syscall, path: file });
}

const STATE: FsTarget = { what: 'state directory for managed NVMe-oF paths', top: '/var/lib/sanhook' };
const RUN: FsTarget = { what: 'lock directory', top: '/run/sanhook' };
const ETC: FsTarget = { what: "udev rules directory for the mask of nvme-cli's autoconnect rule", top: '/etc/udev/rules.d' };
const BSD: FsTarget = { what: 'timerd journal', top: '/var/db/sanhook' };
const ROOTED: FsTarget = { what: 'timerd journal', top: '/tmp/t/root/var/lib/sanhook' };

describe('fsError: one line naming path, purpose, errno and likely cause', () => {
  const rows: readonly [string, FsOp, NodeJS.ErrnoException, string, FsTarget, string][] = [
    [
      'EROFS creating the state dir (issue 9)',
      'create',
      errno('EROFS', 'mkdir', '/var/lib/sanhook', 'read-only file system'),
      '/var/lib/sanhook/nvmf/managed',
      STATE,
      'cannot create /var/lib/sanhook (state directory for managed NVMe-oF paths): read-only file system (EROFS); under systemd the unit needs StateDirectory=sanhook or ReadWritePaths=/var/lib/sanhook',
    ],
    [
      'EROFS under /run',
      'create',
      errno('EROFS', 'mkdir', '/run/sanhook/locks', 'read-only file system'),
      '/run/sanhook/locks',
      RUN,
      'cannot create /run/sanhook/locks (lock directory): read-only file system (EROFS); under systemd the unit needs RuntimeDirectory=sanhook or ReadWritePaths=/run/sanhook',
    ],
    [
      'EROFS in /etc: ReadWritePaths only',
      'create',
      errno('EROFS', 'symlink', '/dev/null', 'read-only file system'),
      '/etc/udev/rules.d/70-nvmf-autoconnect.rules',
      ETC,
      "cannot create /etc/udev/rules.d/70-nvmf-autoconnect.rules (udev rules directory for the mask of nvme-cli's autoconnect rule): read-only file system (EROFS); under systemd the unit needs ReadWritePaths=/etc/udev/rules.d",
    ],
    [
      'EROFS on FreeBSD: no systemd',
      'write',
      errno('EROFS', 'open', '/var/db/sanhook/timers.journal', 'read-only file system'),
      '/var/db/sanhook/timers.journal',
      BSD,
      'cannot write /var/db/sanhook/timers.journal (timerd journal): read-only file system (EROFS); its file system is mounted read-only',
    ],
    [
      'EROFS under --root: the directory itself',
      'write',
      errno('EROFS', 'open', '/tmp/t/root/var/lib/sanhook/timers.journal', 'read-only file system'),
      '/tmp/t/root/var/lib/sanhook/timers.journal',
      ROOTED,
      'cannot write /tmp/t/root/var/lib/sanhook/timers.journal (timerd journal): read-only file system (EROFS); under systemd the unit needs ReadWritePaths=/tmp/t/root/var/lib/sanhook',
    ],
    [
      'EACCES: not root',
      'write',
      errno('EACCES', 'open', '/var/lib/sanhook/nvmf/managed/x.1.tmp', 'permission denied'),
      '/var/lib/sanhook/nvmf/managed/x.1.tmp',
      STATE,
      'cannot write /var/lib/sanhook/nvmf/managed/x.1.tmp (state directory for managed NVMe-oF paths): permission denied (EACCES); sanhook must run as root (and under systemd the unit needs StateDirectory=sanhook or ReadWritePaths=/var/lib/sanhook)',
    ],
    [
      'EPERM',
      'remove',
      errno('EPERM', 'unlink', '/var/lib/sanhook/nvmf/managed/x', 'operation not permitted'),
      '/var/lib/sanhook/nvmf/managed/x',
      STATE,
      'cannot remove /var/lib/sanhook/nvmf/managed/x (state directory for managed NVMe-oF paths): operation not permitted (EPERM); sanhook must run as root (and under systemd the unit needs StateDirectory=sanhook or ReadWritePaths=/var/lib/sanhook)',
    ],
    [
      'EACCES reading: no unit setting (a read-only sandbox never refuses a read)',
      'read',
      errno('EACCES', 'open', '/var/lib/sanhook/timers.json', 'permission denied'),
      '/var/lib/sanhook/timers.json',
      { what: 'timerd snapshot', top: '/var/lib/sanhook' },
      'cannot read /var/lib/sanhook/timers.json (timerd snapshot): permission denied (EACCES); sanhook must run as root',
    ],
    [
      'ENOTDIR: a file in the way',
      'create',
      errno('ENOTDIR', 'mkdir', '/var/lib/sanhook', 'not a directory'),
      '/var/lib/sanhook/nvmf/managed',
      STATE,
      'cannot create /var/lib/sanhook (state directory for managed NVMe-oF paths): not a directory (ENOTDIR); something that is not a directory is in its way',
    ],
    [
      'EEXIST creating a directory: a file in the way',
      'create',
      errno('EEXIST', 'mkdir', '/run/sanhook/locks', 'file already exists'),
      '/run/sanhook/locks',
      RUN,
      'cannot create /run/sanhook/locks (lock directory): file already exists (EEXIST); something that is not a directory is in its way',
    ],
    [
      'ENOSPC',
      'write',
      errno('ENOSPC', 'write', '/var/lib/sanhook/timers.journal', 'no space left on device'),
      '/var/lib/sanhook/timers.journal',
      { what: 'timerd journal', top: '/var/lib/sanhook' },
      'cannot write /var/lib/sanhook/timers.journal (timerd journal): no space left on device (ENOSPC); its file system is full',
    ],
    [
      "an errno without a table entry: node's own text, no cause guessed",
      'write',
      errno('ENOTSUP', 'open', '/run/sanhook/pending/k.tmp', 'operation not supported on socket'),
      '/run/sanhook/pending/k.tmp',
      { what: 'pending-event directory', top: '/run/sanhook' },
      'cannot write /run/sanhook/pending/k.tmp (pending-event directory): operation not supported on socket (ENOTSUP)',
    ],
    [
      'rename: names the file being replaced, not the temp file',
      'write',
      Object.assign(errno('EROFS', 'rename', '/run/sanhook/pending/k.1.tmp', 'read-only file system'), { dest: '/run/sanhook/pending/k' }),
      '/run/sanhook/pending/k',
      { what: 'pending-event directory', top: '/run/sanhook' },
      'cannot write /run/sanhook/pending/k (pending-event directory): read-only file system (EROFS); under systemd the unit needs RuntimeDirectory=sanhook or ReadWritePaths=/run/sanhook',
    ],
    [
      'create: error.path that is not a parent of the file is not used',
      'create',
      errno('EROFS', 'symlink', '/dev/null', 'read-only file system'),
      '/etc/systemd/system/nvmf-autoconnect.service',
      { what: 'systemd unit directory', top: '/etc/systemd/system' },
      'cannot create /etc/systemd/system/nvmf-autoconnect.service (systemd unit directory): read-only file system (EROFS); under systemd the unit needs ReadWritePaths=/etc/systemd/system',
    ],
  ];

  it.each(rows)('%s', (_name, op, error, file, target, message) => {
    const result = fsError(error, op, file, target);
    expect(result).toBeInstanceOf(EnvironmentError);
    const environment = result as EnvironmentError;
    expect(environment.message).toBe(message);
    expect(environment.message).not.toContain('\n');
    expect(environment.cause).toBe(error);
    expect(environment.fields).toMatchObject({ what: target.what, op, code: error.code, syscall: error.syscall });
    expect(exitCodeFor(environment)).toBe(ExitCode.environment);
    expect(describeError(environment)).toBe(message);
  });

  it('leaves anything that is not an errno error alone (bugs stay bugs, our errors stay ours)', () => {
    const bug = new TypeError('x is undefined');
    expect(fsError(bug, 'write', '/run/sanhook/x', RUN)).toBe(bug);
    const ours = new UsageError('--traddr: bad');
    expect(fsError(ours, 'write', '/run/sanhook/x', RUN)).toBe(ours);
    const nodeCode = Object.assign(new Error('bad argument'), { code: 'ERR_INVALID_ARG_TYPE' });
    expect(fsError(nodeCode, 'write', '/run/sanhook/x', RUN)).toBe(nodeCode);
    expect(fsError('a string', 'write', '/run/sanhook/x', RUN)).toBe('a string');
  });

  it('unit settings come from the Linux directories of platform.ts', () => {
    expect(unitSettingFor('/run/sanhook')).toBe('RuntimeDirectory=sanhook or ReadWritePaths=/run/sanhook');
    expect(unitSettingFor('/var/lib/sanhook')).toBe('StateDirectory=sanhook or ReadWritePaths=/var/lib/sanhook');
    expect(unitSettingFor('/var/run/sanhook')).toBeUndefined();
    expect(unitSettingFor('/srv/x')).toBe('ReadWritePaths=/srv/x');
  });
});

describe('locate / COMMAND_WRITES and the registry', () => {
  it('puts each location under its base directory, with sanhook directory as top', () => {
    const paths = resolvePaths('/', '/sys');
    expect(locate(paths, NVMF_LOCATIONS.managed)).toEqual({ path: '/var/lib/sanhook/nvmf/managed', what: NVMF_LOCATIONS.managed.what, top: '/var/lib/sanhook' });
    expect(locate(paths, 'locks')).toEqual({ path: '/run/sanhook/locks', what: 'lock directory', top: '/run/sanhook' });
    expect(locate(paths, LOCATIONS.locks)).toEqual(locate(paths, 'locks'));
    expect(locate(paths, maskLocation(NVMF_AUTOCONNECT_RULES))).toMatchObject({ path: '/etc/udev/rules.d', top: '/etc/udev/rules.d' });
    expect(locate(paths, maskLocation(NVMF_AUTOCONNECT_SERVICE))).toMatchObject({ path: '/etc/systemd/system', top: '/etc/systemd/system' });
    expect(locate(paths, NVMF_LOCATIONS.fabricsDevice).path).toBe('/dev/nvme-fabrics');
    expect(locate(paths, NVMF_LOCATIONS.deleteController)).toMatchObject({ path: '/sys/class/nvme/*/delete_controller', top: '/sys/class/nvme/*' });
    expect(locate(resolvePaths('/', '/sys', 'freebsd'), 'timerdJournal')).toMatchObject({ path: '/var/db/sanhook/timers.journal', top: '/var/db/sanhook' });
  });

  it("the core's rows name no fabric", () => {
    expect(JSON.stringify({ LOCATIONS, COMMAND_WRITES })).not.toMatch(/nvm/i);
  });

  it("a fabric's commands write only declared places: the core's or the fabric's own", () => {
    const core = new Set<Location>(Object.values(LOCATIONS));
    for (const fabric of FABRICS) {
      const own = new Set<Location>(Object.values(fabric.locations));
      for (const [command, writes] of Object.entries(fabric.commandWrites)) {
        for (const location of writes) expect(core.has(location) || own.has(location), `${fabric.name} ${command}: ${location.what}`).toBe(true);
      }
    }
  });

  it("merges the core's and every fabric's, and coexist's mask directories", () => {
    const writes = commandWrites(FABRICS);
    const paths = (command: string) => writes.get(command)!.map((l) => locate(resolvePaths('/', '/sys'), l).path);
    expect(paths('timerd')).toContain('/var/lib/sanhook/timers.journal');
    expect(paths('connect')).toEqual([
      '/run/sanhook',
      '/run/sanhook/locks',
      '/run/sanhook/pending',
      '/var/lib/sanhook/nvmf/managed',
      '/var/lib/sanhook/nvmf/disconnected',
      '/var/lib/sanhook/nvmf/discovery',
      '/dev/nvme-fabrics',
      '/sys/class/nvme/*/delete_controller',
      '/run/nvme/registry',
    ]);
    expect(paths('coexist')).toEqual(['/etc/udev/rules.d', '/etc/systemd/system', '/etc/systemd/system', '/etc/systemd/system']);
    expect(paths('dcb-check')).toEqual(['/run/sanhook', '/run/sanhook/locks', '/run/sanhook/pending', '/sys/bus/fcoe/ctlr_create', '/sys/class/net/*/ctlr_0/enabled', '/sys/module/libfcoe/parameters/create']);
    // lost takes the key's lock (run dir, locks, pending); SRP's lost also arms timerd and, as the
    // planner of every SRP verb, may run a queued SRP event (its records and sysfs files)
    expect(paths('lost')).toEqual([
      '/run/sanhook',
      '/run/sanhook/locks',
      '/run/sanhook/pending',
      '/run/sanhook/timerd.sock',
      '/sys/class/srp_remote_ports/*/dev_loss_tmo',
      '/var/lib/sanhook/srp/erased',
      '/var/lib/sanhook/srp/targets',
      '/var/lib/sanhook/srp/disconnected',
      '/sys/class/infiniband_srp/*/add_target',
      '/sys/class/scsi_device/*/device/state',
    ]);
    expect(writes.has('frobnicate')).toBe(false);
    expect([...locations(FABRICS).keys()]).toEqual([...Object.keys(LOCATIONS), ...FABRICS.flatMap((f) => Object.keys(f.locations))]);
  });

  it('a verb two fabrics provide writes what either writes; a location name used twice is a bug', () => {
    const other: Fabric = { ...FABRICS[0]!, name: 'other', locations: { scratch: { base: 'state', sub: ['other'], what: 'scratch' } }, coexist: [] };
    const scratch = other.locations.scratch!;
    const both = commandWrites([FABRICS[0]!, { ...other, commandWrites: { lost: [scratch], connect: [LOCATIONS.locks, scratch] } }]);
    expect(both.get('lost')).toEqual([LOCATIONS.runDir, LOCATIONS.locks, LOCATIONS.pending, scratch]);
    expect(both.get('connect')!.filter((l) => l === LOCATIONS.locks)).toHaveLength(1);
    expect(both.get('connect')!.at(-1)).toBe(scratch);
    expect(() => locations([FABRICS[0]!, { ...other, locations: { managed: scratch } }])).toThrow(/location managed is registered twice/);
    expect(() => locations([{ ...other, locations: { locks: scratch } }])).toThrow(/location locks is registered twice/);
  });
});

describe('makeDir', () => {
  it('creates the directory and its parents', async () => {
    const system = tempSystem();
    const where = locate(system.paths, NVMF_LOCATIONS.managed);
    await makeDir(where.path, where);
    expect((await fsPromises.stat(where.path)).isDirectory()).toBe(true);
    await makeDir(where.path, where);
  });

  it('a file where a parent must be: names that parent (ENOTDIR), even as root', async () => {
    const system = tempSystem();
    mkdirSync(path.join(system.paths.root, 'var'), { recursive: true });
    writeFileSync(path.join(system.paths.root, 'var', 'lib'), 'not a directory');
    const where = locate(system.paths, NVMF_LOCATIONS.managed);
    const error = await makeDir(where.path, where).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toBe(
      `cannot create ${where.path} (state directory for managed NVMe-oF paths): not a directory (ENOTDIR); ${path.join(system.paths.root, 'var/lib')} is in its way and is not a directory`,
    );
  });

  it("read-only: node's recursive mkdir says ENOENT; the single mkdir of that directory gets EROFS for the message", async () => {
    const paths = resolvePaths('/', '/sys');
    const where = locate(paths, NVMF_LOCATIONS.managed);
    const calls: [string, unknown][] = [];
    scripted.mkdir = (async (dir: import('node:fs').PathLike, options?: unknown) => {
      calls.push([String(dir), options]);
      const recursive = typeof options === 'object' && options !== null && (options as { recursive?: boolean }).recursive;
      throw recursive ? errno('ENOENT', 'mkdir', '/var/lib/sanhook', 'no such file or directory') : errno('EROFS', 'mkdir', String(dir), 'read-only file system');
    }) as typeof fsPromises.mkdir;
    const error = await makeDir(where.path, where).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'cannot create /var/lib/sanhook (state directory for managed NVMe-oF paths): read-only file system (EROFS); under systemd the unit needs StateDirectory=sanhook or ReadWritePaths=/var/lib/sanhook',
    );
    expect((error as Error & { cause: NodeJS.ErrnoException }).cause.code).toBe('EROFS');
    expect(calls.map(([dir]) => dir)).toEqual(['/var/lib/sanhook/nvmf/managed', '/var/lib/sanhook']);
  });

  it('ENOENT that the single mkdir cannot explain stays ENOENT', async () => {
    const where = locate(resolvePaths('/', '/sys'), 'locks');
    scripted.mkdir = (async (dir: import('node:fs').PathLike) => {
      throw errno('ENOENT', 'mkdir', String(dir).startsWith('/run/sanhook/locks') ? '/run/sanhook' : String(dir), 'no such file or directory');
    }) as typeof fsPromises.mkdir;
    const error = await makeDir(where.path, where).catch((e: unknown) => e);
    expect((error as Error).message).toBe('cannot create /run/sanhook (lock directory): no such file or directory (ENOENT)');
  });

  it('a directory created meanwhile by someone else: the rest is created', async () => {
    const system = tempSystem();
    mkdirSync(system.paths.root, { recursive: true });
    const where = locate(system.paths, 'locks');
    let first = true;
    const real = (await vi.importActual<typeof import('node:fs/promises')>('node:fs/promises')).mkdir;
    scripted.mkdir = (async (dir: import('node:fs').PathLike, options?: Parameters<typeof real>[1]) => {
      if (first) {
        first = false;
        throw errno('ENOENT', 'mkdir', path.join(system.paths.root, 'run'), 'no such file or directory');
      }
      return real(dir, options);
    }) as typeof fsPromises.mkdir;
    await makeDir(where.path, where);
    expect((await fsPromises.stat(where.path)).isDirectory()).toBe(true);
  });
});

/** A temp System whose `dir` (relative to its root) cannot be created: a regular file is in its place. */
function blocked(relative: string) {
  const system = tempSystem();
  const file = path.join(system.paths.root, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, 'in the way');
  return { system, file };
}

describe("every writer of sanhook's files explains a failure", () => {
  it('lock.ts: the run directory', async () => {
    const { system, file } = blocked('run');
    const expected = `cannot create ${file}/sanhook (run directory for locks, pending events and the timerd socket): not a directory (ENOTDIR); ${file} is in its way and is not a directory`;
    await expect(ensureRunDirs(system)).rejects.toThrow(expected);
    await expect(writePending(system, 'k', 'v', {})).rejects.toBeInstanceOf(EnvironmentError);
    await expect(runCoalesced(system, 'k', 'v', {}, { v: async () => {} }, { staleMs: 2000 })).rejects.toThrow(expected);
  });

  it('lock.ts: the lock directory', async () => {
    const { system, file } = blocked('run/sanhook/locks');
    await expect(runCoalesced(system, 'k', 'v', {}, { v: async () => {} }, { staleMs: 2000 })).rejects.toThrow(
      `cannot create ${file} (lock directory): file already exists (EEXIST); ${file} is in its way and is not a directory`,
    );
  });

  it('lock.ts: a pending marker that cannot be written', async () => {
    const system = tempSystem();
    await ensureRunDirs(system);
    // a directory where the marker's rename must land
    mkdirSync(path.join(system.paths.run, 'pending', 'k#v'));
    writeFileSync(path.join(system.paths.run, 'pending', 'k#v', 'x'), '');
    const error = await writePending(system, 'k', 'v', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toMatch(new RegExp(`^cannot write ${path.join(system.paths.run, 'pending', 'k#v')} \\(pending-event directory\\): .* \\((EISDIR|ENOTEMPTY|EEXIST)\\)`));
  });

  it('core/state.ts: managed records and tombstones', async () => {
    const { system, file } = blocked('var/lib');
    const params = ioParamsFromOptions({ transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420', nqn: 'nqn.2026-11.io.sanhook:x' });
    await expect(putRecord(system, NVMF_STORES.managed, 'k', { params })).rejects.toThrow(
      `cannot create ${file}/sanhook/nvmf/managed (state directory for managed NVMe-oF paths): not a directory (ENOTDIR); ${file} is in its way and is not a directory`,
    );
    await expect(putRecord(system, NVMF_STORES.disconnected, 'k', {})).rejects.toThrow(
      `cannot create ${file}/sanhook/nvmf/disconnected (state directory for NVMe-oF paths disconnected on purpose): not a directory (ENOTDIR); ${file} is in its way`,
    );
  });

  it('timerd/store.ts: the state directory and the snapshot', async () => {
    const { system, file } = blocked('var/lib/sanhook');
    const store = new TimerStore(system.paths.state, silentLogger, () => ({ entries: [], size: 0, nextId: 1 }));
    await expect(store.load()).rejects.toThrow(`cannot create ${file} (timerd state directory): file already exists (EEXIST); ${file} is in its way and is not a directory`);

    const other = tempSystem();
    mkdirSync(path.join(other.paths.state, 'timers.json'), { recursive: true });
    const second = new TimerStore(other.paths.state, silentLogger, () => ({ entries: [], size: 0, nextId: 1 }));
    await expect(second.load()).rejects.toThrow(`cannot read ${path.join(other.paths.state, 'timers.json')} (timerd snapshot): is a directory (EISDIR)`);
  });

  it('timerd/store.ts: compaction that cannot replace the snapshot', async () => {
    const system = tempSystem();
    const store = new TimerStore(system.paths.state, silentLogger, () => ({ entries: [], size: 0, nextId: 1 }));
    await store.load();
    mkdirSync(path.join(system.paths.state, 'timers.json', 'blocker'), { recursive: true });
    const error = await store.compact().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toMatch(new RegExp(`^cannot write ${path.join(system.paths.state, 'timers.json')} \\(timerd snapshot\\): `));
    await store.close();
  });

  it('timerd/main.ts: the run directory and the socket', async () => {
    const options = { maxConcurrent: 1, hookTimeoutMs: 1000, sanhookArgv: ['/bin/false'], hooks: new Map(), stopSignal: new Promise<string>(() => {}) };
    const { system, file } = blocked('run');
    await expect(runTimerd(system, options)).rejects.toThrow(
      `cannot create ${file}/sanhook (run directory for locks, pending events and the timerd socket): not a directory (ENOTDIR); ${file} is in its way and is not a directory`,
    );
    // A directory where the socket goes: bind says EADDRINUSE, and it cannot be removed as a stale socket.
    const other = tempSystem();
    mkdirSync(path.join(other.paths.run, 'timerd.sock', 'x'), { recursive: true });
    const error = await runTimerd(other, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toBe(`cannot listen on ${path.join(other.paths.run, 'timerd.sock')} (timerd socket): is a directory (EISDIR)`);
  });

  it('coexist.ts: the mask directory', async () => {
    const { system, file } = blocked('etc/udev');
    const error = await setMask(system, NVMF_AUTOCONNECT_RULES, 'mask').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toBe(
      `cannot create ${file}/rules.d (udev rules directory for the mask of nvme-cli's autoconnect rule): not a directory (ENOTDIR); ${file} is in its way and is not a directory`,
    );
  });
});
