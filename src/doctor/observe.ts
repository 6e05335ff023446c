/**
 * `sanhook doctor`'s observation: what is on this host, read through the
 * System (its paths, exec, env and timerd client) and the package's own files;
 * evaluate.ts decides what it means.
 *
 * Contract: reads only: nothing is created, loaded, started or written.
 * Every path is under `system.paths` (root, sysfs, etc, run, state), so tests
 * use a temp root. Programs are run only to print their version (`nvme
 * version`, `dcb -V`) or, on FreeBSD, to ask `kldstat -q -m` about a module.
 *
 * Kernel modules (Linux): a loaded module, and a built-in one with
 * parameters, has /sys/module/<name> with dashes as underscores (the kernel
 * keeps the KBUILD_MODNAME, modprobe accepts either); a built-in module
 * without parameters has no entry there, so a fabric may name sysfs paths its
 * code creates (`evidence`: /sys/class/nvme-fabrics). FreeBSD: `kldstat -q -m
 * NAME` exits 0 for a module in a loaded file or compiled into the kernel.
 *
 * Unit sandboxes: the unit in effect (the first of that name in systemd's
 * directories) plus its drop-ins (`<unit>.d/*.conf` from every directory, a
 * higher-priority one hiding a lower one of the same name, read in name
 * order) are parsed and checked with core/unit-sandbox.ts against what the
 * commands of its ExecStart write (core/registry.ts commandWrites()), at the
 * paths those commands use: the ExecStart's own --root/--sysfs (default /,
 * /sys), not doctor's. That is a static check: mount namespaces, SELinux or
 * AppArmor and `systemctl set-property` runtime changes are not seen.
 */
import { constants } from 'node:fs';
import { access, lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { managerDirs, setMask } from '../core/coexist.js';
import { ConfigError, EnvironmentError, SanhookError } from '../core/errors.js';
import type { Fabric } from '../core/fabric.js';
import { locate, unitSettingFor } from '../core/fs-errors.js';
import { commandWrites, timerHookTable } from '../core/registry.js';
import type { ModuleNeed, ToolNeed, Usage } from '../core/requirements.js';
import { resolvePaths, type System } from '../core/system.js';
import { denial, execInvocations, parseUnit, UNMODELLED_PREFIX } from '../core/unit-sandbox.js';
import { hashOf, type Manifest } from '../install/plan.js';
import { socketPathFor } from '../timerd/client.js';
import { sysfsModuleName, type CoexistSeen, type DirSeen, type ModuleSeen, type RuleCopy, type RuleSeen, type TimerdSeen, type ToolSeen, type UnitDenial, type UnitSeen } from './evaluate.js';

/** A healthy timerd answers a ping in microseconds; a doctor run must not hang on a wedged one for the client's usual 5 s. */
export const DOCTOR_TIMERD_TIMEOUT_MS = 1_000;
/** `nvme version` and friends print and exit at once; a tool that hangs is reported, not waited for. */
export const VERSION_TIMEOUT_MS = 5_000;

const exists = (file: string) =>
  lstat(file).then(
    () => true,
    () => false,
  );

export async function observeModule(system: System, need: ModuleNeed): Promise<ModuleSeen> {
  if (need.platform === 'freebsd') {
    const argv = ['-q', '-m', need.module];
    try {
      const result = await system.exec('kldstat', argv, { timeoutMs: VERSION_TIMEOUT_MS });
      return result.exitCode === 0 ? { loaded: true, how: `kldstat ${argv.join(' ')}` } : { loaded: false, looked: `kldstat ${argv.join(' ')} (exit ${result.exitCode})` };
    } catch (error) {
      if (error instanceof SanhookError) return { loaded: false, looked: `kldstat ${argv.join(' ')}: ${error.message}` };
      throw error;
    }
  }
  const entry = path.join(system.paths.sysfs, 'module', sysfsModuleName(need.module));
  if (await exists(entry)) return { loaded: true, how: entry };
  for (const evidence of need.evidence ?? []) {
    const file = path.join(system.paths.sysfs, evidence);
    if (await exists(file)) return { loaded: true, how: `built in: ${file}` };
  }
  return { loaded: false, looked: [entry, ...(need.evidence ?? []).map((e) => path.join(system.paths.sysfs, e))].join(', ') };
}

export async function observeTool(system: System, need: ToolNeed): Promise<ToolSeen> {
  try {
    const result = await system.exec(need.tool, need.versionArgs, { timeoutMs: VERSION_TIMEOUT_MS });
    return { found: true, exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
  } catch (error) {
    if (error instanceof EnvironmentError) return { found: false };
    if (error instanceof SanhookError) return { found: true, exitCode: -1, stdout: '', stderr: error.message };
    throw error;
  }
}

/** The nearest existing directory at or above `dir`. */
async function nearestExisting(dir: string): Promise<string> {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    if (await exists(at)) return at;
    if (path.dirname(at) === at) return at;
  }
}

const errnoWhy = (error: unknown) => {
  const e = error as NodeJS.ErrnoException;
  return e.code ? `${e.code}` : String(error);
};

export async function observeDir(name: string, dir: string, what: string, runnerUid: number): Promise<DirSeen> {
  const base = { name, path: dir, what, runnerUid };
  let info;
  try {
    info = await stat(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') return { ...base, found: { kind: 'not-dir', what: 'below a file' } };
    if (code !== 'ENOENT') throw error;
    const parent = await nearestExisting(path.dirname(dir));
    const parentInfo = await stat(parent).catch(() => undefined);
    if (!parentInfo?.isDirectory()) return { ...base, found: { kind: 'absent', parent, creatable: false, why: `${parent} is not a directory` } };
    try {
      await access(parent, constants.W_OK | constants.X_OK);
      return { ...base, found: { kind: 'absent', parent, creatable: true } };
    } catch (refused) {
      return { ...base, found: { kind: 'absent', parent, creatable: false, why: errnoWhy(refused) } };
    }
  }
  if (!info.isDirectory()) return { ...base, found: { kind: 'not-dir', what: 'a file' } };
  try {
    await access(dir, constants.W_OK | constants.X_OK);
    return { ...base, found: { kind: 'dir', mode: info.mode, uid: info.uid, writable: true } };
  } catch (refused) {
    return { ...base, found: { kind: 'dir', mode: info.mode, uid: info.uid, writable: false, why: errnoWhy(refused) } };
  }
}

export async function observeTimerd(system: System): Promise<TimerdSeen> {
  const socket = socketPathFor(system.paths.run);
  try {
    const reply = await system.timerd.request({ op: 'ping' }, { timeoutMs: DOCTOR_TIMERD_TIMEOUT_MS });
    if (!reply.ok) return { ok: false, socket, why: `timerd at ${socket} refused ping: ${reply.error?.message ?? 'no reason given'}` };
    return {
      ok: true,
      socket,
      ...(typeof reply.entries === 'number' ? { entries: reply.entries } : {}),
      ...(typeof reply.pid === 'number' ? { pid: reply.pid } : {}),
    };
  } catch (error) {
    if (error instanceof SanhookError) return { ok: false, socket, why: error.message };
    throw error;
  }
}

/** The manifest of the last `sanhook install` into <root>/<prefix>, if readable. */
export async function readInstallManifest(system: System, prefix: string): Promise<{ readonly path: string; readonly manifest?: Manifest }> {
  const file = path.join(system.paths.root, prefix, 'share', 'sanhook', 'install-manifest.json');
  try {
    return { path: file, manifest: JSON.parse(await readFile(file, 'utf8')) as Manifest };
  } catch {
    return { path: file };
  }
}

/** A host path ("/usr/lib/udev/rules.d/x") for a path under the root. */
const hostPath = (system: System, file: string) => path.join('/', path.relative(system.paths.root, file));

/** Existing directories only once each (merged /usr: /lib/udev/rules.d is /usr/lib/udev/rules.d). */
async function distinctDirs(dirs: readonly string[]): Promise<string[]> {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const dir of dirs) {
    const real = await realpath(dir).catch(() => undefined);
    if (real === undefined || seen.has(real)) continue;
    seen.add(real);
    out.push(dir);
  }
  return out;
}

/** A link to /dev/null or an empty file: what udev and systemd skip. */
async function isMask(file: string): Promise<boolean> {
  const link = await lstat(file);
  if (link.isSymbolicLink()) return (await realpath(file).catch(() => undefined)) === '/dev/null';
  return link.isFile() && link.size === 0;
}

/** Where each platform's event manager reads sanhook's rule files, and whether a higher copy hides a lower one. */
export function eventRuleDirs(system: System): { readonly dirs: readonly string[]; readonly shadowing: boolean } {
  if (system.paths.platform === 'freebsd') {
    // devd.conf(5)'s default `directory` statements; devd reads every file of both.
    return { dirs: [path.join(system.paths.root, 'etc', 'devd'), path.join(system.paths.root, 'usr', 'local', 'etc', 'devd')], shadowing: false };
  }
  return { dirs: managerDirs(system, 'udev'), shadowing: true };
}

export async function observeRule(system: System, file: string, manifest: { readonly path: string; readonly manifest?: Manifest }): Promise<RuleSeen> {
  const { dirs, shadowing } = eventRuleDirs(system);
  const copies: RuleCopy[] = [];
  for (const dir of await distinctDirs(dirs)) {
    const at = path.join(dir, file);
    if (!(await exists(at))) continue;
    const mask = await isMask(at);
    const recorded = manifest.manifest?.files[hostPath(system, at)];
    let origin: RuleCopy['origin'] = 'unknown';
    if (recorded && 'hash' in recorded && !mask) origin = hashOf(await readFile(at, 'utf8').catch(() => '')) === recorded.hash ? 'ours' : 'edited';
    copies.push({ path: at, kind: mask ? 'mask' : 'file', origin });
  }
  const installedHost = Object.keys(manifest.manifest?.files ?? {}).find((f) => path.basename(f) === file && dirs.some((d) => hostPath(system, d) === path.dirname(f)));
  return {
    file,
    copies,
    shadowing,
    dirs,
    ...(installedHost ? { installedAt: path.join(system.paths.root, installedHost) } : {}),
    manifest: { found: manifest.manifest !== undefined, path: manifest.path },
  };
}

/** Each fabric's vendor files (Fabric.coexist), with whether that fabric is in use. */
export async function observeCoexist(system: System, fabric: Fabric, usage: Usage): Promise<CoexistSeen[]> {
  const inUse = usage.get(fabric.name);
  const out: CoexistSeen[] = [];
  for (const target of fabric.coexist) {
    const status = await setMask(system, target, 'status');
    out.push({ file: target.file, description: target.description, state: status.state, path: status.path, ...(status.reason === undefined ? {} : { reason: status.reason }), ...(inUse === undefined ? {} : { inUse }) });
  }
  return out;
}

/** The files that make up a unit as systemd would load it, or undefined when no directory has it. */
async function unitFiles(system: System, unit: string): Promise<{ path: string; masked: boolean; dropIns: string[] } | undefined> {
  const dirs = await distinctDirs(managerDirs(system, 'systemd'));
  let main: string | undefined;
  for (const dir of dirs) {
    if (await exists(path.join(dir, unit))) {
      main = path.join(dir, unit);
      break;
    }
  }
  if (!main) return undefined;
  const byName = new Map<string, string>();
  for (const dir of dirs) {
    const names = await readdir(path.join(dir, `${unit}.d`)).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.endsWith('.conf'))) if (!byName.has(name)) byName.set(name, path.join(dir, `${unit}.d`, name));
  }
  const dropIns = [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, file]) => file);
  return { path: main, masked: await isMask(main), dropIns };
}

/** What to change in the unit (after `systemctl edit UNIT: `) so that `file` becomes writable, given why it is not. */
function fixFor(why: string, file: string, top: string): string | undefined {
  for (const setting of ['PrivateDevices', 'ProtectKernelTunables', 'ProtectClock']) if (why.startsWith(setting)) return `under [Service] add ${setting}=no`;
  if (why.startsWith('DeviceAllow')) return 'remove DeviceAllow= and DevicePolicy=';
  if (why === 'ReadOnlyPaths=' || why === 'InaccessiblePaths=') return `remove the ${why} entry that covers ${file}`;
  const setting = unitSettingFor(top);
  return setting ? `under [Service] add ${setting}` : undefined;
}

export async function observeUnit(system: System, unit: string, fabrics: readonly Fabric[]): Promise<UnitSeen> {
  const files = await unitFiles(system, unit);
  const empty = { unit, commands: [], denials: [], unmodelled: [], unknown: [], root: '/' };
  if (!files) return empty;
  if (files.masked) return { ...empty, found: { path: files.path, dropIns: files.dropIns, masked: true } };
  const texts = [await readFile(files.path, 'utf8'), ...(await Promise.all(files.dropIns.map((f) => readFile(f, 'utf8'))))];
  const settings = parseUnit(...texts);
  const writes = commandWrites(fabrics);
  const hooks = [...timerHookTable(fabrics).keys()];
  const commands: { command: string; writes: number }[] = [];
  const denials: UnitDenial[] = [];
  const unmodelled = new Set<string>();
  const unknown: string[] = [];
  let root = '/';
  for (const invocation of execInvocations(settings)) {
    root = invocation.root ?? '/';
    const paths = resolvePaths(root, invocation.sysfs ?? '/sys', 'linux');
    for (const command of invocation.command === 'timerd' ? [invocation.command, ...hooks] : [invocation.command]) {
      const locations = writes.get(command);
      if (!locations) {
        unknown.push(command);
        continue;
      }
      commands.push({ command, writes: locations.length });
      for (const location of locations) {
        const where = locate(paths, location);
        const why = denial(settings, where.path);
        if (why === undefined) continue;
        if (why.startsWith(UNMODELLED_PREFIX)) unmodelled.add(/^unmodelled: (\w+)=/.exec(why)?.[1] ?? why);
        else {
          const fix = fixFor(why, where.path, where.top);
          denials.push({ command, file: where.path, what: location.what, why, ...(fix ? { fix } : {}) });
        }
      }
    }
  }
  return { unit, found: { path: files.path, dropIns: files.dropIns }, commands, denials, unmodelled: [...unmodelled], unknown, root };
}

/** Reads one fabric's usage; a configuration it cannot read counts as in use, with the reason (its own check reports the error). */
export async function fabricUsage(read: () => Promise<Usage>, fabric: string): Promise<Usage> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof ConfigError || error instanceof EnvironmentError) return new Map([[fabric, `its configuration could not be read (${error.message})`]]);
    throw error;
  }
}
