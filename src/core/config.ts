/**
 * sanhook's own settings: /etc/sanhook/sanhook.yaml (YAML 1.2, parsed by `yaml`),
 * read through schema tables (DESIGN §3; EXAMPLES "Config as a table").
 *
 * Each top-level key is a section: `lock:` and `metrics:` are the core's (below); every
 * fabric declares its own (`Fabric.config`, named as the fabric) in its
 * folder. A section is a `Table`: one row per setting (YAML key, converter,
 * default, one-line description), keyed by the field it fills. A row may be
 * a nested table (a mapping: `<fabric>.lost.*`) or a list of small records
 * (`<fabric>.exclude[]`, each record a table too); a table may carry one check
 * across its fields, run once they are read. Adding a setting is adding a row.
 *
 * Contract: `loadConfig()` / `parseConfig()` return fully validated settings
 * with defaults filled in, or throw a ConfigError naming file, line and key
 * path (`<fabric>.exclude[0].subnqn`). A missing file means "all defaults"; an
 * unknown section, key or field is an error (a typo must not silently change
 * nothing) whose message lists the known ones; a key with no value below it
 * (a section or mapping whose lines are all commented out) means its defaults.
 * Converters are validators (core/validate.ts or a fabric's validate.ts): raw
 * text and the key path in, value or UsageError out. `Config` names no fabric:
 * a fabric reads its section with `settingsOf(config, itsSection)`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, UsageError } from './errors.js';
import type { Fabric } from './fabric.js';
import { DEFAULT_STALE_MS, MIN_STALE_MS } from './lock.js';
import type { System } from './system.js';
import { integer, invalid, secondsAsMs } from './validate.js';

// ---------------------------------------------------------------------------
// The schema: settings, tables, sections

/** Turns one scalar's text into a value, or throws a UsageError `<option>: <why>, got "<value>"` (validate.ts). */
export type Converter<V> = (raw: string, option: string) => V;

interface SettingBase {
  /** The YAML key. */
  readonly key: string;
  /** One line for the docs: what it does, and its allowed values. */
  readonly describe: string;
}

/** One value. Without a default the field is left out when the key is absent (an optional field). */
export interface ScalarSetting<V> extends SettingBase {
  readonly kind: 'scalar';
  readonly convert: Converter<V>;
  readonly default?: V;
  /** The default as the docs show it, in the file's units (`10` for 10 000 ms). */
  readonly shown: string;
}

/** A nested mapping read by its own table; absent, it is the table's defaults. */
export interface MappingSetting<V> extends SettingBase {
  readonly kind: 'mapping';
  readonly table: Table<V>;
}

/** A list of small records, each read by `table`; absent, it is empty. */
export interface ListSetting<E> extends SettingBase {
  readonly kind: 'list';
  readonly table: Table<E>;
  /** What one record is called in messages ("rule": "must be a list of rules"). */
  readonly item: string;
}

type ListOf<V> = V extends readonly (infer E)[] ? ListSetting<E> : never;
export type Setting<V> = ScalarSetting<V> | MappingSetting<V> | ListOf<V>;
/** A setting that always yields a value: what a required field needs. */
export type DefaultedSetting<V> = (ScalarSetting<V> & { readonly default: V }) | MappingSetting<V> | ListOf<V>;

/**
 * One row per field of T, in the order the docs list them. An optional field
 * may have a setting without a default; a required one must have a default.
 */
export type Rows<T> = {
  readonly [F in keyof T]-?: object extends Pick<T, F> ? Setting<Exclude<T[F], undefined>> : DefaultedSetting<T[F]>;
};

export interface Table<T> {
  readonly rows: Rows<T>;
  /**
   * A check across the fields once they are read (defaults filled in): the
   * problem, or undefined. With `key` (a YAML key of this table) the error
   * points at that key's line when the file gives it, else at the table's.
   */
  check?(value: T): string | { readonly key: string; readonly problem: string } | undefined;
}

/** A top-level section of the file. */
export interface ConfigSection<T> extends Table<T> {
  /** Its key: `lock`, or the fabric's name. */
  readonly name: string;
  /** What the section is about, for the docs. */
  readonly describe: string;
}

/** A value; the default is shown as `shown` (its String() when not given). */
export function value<V>(key: string, convert: Converter<V>, defaultValue: V, describe: string, shown = String(defaultValue)): ScalarSetting<V> & { readonly default: V } {
  return { kind: 'scalar', key, convert, default: defaultValue, describe, shown };
}

/** A value that is left out when absent; `shown` says what absence means (`the kernel's`). */
export function optional<V>(key: string, convert: Converter<V>, describe: string, shown: string): ScalarSetting<V> {
  return { kind: 'scalar', key, convert, describe, shown };
}

export function mapping<V>(key: string, table: Table<V>, describe: string): MappingSetting<V> {
  return { kind: 'mapping', key, table, describe };
}

export function list<E>(key: string, table: Table<E>, item: string, describe: string): ListSetting<E> {
  return { kind: 'list', key, table, item, describe };
}

/** The rows as the loader walks them: field name and setting, erased. */
type AnySetting = ScalarSetting<unknown> | MappingSetting<unknown> | ListSetting<unknown>;
function rowsOf(table: Table<unknown>): [field: string, setting: AnySetting][] {
  return Object.entries(table.rows as Readonly<Record<string, AnySetting>>);
}

/** A table's value when nothing is given. */
export function defaults<T>(table: Table<T>): T {
  const result: Record<string, unknown> = {};
  for (const [field, setting] of rowsOf(table as Table<unknown>)) {
    const value = defaultOf(setting);
    if (value !== undefined) result[field] = value;
  }
  return result as T;
}

function defaultOf(setting: AnySetting): unknown {
  switch (setting.kind) {
    case 'scalar':
      return setting.default;
    case 'mapping':
      return defaults(setting.table);
    case 'list':
      return [];
  }
}

// ---------------------------------------------------------------------------
// The core's own section

export interface LockSettings {
  /** proper-lockfile's stale bound, in milliseconds. */
  readonly staleMs: number;
}

export const LOCK_SECTION: ConfigSection<LockSettings> = {
  name: 'lock',
  describe: 'per-key locks (DESIGN §5)',
  rows: {
    staleMs: value(
      'stale-seconds',
      (raw, option) => secondsAsMs(raw, option, MIN_STALE_MS, 3_600_000, `must be seconds ${MIN_STALE_MS / 1000}-3600`),
      DEFAULT_STALE_MS,
      `a lock not refreshed for this long was left by a dead hook (seconds, ${MIN_STALE_MS / 1000}-3600)`,
      String(DEFAULT_STALE_MS / 1000),
    ),
  },
};

export interface MetricsSettings {
  /** Where `sanhook metrics` writes the textfile (absolute, `*.prom`). */
  readonly textfile: string;
  readonly maxKeys: number;
  readonly keyRetentionDays: number;
}

/**
 * Debian's prometheus-node-exporter reads *.prom files in this directory
 * (its README.textfile; prometheus-node-exporter-collectors' timers write
 * apt.prom and smartmon.prom there).
 */
export const DEFAULT_TEXTFILE = '/var/lib/prometheus/node-exporter/sanhook.prom';
/**
 * Keys are what the hooks ran on: paths, discovery addresses, interfaces and
 * logins the host is configured for. 1024 is several times a large host's
 * (64 subsystems x 4 paths x 2 fabrics ...) and bounds the per-key series.
 */
export const DEFAULT_MAX_KEYS = 1024;
/** A key not seen for a month is an endpoint that was removed from the configuration. */
export const DEFAULT_KEY_RETENTION_DAYS = 30;

/** An absolute path of a `*.prom` file: node_exporter's textfile collector reads only that glob. */
export function textfilePath(raw: string, option: string): string {
  if (!path.isAbsolute(raw) || raw.includes('\0') || !raw.endsWith('.prom') || raw.endsWith('/.prom')) {
    return invalid(option, raw, 'must be an absolute path of a *.prom file (node_exporter reads only *.prom)');
  }
  return path.normalize(raw);
}

export const METRICS_SECTION: ConfigSection<MetricsSettings> = {
  name: 'metrics',
  describe: '`sanhook metrics`: the node_exporter textfile (docs/metrics.md)',
  rows: {
    textfile: value('textfile', textfilePath, DEFAULT_TEXTFILE, 'the node_exporter textfile `sanhook metrics` writes (an absolute *.prom path)'),
    maxKeys: value('max-keys', (raw, option) => integer(raw, option, 1, 100_000, 'must be a whole number 1-100000'), DEFAULT_MAX_KEYS, 'most keys with a per-key series (the least recently seen beyond it are dropped and counted), 1-100000'),
    keyRetentionDays: value('key-retention-days', (raw, option) => integer(raw, option, 1, 3650, 'must be whole days 1-3650'), DEFAULT_KEY_RETENTION_DAYS, 'a key without a hook round for this many days loses its per-key series (1-3650)'),
  },
};

// ---------------------------------------------------------------------------
// Config

export interface Config {
  readonly file: string;
  /** The `lock:` section's stale bound (also `settingsOf(config, LOCK_SECTION).staleMs`). */
  readonly lockStaleMs: number;
  /** Every section's validated settings with defaults, by section name. */
  readonly sections: ReadonlyMap<string, unknown>;
}

/** The core's sections and then each fabric's, in the fabric list's order. */
export function configSections(fabrics: readonly Fabric[]): readonly ConfigSection<unknown>[] {
  const sections: ConfigSection<unknown>[] = [LOCK_SECTION as ConfigSection<unknown>, METRICS_SECTION as ConfigSection<unknown>];
  for (const fabric of fabrics) {
    if (fabric.config.name !== fabric.name) throw new Error(`fabric ${fabric.name} declares a config section named ${fabric.config.name}`);
    if (sections.some((s) => s.name === fabric.config.name)) throw new Error(`config section ${fabric.config.name} is registered twice`);
    sections.push(fabric.config);
  }
  return sections;
}

/** A section's settings, typed by its table. Asking for a section that was not loaded is a bug. */
export function settingsOf<T>(config: Config, section: ConfigSection<T>): T {
  if (!config.sections.has(section.name)) {
    throw new Error(`config section ${section.name} was not loaded (loadConfig was not given its fabric)`);
  }
  return config.sections.get(section.name) as T;
}

function makeConfig(file: string, sections: ReadonlyMap<string, unknown>): Config {
  return { file, lockStaleMs: (sections.get(LOCK_SECTION.name) as LockSettings).staleMs, sections };
}

export function configPath(system: System): string {
  return path.join(system.paths.etc, 'sanhook', 'sanhook.yaml');
}

export function defaultConfig(file: string, fabrics: readonly Fabric[]): Config {
  return makeConfig(file, new Map(configSections(fabrics).map((s) => [s.name, defaults(s)])));
}

export async function loadConfig(system: System, fabrics: readonly Fabric[]): Promise<Config> {
  const file = configPath(system);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return defaultConfig(file, fabrics);
    throw new ConfigError(file, undefined, undefined, `cannot read: ${(error as Error).message}`, { cause: error });
  }
  return parseConfig(file, text, fabrics);
}

export async function parseConfig(file: string, text: string, fabrics: readonly Fabric[]): Promise<Config> {
  const known = configSections(fabrics);
  // yaml is CommonJS: its exports are the default export both under node and in the bundle.
  const { default: YAML } = await import('yaml');
  const lines = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const firstError = doc.errors[0];
  if (firstError) {
    const line = lines.linePos(firstError.pos[0]).line;
    throw new ConfigError(file, line, undefined, firstError.message.split('\n')[0] ?? 'invalid YAML');
  }
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? lines.linePos(range[0]).line : undefined;
  };
  const fail = (node: unknown, key: string, problem: string): never => {
    throw new ConfigError(file, lineOf(node), key, problem);
  };
  /** `key:` with nothing below it (every line commented out). */
  const isEmpty = (node: unknown) => node === null || node === undefined || (YAML.isScalar(node) && node.value === null);
  const keyOf = (key: unknown) => (YAML.isScalar(key) ? String(key.value) : '?');

  /** Runs a converter on a scalar's text, turning its UsageError into a ConfigError at that line. */
  const scalar = (node: unknown, where: string, convert: Converter<unknown>): unknown => {
    if (!YAML.isScalar(node) || node.value === null || typeof node.value === 'object') {
      return fail(node, where, 'must be a single value');
    }
    // A plain scalar's text as written: YAML would read 0x0002c903... as a number (losing
    // precision beyond 2^53) and 0.10 as 0.1; validators see what the admin typed.
    const raw = node.type === 'PLAIN' && typeof node.source === 'string' ? node.source : String(node.value);
    try {
      return convert(raw, where);
    } catch (error) {
      if (error instanceof UsageError) {
        const prefix = `${where}: `;
        return fail(node, where, error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message);
      }
      throw error;
    }
  };

  /** A mapping read by `table`: a mapping's keys are settings, a record's are fields. */
  const readTable = (node: unknown, where: string, table: Table<unknown>, noun: 'setting' | 'field'): unknown => {
    if (!isEmpty(node) && !YAML.isMap(node)) return fail(node, where, 'must be a mapping');
    const rows = rowsOf(table);
    const result = defaults(table) as Record<string, unknown>;
    for (const pair of YAML.isMap(node) ? node.items : []) {
      const name = keyOf(pair.key);
      const at = `${where}.${name}`;
      const row = rows.find(([, setting]) => setting.key === name);
      if (!row) return fail(pair.key, at, `unknown ${noun} (known: ${rows.map(([, s]) => s.key).join(', ')})`);
      result[row[0]] = readSetting(pair.value, at, row[1]);
    }
    const problem = table.check?.(result);
    if (typeof problem === 'string') return fail(node, where, problem);
    if (problem !== undefined) {
      const pair = YAML.isMap(node) ? node.items.find((item) => keyOf(item.key) === problem.key) : undefined;
      return pair ? fail(pair.value ?? pair.key, `${where}.${problem.key}`, problem.problem) : fail(node, where, problem.problem);
    }
    return result;
  };

  const readSetting = (node: unknown, where: string, setting: AnySetting): unknown => {
    switch (setting.kind) {
      case 'scalar':
        return scalar(node, where, setting.convert);
      case 'mapping':
        return readTable(node, where, setting.table, 'setting');
      case 'list':
        if (isEmpty(node)) return [];
        if (!YAML.isSeq(node)) return fail(node, where, `must be a list of ${setting.item}s`);
        return node.items.map((item, index) => readTable(item, `${where}[${index}]`, setting.table, 'field'));
    }
  };

  const sections = new Map(known.map((s) => [s.name, defaults(s)]));
  const root = doc.contents;
  if (isEmpty(root)) return makeConfig(file, sections);
  if (!YAML.isMap(root)) return fail(root, '(top level)', 'must be a mapping of sections');
  for (const pair of root.items) {
    const name = keyOf(pair.key);
    const section = known.find((s) => s.name === name);
    if (!section) return fail(pair.key, name, `unknown section (known: ${known.map((s) => s.name).join(', ')})`);
    sections.set(name, readTable(pair.value, name, section, 'setting'));
  }
  return makeConfig(file, sections);
}

// ---------------------------------------------------------------------------
// Docs

/** One documented setting: its key path (`<fabric>.exclude[].subnqn`), default as written, and description. */
export interface SettingDoc {
  readonly key: string;
  readonly default: string;
  readonly describe: string;
}

/** Every setting of every section, in table order: the list docs show (README, "Configuration"). */
export function describeSettings(sections: readonly ConfigSection<unknown>[]): readonly SettingDoc[] {
  const walk = (table: Table<unknown>, prefix: string): SettingDoc[] =>
    rowsOf(table).flatMap(([, setting]) => {
      const key = `${prefix}.${setting.key}`;
      switch (setting.kind) {
        case 'scalar':
          return [{ key, default: setting.shown, describe: setting.describe }];
        case 'mapping':
          return [{ key, default: '', describe: setting.describe }, ...walk(setting.table, key)];
        case 'list':
          return [{ key: `${key}[]`, default: '(none)', describe: setting.describe }, ...walk(setting.table, `${key}[]`)];
      }
    });
  return sections.flatMap((section) => walk(section, section.name));
}
