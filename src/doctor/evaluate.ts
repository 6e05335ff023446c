/**
 * `sanhook doctor`'s decisions: observations in, check results out (pure).
 *
 * Contract: one function per kind of check, each a pure function of what
 * observe.ts saw (and, for modules and tools, of which fabric features are in
 * use), returning a CheckResult whose advice is one line an admin can paste
 * or follow. Table-driven tests: test/unit/doctor-evaluate.test.ts. Nothing
 * here names a fabric: modules, tools and vendor files come from the fabrics'
 * declarations.
 *
 * Blocking rules (fail, exit 1) versus warnings (exit 0):
 * - a module or tool is blocking when a feature in use needs it, or when its
 *   fabric declares it always needed (`always` says why); one nothing uses is
 *   reported as pass with the advice for the day it is used: an FCoE-only host
 *   must not fail for a missing ib_srp;
 * - a vendor autoconnect that races sanhook is blocking when its fabric is in
 *   use, a warning otherwise;
 * - a rule file that is missing or masked is blocking (udev never runs it); an
 *   edited or overriding copy is a warning (it runs, but is not what sanhook
 *   ships);
 * - a run or state directory sanhook cannot create or write, or that another
 *   user could write, is blocking; one others can read is a warning (the
 *   units create them 0700: they hold host NQNs and addresses);
 * - timerd not answering is blocking (nothing brings a lost path back);
 * - a unit whose sandbox refuses a write its commands make is blocking; a unit
 *   using a setting the static model does not cover is a warning.
 */
import type { CheckResult, ModuleNeed, ToolNeed, Usage } from '../core/requirements.js';
import type { Platform } from '../core/platform.js';

// ------------------------------------------------------------ modules and tools

/** How the module was found: `/sys/module/nvme_tcp`, `built in (/sys/class/nvme-fabrics)`, `kldstat -q -m nvmf`. */
export type ModuleSeen = { readonly loaded: true; readonly how: string } | { readonly loaded: false; readonly looked: string };

/** Why a need is blocking here, or undefined when nothing in use needs it. */
function neededBecause(need: { readonly neededFor?: string; readonly always?: string }, usage: Usage): string | undefined {
  if (need.neededFor === undefined) return need.always ?? 'always needed';
  return usage.get(need.neededFor);
}

/** The kernel's module name in /sys/module: modprobe treats - and _ alike, the kernel keeps underscores. */
export function sysfsModuleName(module: string): string {
  return module.replaceAll('-', '_');
}

export function moduleAdvice(need: ModuleNeed): string {
  return need.platform === 'freebsd'
    ? `kldload ${need.module} && sysrc kld_list+=${need.module}`
    : `modprobe ${need.module} && echo ${need.module} > /etc/modules-load.d/${need.module}.conf`;
}

export function evaluateModule(need: ModuleNeed, seen: ModuleSeen, usage: Usage): CheckResult {
  const id = `module:${need.module}`;
  const because = neededBecause(need, usage);
  if (seen.loaded) return { id, status: 'pass', seen: `${need.purpose}: loaded (${seen.how})` };
  if (because === undefined) {
    return { id, status: 'pass', seen: `${need.purpose}: not loaded; not needed (nothing configured uses it)`, advice: `when needed: ${moduleAdvice(need)}` };
  }
  return { id, status: 'fail', seen: `${need.purpose}: not loaded (looked for ${seen.looked}); needed: ${because}`, advice: moduleAdvice(need) };
}

export type ToolSeen =
  | { readonly found: false }
  | { readonly found: true; readonly exitCode: number; readonly stdout: string; readonly stderr: string };

/** Compares dotted versions numerically (2.10 > 2.3); missing parts are 0. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[.+~-]/).map((p) => Number.parseInt(p, 10));
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i += 1) {
    const d = (Number.isNaN(x[i] ?? 0) ? 0 : (x[i] ?? 0)) - (Number.isNaN(y[i] ?? 0) ? 0 : (y[i] ?? 0));
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

const firstLine = (text: string) => text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';

export function evaluateTool(need: ToolNeed, seen: ToolSeen, usage: Usage): CheckResult {
  const id = `tool:${need.tool}`;
  const because = neededBecause(need, usage);
  const what = `${need.tool} (${need.purpose})`;
  if (!seen.found) {
    if (because === undefined) return { id, status: 'pass', seen: `${what}: not installed; not needed (nothing configured uses it)`, advice: `when needed: ${need.install}` };
    return { id, status: 'fail', seen: `${what}: not found on PATH; needed: ${because}`, advice: need.install };
  }
  const version = need.parseVersion(seen);
  const command = [need.tool, ...need.versionArgs].join(' ');
  if (version === undefined) {
    const said = firstLine(seen.stdout) || firstLine(seen.stderr) || 'nothing';
    return { id, status: 'warn', seen: `${what}: found, but \`${command}\` printed no version it knows (exit ${seen.exitCode}: ${said})`, advice: `check that ${need.tool} on PATH is the real one; reinstall: ${need.install}` };
  }
  if (need.minVersion && compareVersions(version, need.minVersion.version) < 0) {
    return {
      id,
      status: because === undefined ? 'warn' : 'fail',
      seen: `${what}: version ${version}, older than ${need.minVersion.version} (${need.minVersion.why})`,
      advice: `upgrade: ${need.install}`,
    };
  }
  return { id, status: 'pass', seen: `${what}: version ${version}${because === undefined ? ' (not needed by anything configured)' : ''}` };
}

// ------------------------------------------------------------ run and state directories

export interface DirSeen {
  /** `run` or `state`: the check is `dir:<name>`. */
  readonly name: string;
  readonly path: string;
  /** What sanhook keeps there. */
  readonly what: string;
  readonly found:
    | { readonly kind: 'dir'; readonly mode: number; readonly uid: number; readonly writable: true }
    | { readonly kind: 'dir'; readonly mode: number; readonly uid: number; readonly writable: false; readonly why: string }
    | { readonly kind: 'absent'; readonly parent: string; readonly creatable: true }
    | { readonly kind: 'absent'; readonly parent: string; readonly creatable: false; readonly why: string }
    | { readonly kind: 'not-dir'; readonly what: string };
  /** The uid doctor runs as: the directory must be root's, or this user's when doctor is not run by root (a test, a check without sudo). */
  readonly runnerUid: number;
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

export function evaluateDir(seen: DirSeen): CheckResult {
  const id = `dir:${seen.name}`;
  const found = seen.found;
  const label = `${seen.path} (${seen.what})`;
  if (found.kind === 'not-dir') return { id, status: 'fail', seen: `${label} is ${found.what}, not a directory`, advice: `move ${seen.path} away; sanhook creates the directory (0700) on first use` };
  if (found.kind === 'absent') {
    if (found.creatable) return { id, status: 'pass', seen: `${label}: absent; created 0700 on first use (${found.parent} is writable)` };
    return { id, status: 'fail', seen: `${label}: absent, and cannot be created in ${found.parent}: ${found.why}`, advice: `install -d -m 0700 -o root -g root ${seen.path}` };
  }
  const mode = octal(found.mode);
  const owners = seen.runnerUid === 0 ? [0] : [0, seen.runnerUid];
  if (!owners.includes(found.uid)) {
    return { id, status: 'fail', seen: `${label}: owned by uid ${found.uid}, not root: that user could forge locks, pending events or timers`, advice: `chown root:root ${seen.path}` };
  }
  if ((found.mode & 0o022) !== 0) {
    return { id, status: 'fail', seen: `${label}: mode ${mode}, writable by group or others: anyone could plant a pending event or remove a lock`, advice: `chmod 0700 ${seen.path}` };
  }
  if (!found.writable) return { id, status: 'fail', seen: `${label}: not writable: ${found.why}`, advice: `make ${seen.path} writable for root (a read-only mount? see \`findmnt -T ${seen.path}\`)` };
  if ((found.mode & 0o077) !== 0) {
    return { id, status: 'warn', seen: `${label}: mode ${mode}, readable by group or others (it holds host NQNs and addresses)`, advice: `chmod 0700 ${seen.path}` };
  }
  return { id, status: 'pass', seen: `${label}: mode ${mode}, uid ${found.uid}, writable` };
}

// ------------------------------------------------------------ timerd

export type TimerdSeen = { readonly ok: true; readonly socket: string; readonly entries?: number; readonly pid?: number } | { readonly ok: false; readonly socket: string; readonly why: string };

export function timerdAdvice(platform: Platform): string {
  return platform === 'freebsd' ? 'sysrc sanhook_timerd_enable=YES && service sanhook_timerd start' : 'systemctl enable --now sanhook-timerd.socket sanhook-timerd.service';
}

export function evaluateTimerd(seen: TimerdSeen, platform: Platform): CheckResult {
  if (seen.ok) {
    const detail = [seen.pid === undefined ? undefined : `pid ${seen.pid}`, seen.entries === undefined ? undefined : `${seen.entries} timer(s)`].filter(Boolean).join(', ');
    return { id: 'timerd', status: 'pass', seen: `answers at ${seen.socket}${detail ? ` (${detail})` : ''}` };
  }
  return { id: 'timerd', status: 'fail', seen: `${seen.why}: a lost path is not brought back`, advice: timerdAdvice(platform) };
}

// ------------------------------------------------------------ rule files (udev rules, devd conf)

/** One file of that name in one directory the event manager reads, highest priority first. */
export interface RuleCopy {
  readonly path: string;
  /** mask: a link to /dev/null or an empty file (udev skips it and every lower copy). */
  readonly kind: 'file' | 'mask';
  /** ours: what `sanhook install` wrote there (the manifest's hash); edited: the manifest lists it, content differs; unknown: not in the manifest. */
  readonly origin: 'ours' | 'edited' | 'unknown';
}

export interface RuleSeen {
  readonly file: string;
  /** Every copy, highest priority first. */
  readonly copies: readonly RuleCopy[];
  /** udev: the first copy wins and hides the others; devd: every copy is read. */
  readonly shadowing: boolean;
  /** The directories searched, highest priority first (for the message). */
  readonly dirs: readonly string[];
  /** Where the last `sanhook install` put it (manifest), if it did. */
  readonly installedAt?: string;
  /** The manifest read, or where it was looked for. */
  readonly manifest: { readonly found: boolean; readonly path: string };
}

export function evaluateRule(seen: RuleSeen): CheckResult {
  const id = `rules:${seen.file}`;
  const [first, ...rest] = seen.copies;
  if (!first) return { id, status: 'fail', seen: `not installed (looked in ${seen.dirs.join(', ')})`, advice: 'sanhook install' };
  if (!seen.shadowing) {
    if (rest.length > 0) return { id, status: 'warn', seen: `installed ${seen.copies.length} times (${seen.copies.map((c) => c.path).join(', ')}): every event runs sanhook once per copy`, advice: `keep one: rm ${rest.map((c) => c.path).join(' ')}` };
    return originResult(id, first, seen);
  }
  if (first.kind === 'mask') {
    return { id, status: 'fail', seen: `masked by ${first.path}: udev never runs sanhook's rule${rest.length ? ` (hides ${rest.map((c) => c.path).join(', ')})` : ''}`, advice: `rm ${first.path} && udevadm control --reload` };
  }
  if (seen.installedAt && first.path !== seen.installedAt && first.origin === 'unknown') {
    const hidden = seen.copies.find((c) => c.path === seen.installedAt);
    return {
      id,
      status: 'warn',
      seen: `${first.path} overrides ${hidden ? `sanhook's ${hidden.path}` : `${seen.installedAt} (sanhook's, now absent)`}: an admin's copy, which sanhook upgrades do not reach`,
      advice: hidden ? `diff ${hidden.path} ${first.path}; rm ${first.path} && udevadm control --reload to use sanhook's` : `rm ${first.path} && sanhook install`,
    };
  }
  return originResult(id, first, seen);
}

function originResult(id: string, copy: RuleCopy, seen: RuleSeen): CheckResult {
  if (copy.kind === 'mask') return { id, status: 'fail', seen: `${copy.path} is empty`, advice: `rm ${copy.path} && sanhook install` };
  if (copy.origin === 'edited') return { id, status: 'warn', seen: `${copy.path}: edited since sanhook install wrote it`, advice: `sanhook install --force restores it (keep a copy of your edit first)` };
  if (copy.origin === 'unknown') {
    return {
      id,
      status: 'pass',
      seen: `${copy.path} (not from \`sanhook install\`${seen.manifest.found ? '' : `: no manifest at ${seen.manifest.path}`}; contents not compared)`,
    };
  }
  return { id, status: 'pass', seen: `${copy.path}, as sanhook install wrote it` };
}

// ------------------------------------------------------------ vendor autoconnect

export interface CoexistSeen {
  /** The vendor file's name and what it is ("nvme-cli udev rule"). */
  readonly file: string;
  readonly description: string;
  readonly state: 'masked' | 'active' | 'owner-aware' | 'absent';
  readonly path: string;
  /** The fabric's reason (why its tool honours sanhook's ownership, or does not). */
  readonly reason?: string;
  /** Why its fabric counts as in use here, or undefined. */
  readonly inUse?: string;
}

export function evaluateCoexist(seen: CoexistSeen): CheckResult {
  const id = `coexist:${seen.file}`;
  if (seen.state === 'absent') return { id, status: 'pass', seen: `${seen.description}: not installed` };
  if (seen.state === 'masked') return { id, status: 'pass', seen: `${seen.description}: masked (${seen.path})` };
  if (seen.state === 'owner-aware') return { id, status: 'pass', seen: `${seen.description}: owner-aware, left running (${seen.path}): ${seen.reason ?? ''}`.replace(/: $/, '') };
  return {
    id,
    status: seen.inUse === undefined ? 'warn' : 'fail',
    seen: `${seen.description} is active (${seen.path}) and races sanhook's hooks on the same events${seen.reason === undefined ? '' : ` (${seen.reason})`}${seen.inUse === undefined ? '' : `; in use: ${seen.inUse}`}`,
    advice: 'sanhook coexist mask',
  };
}

// ------------------------------------------------------------ unit sandboxes

/** One write a unit's command makes that its sandbox refuses. */
export interface UnitDenial {
  readonly command: string;
  readonly file: string;
  readonly what: string;
  readonly why: string;
  /** What to change in the unit to allow it ("under [Service] add StateDirectory=sanhook ...", "remove the ReadOnlyPaths= entry ..."). */
  readonly fix?: string;
}

export interface UnitSeen {
  readonly unit: string;
  /** The unit file in effect and its drop-ins, or undefined when not installed. */
  readonly found?: { readonly path: string; readonly dropIns: readonly string[]; readonly masked?: boolean };
  /** The sanhook commands it runs (timerd: with its hooks), each with how many places it writes. */
  readonly commands: readonly { readonly command: string; readonly writes: number }[];
  readonly denials: readonly UnitDenial[];
  /** Settings the static model does not cover (User=, TemporaryFileSystem=, ...). */
  readonly unmodelled: readonly string[];
  /** Commands sanhook does not know what they write (a newer or older unit). */
  readonly unknown: readonly string[];
  /** The --root the unit's ExecStart gives sanhook ("/" when none): its writes land there, whatever doctor's --root. */
  readonly root: string;
}

export function evaluateUnit(seen: UnitSeen): CheckResult {
  const id = `unit:${seen.unit}`;
  if (!seen.found) return { id, status: 'warn', seen: 'not installed in any systemd unit directory', advice: 'sanhook install' };
  if (seen.found.masked) return { id, status: 'warn', seen: `masked (${seen.found.path}): systemd never starts it`, advice: `systemctl unmask ${seen.unit}` };
  const where = `${seen.found.path}${seen.found.dropIns.length ? ` + ${seen.found.dropIns.join(', ')}` : ''}`;
  const [denied] = seen.denials;
  if (denied) {
    const more = seen.denials.length > 1 ? ` (and ${seen.denials.length - 1} more)` : '';
    const fix = denied.fix ?? `under [Service] add ReadWritePaths=${denied.file}`;
    return { id, status: 'fail', seen: `${where}: \`sanhook ${denied.command}\` writes ${denied.file} (${denied.what}), refused: ${denied.why}${more}`, advice: `systemctl edit ${seen.unit}: ${fix}` };
  }
  if (seen.unmodelled.length > 0 || seen.unknown.length > 0) {
    const why = [...seen.unmodelled.map((u) => `${u}= is not modelled`), ...seen.unknown.map((c) => `\`sanhook ${c}\` is not a command this sanhook knows`)].join('; ');
    return { id, status: 'warn', seen: `${where}: cannot check statically: ${why}`, advice: `check by hand that ${seen.unit} may write ${seen.root === '/' ? '/run/sanhook and /var/lib/sanhook' : `below ${seen.root}`} (systemd-analyze security ${seen.unit})` };
  }
  const writes = seen.commands.reduce((n, c) => n + c.writes, 0);
  return {
    id,
    status: 'pass',
    seen: `${where}: its sandbox lets ${seen.commands.map((c) => `\`sanhook ${c.command}\``).join(', ') || 'it'} write all ${writes} place(s) they write (static check of the unit's settings)`,
  };
}

// ------------------------------------------------------------ sanhook.yaml

export type ConfigSeen = { readonly file: string; readonly state: 'absent' | 'valid' } | { readonly file: string; readonly state: 'invalid'; readonly message: string };

export function evaluateConfig(seen: ConfigSeen): CheckResult {
  if (seen.state !== 'invalid') {
    if (seen.state === 'absent') return { id: 'config', status: 'pass', seen: `${seen.file}: absent; the defaults apply` };
    return { id: 'config', status: 'pass', seen: `${seen.file}: valid` };
  }
  return { id: 'config', status: 'fail', seen: `${seen.message}: every hook stops at this error`, advice: `fix ${seen.file} (\`sanhook --help\` and the README's settings table list every key)` };
}

// ------------------------------------------------------------ the whole run

export interface Summary {
  readonly pass: number;
  readonly warn: number;
  readonly fail: number;
  /** The ids of the failed checks, in order. */
  readonly failed: readonly string[];
}

export function summarize(results: readonly CheckResult[]): Summary {
  const count = (status: CheckResult['status']) => results.filter((r) => r.status === status).length;
  return { pass: count('pass'), warn: count('warn'), fail: count('fail'), failed: results.filter((r) => r.status === 'fail').map((r) => r.id) };
}
