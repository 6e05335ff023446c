/**
 * What a systemd unit's sandbox lets its processes write (systemd.exec(5),
 * systemd 252): unit-file parsing, the sanhook command an ExecStart= runs,
 * and `denial()`, the reason a path is not writable under a unit's settings.
 *
 * Contract: pure functions of unit text and paths. Used by the shipped-units
 * test (test/unit/units.test.ts: every shipped unit against what its commands
 * write) and by `sanhook doctor` (the installed units, with their drop-ins).
 * Only the settings sanhook's units may use are modelled; a setting that
 * restricts writes in a way not modelled here is reported as such
 * (`unmodelled:` prefix), never silently passed.
 */
import path from 'node:path';

/** A unit's settings in file order (sections dropped), repeated keys kept in order. */
export type UnitSettings = readonly (readonly [string, string])[];

/**
 * systemd unit file syntax: `[Section]` lines, `#`/`;` comments, `Key=value`,
 * a trailing backslash continuing a line. Files are given in the order systemd
 * reads them (the unit, then its drop-ins sorted by name); an empty assignment
 * (`ReadWritePaths=`) resets the list built so far, as systemd does.
 */
export function parseUnit(...texts: readonly string[]): UnitSettings {
  const settings: [string, string][] = [];
  for (const text of texts) {
    for (const raw of text.replace(/\\\n/g, ' ').split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#') || line.startsWith(';') || line.startsWith('[') || !line.includes('=')) continue;
      const key = line.slice(0, line.indexOf('=')).trim();
      const value = line.slice(line.indexOf('=') + 1).trim();
      if (value === '') {
        for (let i = settings.length - 1; i >= 0; i -= 1) if (settings[i]![0] === key) settings.splice(i, 1);
        continue;
      }
      settings.push([key, value]);
    }
  }
  return settings;
}

export const allOf = (unit: UnitSettings, key: string): string[] => unit.filter(([k]) => k === key).map(([, v]) => v);
export const lastOf = (unit: UnitSettings, key: string): string | undefined => allOf(unit, key).at(-1);
export const listOf = (unit: UnitSettings, key: string): string[] => allOf(unit, key).flatMap((v) => v.split(/\s+/).filter((w) => w !== ''));
export const isYes = (value: string | undefined): boolean => value !== undefined && ['yes', 'true', 'on', '1'].includes(value);

/** sanhook's global options that take a value (src/program.ts), so the command word is found after them. */
const VALUE_OPTIONS = new Set(['--root', '--sysfs', '--platform', '--log-level', '--log-format', '-o', '--output']);

/** The entry a unit runs sanhook by: /usr/bin/sanhook, or an npm install's .../bin/sanhook.js. */
const isSanhookEntry = (word: string) => /^sanhook(\.js)?$/.test(path.basename(word.replace(/^[-@:+!]+/, ''))) && word.replace(/^[-@:+!]+/, '').startsWith('/');

/** One `sanhook ...` command line: the verb and the --root / --sysfs it runs with (the paths its writes land under). */
export interface SanhookInvocation {
  readonly command: string;
  readonly root?: string;
  readonly sysfs?: string;
}

/** The sanhook command an ExecStart= (or a udev RUN's systemd-run) runs, or undefined if it does not run sanhook. */
export function sanhookInvocation(argv: readonly string[]): SanhookInvocation | undefined {
  const at = argv.findIndex(isSanhookEntry);
  if (at < 0) return undefined;
  const globals: Record<string, string> = {};
  for (let i = at + 1; i < argv.length; i += 1) {
    const word = argv[i]!;
    if (word.startsWith('--') && word.includes('=')) globals[word.slice(0, word.indexOf('='))] = word.slice(word.indexOf('=') + 1);
    else if (VALUE_OPTIONS.has(word)) {
      globals[word] = argv[i + 1] ?? '';
      i += 1;
    } else if (!word.startsWith('-')) {
      return { command: word, ...(globals['--root'] ? { root: globals['--root'] } : {}), ...(globals['--sysfs'] ? { sysfs: globals['--sysfs'] } : {}) };
    }
  }
  return undefined;
}

/** Every sanhook command a unit's ExecStart= lines run. */
export function execInvocations(unit: UnitSettings): SanhookInvocation[] {
  return allOf(unit, 'ExecStart')
    .map((line) => sanhookInvocation(line.split(/\s+/)))
    .filter((c): c is SanhookInvocation => c !== undefined);
}

const under = (file: string, dir: string) => file === dir || file.startsWith(`${dir.replace(/\/$/, '')}/`);
const deepest = (file: string, dirs: readonly string[]) => Math.max(-1, ...dirs.filter((d) => under(file, d)).map((d) => d.length));

/** Settings that change what a process may write in ways denial() does not model. */
const UNMODELLED = ['TemporaryFileSystem', 'RootDirectory', 'RootImage', 'BindReadOnlyPaths', 'DynamicUser', 'User', 'PrivateMounts', 'ProtectProc'];

/** The prefix of a denial that means "cannot tell", not "refused". */
export const UNMODELLED_PREFIX = 'unmodelled: ';

/**
 * Why a process under `unit` cannot write `file` (a host path), or undefined
 * if it can. A reason starting with UNMODELLED_PREFIX means the unit uses a
 * setting this model does not cover.
 */
export function denial(unit: UnitSettings, file: string): string | undefined {
  for (const key of UNMODELLED) {
    if (allOf(unit, key).length > 0 && !(key === 'PrivateMounts' && !isYes(lastOf(unit, key)))) return `${UNMODELLED_PREFIX}${key}= is not modelled (src/core/unit-sandbox.ts denial())`;
  }
  const paths = (key: string) => listOf(unit, key).map((p) => p.replace(/^[-+]+/, ''));
  if (deepest(file, paths('InaccessiblePaths')) >= 0) return 'InaccessiblePaths=';
  if (under(file, '/dev')) {
    if (isYes(lastOf(unit, 'PrivateDevices'))) return `PrivateDevices=yes hides ${file}`;
    if (allOf(unit, 'DeviceAllow').length > 0 || ['closed', 'strict'].includes(lastOf(unit, 'DevicePolicy') ?? 'auto')) return `DeviceAllow=/DevicePolicy= close ${file}`;
    if (isYes(lastOf(unit, 'ProtectClock'))) return `ProtectClock=yes implies DeviceAllow=char-rtc, which closes ${file}`;
    return undefined; // an API file system: ProtectSystem= leaves it alone
  }
  if (under(file, '/sys')) return isYes(lastOf(unit, 'ProtectKernelTunables')) ? `ProtectKernelTunables=yes makes ${file} read-only` : undefined;
  if (under(file, '/proc')) return undefined;
  const writable = [
    ...listOf(unit, 'RuntimeDirectory').map((n) => `/run/${n}`),
    ...listOf(unit, 'StateDirectory').map((n) => `/var/lib/${n}`),
    ...listOf(unit, 'CacheDirectory').map((n) => `/var/cache/${n}`),
    ...listOf(unit, 'LogsDirectory').map((n) => `/var/log/${n}`),
    ...paths('ReadWritePaths'),
  ];
  const readOnly = paths('ReadOnlyPaths');
  const home = lastOf(unit, 'ProtectHome') ?? 'no';
  if (['/home', '/root', '/run/user'].some((d) => under(file, d)) && home !== 'no') return `ProtectHome=${home}`;
  if (deepest(file, writable) >= 0 && deepest(file, writable) >= deepest(file, readOnly)) return undefined;
  if (deepest(file, readOnly) >= 0) return 'ReadOnlyPaths=';
  const system = lastOf(unit, 'ProtectSystem') ?? 'no';
  if (system === 'strict') return `ProtectSystem=strict and no Runtime/StateDirectory= or ReadWritePaths= covers ${file}`;
  const readOnlyTrees = system === 'full' ? ['/usr', '/boot', '/efi', '/etc'] : isYes(system) ? ['/usr', '/boot', '/efi'] : [];
  if (readOnlyTrees.some((d) => under(file, d))) return `ProtectSystem=${system} makes ${file} read-only`;
  return undefined;
}
