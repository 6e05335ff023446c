/**
 * config.ts: the table-driven loader (with a made-up fabric, so the core is
 * tested without NVMe-oF), the registered sections (lock, nvmf, fcoe) and the
 * README's list of settings, which must match the tables.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { fcoeSettings } from '../../src/hooks/fcoe/config.js';
import {
  configSections,
  defaultConfig,
  defaults,
  describeSettings,
  list,
  LOCK_SECTION,
  mapping,
  optional,
  parseConfig,
  settingsOf,
  value,
  type ConfigSection,
  type Table,
} from '../../src/core/config.js';
import type { Fabric } from '../../src/core/fabric.js';
import { boolean, integer, oneOf, port } from '../../src/core/validate.js';
import { FABRICS } from '../../src/hooks/index.js';
import { DEFAULT_LOST_POLICY, NVMF_CONFIG } from '../../src/hooks/nvmf/config.js';
import { nvmfSettings } from '../../src/hooks/nvmf/settings.js';

const FILE = '/etc/sanhook/sanhook.yaml';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Resolves to the ConfigError a text is rejected with. */
async function rejection(text: string, fabrics: readonly Fabric[] = FABRICS): Promise<ConfigError> {
  const error = await parseConfig(FILE, text, fabrics).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

// --- a made-up fabric: every kind of row, a cross-field check, a record check

interface Port {
  readonly name?: string;
  readonly port?: string;
}
interface Window {
  readonly low: number;
  readonly high: number;
}
interface DemoSettings {
  readonly mode: 'fast' | 'slow';
  readonly limit?: number;
  readonly verbose: boolean;
  readonly window: Window;
  readonly ports: readonly Port[];
}

const WINDOW: Table<Window> = {
  rows: {
    low: value('low', (raw, option) => integer(raw, option, 0, 100, 'must be 0-100'), 1, 'lower bound'),
    high: value('high', (raw, option) => integer(raw, option, 0, 100, 'must be 0-100'), 10, 'upper bound'),
  },
  check: (w) => (w.low > w.high ? 'low must not exceed high' : undefined),
};
const PORT: Table<Port> = {
  rows: { name: optional('name', (raw) => raw, 'a name', '(any)'), port: optional('port', port, 'a port', '(any)') },
  check: (p) => (p.name === undefined && p.port === undefined ? 'an empty record matches everything' : undefined),
};
const DEMO_CONFIG: ConfigSection<DemoSettings> = {
  name: 'demo',
  describe: 'a made-up fabric',
  rows: {
    mode: value('mode', (raw, option) => oneOf(raw, ['fast', 'slow'] as const, option), 'fast', 'fast or slow'),
    limit: optional('limit', (raw, option) => integer(raw, option, 1, 9, 'must be 1-9'), 'a limit', '(none)'),
    verbose: value('verbose', boolean, false, 'talk more'),
    window: mapping('window', WINDOW, 'a window'),
    ports: list('ports', PORT, 'port', 'some ports'),
  },
};
const demo: Fabric = {
  name: 'demo',
  title: 'Demo',
  keyKinds: [],
  commands: [],
  timerHooks: [],
  interpreters: {},
  config: DEMO_CONFIG,
  coexist: [],
  locations: {},
  commandWrites: {},
};
const DEMO = [demo];

describe('the table-driven loader (a made-up fabric)', () => {
  it('defaults come from the rows; an optional row without a value is left out', async () => {
    const config = await parseConfig(FILE, '', DEMO);
    expect(config).toEqual(defaultConfig(FILE, DEMO));
    expect(config.lockStaleMs).toBe(10_000);
    expect(settingsOf(config, LOCK_SECTION)).toEqual({ staleMs: 10_000 });
    const settings = settingsOf(config, DEMO_CONFIG);
    expect(settings).toEqual({ mode: 'fast', verbose: false, window: { low: 1, high: 10 }, ports: [] });
    expect('limit' in settings).toBe(false);
  });

  it('reads scalars, nested mappings and lists of records, and fills in what is not given', async () => {
    const config = await parseConfig(FILE, 'demo:\n  limit: 3\n  window:\n    high: 50\n  ports:\n    - name: a\n    - port: 4420\n', DEMO);
    expect(settingsOf(config, DEMO_CONFIG)).toEqual({ mode: 'fast', limit: 3, verbose: false, window: { low: 1, high: 50 }, ports: [{ name: 'a' }, { port: '4420' }] });
  });

  it('a key with nothing below it (all commented out) means its defaults', async () => {
    const config = await parseConfig(FILE, 'demo:\n  window:\n    # high: 50\n  ports:\n', DEMO);
    expect(settingsOf(config, DEMO_CONFIG)).toEqual(defaults(DEMO_CONFIG));
    expect(settingsOf(await parseConfig(FILE, 'lock:\ndemo:\n', DEMO), DEMO_CONFIG)).toEqual(defaults(DEMO_CONFIG));
  });

  it.each([
    ['unknown section: lists the registered ones', 'demo: {}\nnvmf: {}\n', 2, 'nvmf', 'unknown section (known: lock, metrics, demo)'],
    ['unknown setting: lists the known ones', 'demo:\n  speed: 1\n', 2, 'demo.speed', 'unknown setting (known: mode, limit, verbose, window, ports)'],
    ['unknown nested setting', 'demo:\n  window:\n    mid: 1\n', 3, 'demo.window.mid', 'unknown setting (known: low, high)'],
    ['unknown field of a record', 'demo:\n  ports:\n    - name: a\n    - nom: b\n', 4, 'demo.ports[1].nom', 'unknown field (known: name, port)'],
    ["a converter's message, without its option prefix", 'demo:\n  mode: medium\n', 2, 'demo.mode', 'must be one of fast, slow, got "medium"'],
    ['a converter deep in a record', 'demo:\n  ports:\n    - port: 0\n', 3, 'demo.ports[0].port', 'must be a port number 1-65535, got "0"'],
    ['a list where a value goes', 'demo:\n  limit: [1, 2]\n', 2, 'demo.limit', 'must be a single value'],
    ['a value where a mapping goes', 'demo:\n  window: 5\n', 2, 'demo.window', 'must be a mapping'],
    ['a value where a list goes', 'demo:\n  ports: 5\n', 2, 'demo.ports', 'must be a list of ports'],
    ['a record that is not a mapping', 'demo:\n  ports:\n    - 4420\n', 3, 'demo.ports[0]', 'must be a mapping'],
    ["a table's cross-field check, at the table", 'demo:\n  window:\n    low: 20\n    high: 5\n', 3, 'demo.window', 'low must not exceed high'],
    ['the check sees defaults too', 'demo:\n  window:\n    low: 20\n', 3, 'demo.window', 'low must not exceed high'],
    ["a record's check", 'demo:\n  ports:\n    - {}\n', 3, 'demo.ports[0]', 'an empty record matches everything'],
    ["a record's check, for an empty list item", 'demo:\n  ports:\n    -\n', 3, 'demo.ports[0]', 'an empty record matches everything'],
    ['a top level that is not a mapping', '- demo\n', 1, '(top level)', 'must be a mapping of sections'],
  ])('%s', async (_name, text, line, key, problem) => {
    const error = await rejection(text, DEMO);
    expect(error).toMatchObject({ file: FILE, line, key });
    expect(error.message).toBe(`${FILE}:${line}: ${key}: ${problem}`);
  });

  it('settingsOf a section that was not loaded is a bug, not a silent default', () => {
    expect(() => settingsOf(defaultConfig(FILE, []), DEMO_CONFIG)).toThrow(/section demo was not loaded/);
  });

  it("a fabric's section is named as the fabric, and registered once", () => {
    expect(configSections(DEMO).map((s) => s.name)).toEqual(['lock', 'metrics', 'demo']);
    expect(() => configSections([{ ...demo, name: 'other' }])).toThrow(/declares a config section named demo/);
    expect(() => configSections([demo, demo])).toThrow(/registered twice/);
    expect(() => configSections([{ ...demo, name: 'lock', config: { ...DEMO_CONFIG, name: 'lock' } }])).toThrow(/registered twice/);
  });

  it('documents every row with its key path', () => {
    expect(describeSettings(configSections(DEMO)).map((d) => [d.key, d.default])).toEqual([
      ['lock.stale-seconds', '10'],
      ['metrics.textfile', '/var/lib/prometheus/node-exporter/sanhook.prom'],
      ['metrics.max-keys', '1024'],
      ['metrics.key-retention-days', '30'],
      ['demo.mode', 'fast'],
      ['demo.limit', '(none)'],
      ['demo.verbose', 'false'],
      ['demo.window', ''],
      ['demo.window.low', '1'],
      ['demo.window.high', '10'],
      ['demo.ports[]', '(none)'],
      ['demo.ports[].name', '(any)'],
      ['demo.ports[].port', '(any)'],
    ]);
  });
});

describe('the registered sections: lock, nvmf and fcoe', () => {
  it('defaults for an empty file', async () => {
    const config = await parseConfig(FILE, '', FABRICS);
    expect(config.lockStaleMs).toBe(10_000);
    expect(nvmfSettings(config)).toEqual({ exclude: [], udevHandoff: 'auto', lost: DEFAULT_LOST_POLICY, persistent: false, referrals: { follow: true, maxDepth: 4, maxPerLog: 16 } });
    expect(DEFAULT_LOST_POLICY).toEqual({ reconnectDelay: 10, ctrlLossTmo: 600, growth: 'fixed', maxAttempts: 0, reconnectUnmanaged: false });
    expect(config).toEqual(defaultConfig(FILE, FABRICS));
  });

  it('reads every setting', async () => {
    const config = await parseConfig(
      FILE,
      [
        'lock:',
        '  stale-seconds: 2.5',
        'nvmf:',
        '  reconnect-delay: 5',
        '  ctrl-loss-tmo: -1',
        '  udev-handoff: inline',
        '  exclude:',
        '    - subnqn: nqn.2026-11.io.sanhook:scratch',
        '    - traddr: 10.0.0.9',
        '      trsvcid: 4420',
        '      transport: tcp',
        '  lost:',
        '    reconnect-delay: 2',
        '    ctrl-loss-tmo: -1',
        '    growth: linear',
        '    max-attempts: 5',
        '    reconnect-unmanaged: true',
        '  persistent: true',
        '  referrals:',
        '    follow: false',
        '    max-depth: 2',
        '    max-per-log: 3',
        'fcoe:',
        '  dcb-source: lldpad',
        '  retry:',
        '    delay: 0.25',
        '    growth: fixed',
        '    attempts: 3',
        '',
      ].join('\n'),
      FABRICS,
    );
    expect(config.file).toBe(FILE);
    expect(config.lockStaleMs).toBe(2500);
    expect(nvmfSettings(config)).toEqual({
      reconnectDelay: 5,
      ctrlLossTmo: -1,
      udevHandoff: 'inline',
      exclude: [{ subnqn: 'nqn.2026-11.io.sanhook:scratch' }, { traddr: '10.0.0.9', trsvcid: '4420', transport: 'tcp' }],
      lost: { reconnectDelay: 2, ctrlLossTmo: -1, growth: 'linear', maxAttempts: 5, reconnectUnmanaged: true },
      persistent: true,
      referrals: { follow: false, maxDepth: 2, maxPerLog: 3 },
    });
    expect(fcoeSettings(config)).toEqual({ dcbSource: 'lldpad', retry: { delayMs: 250, growth: 'fixed', attempts: 3 } });
  });

  it("fcoe's defaults are fcoemon's: DCB from auto, 0.2 s × n, 10 attempts", async () => {
    expect(fcoeSettings(await parseConfig(FILE, '', FABRICS))).toEqual({ dcbSource: 'auto', retry: { delayMs: 200, growth: 'linear', attempts: 10 } });
  });

  it.each([
    ['lock:\n  stale-seconds: 1\n', 2, 'lock.stale-seconds', 'must be seconds 2-3600, got "1"'],
    ['lock:\n  stale-seconds: 3601\n', 2, 'lock.stale-seconds', 'must be seconds 2-3600, got "3601"'],
    ['lock:\n  stale-secs: 5\n', 2, 'lock.stale-secs', 'unknown setting (known: stale-seconds)'],
    ['nvmf:\n  ctrl-loss-tmo: forever\n', 2, 'nvmf.ctrl-loss-tmo', 'must be -1 (never) or whole seconds 0-31536000, got "forever"'],
    ['nvmf:\n  reconnect-delay: [1, 2]\n', 2, 'nvmf.reconnect-delay', 'must be a single value'],
    ['nvmf:\n  reconnect-delay: 0\n', 2, 'nvmf.reconnect-delay', 'must be whole seconds 1-86400, got "0"'],
    ['nvmf:\n  reconect-delay: 5\n', 2, 'nvmf.reconect-delay', 'unknown setting (known: reconnect-delay, ctrl-loss-tmo, udev-handoff, exclude, lost, persistent, referrals)'],
    ['\n\nsan:\n  x: 1\n', 3, 'san', 'unknown section (known: lock, metrics, nvmf, fcoe, srp)'],
    ['metrics:\n  textfile: sanhook.prom\n', 2, 'metrics.textfile', 'must be an absolute path of a *.prom file (node_exporter reads only *.prom), got "sanhook.prom"'],
    ['metrics:\n  textfile: /var/lib/prometheus/node-exporter/sanhook.txt\n', 2, 'metrics.textfile', 'must be an absolute path of a *.prom file (node_exporter reads only *.prom), got "/var/lib/prometheus/node-exporter/sanhook.txt"'],
    ['metrics:\n  max-keys: 0\n', 2, 'metrics.max-keys', 'must be a whole number 1-100000, got "0"'],
    ['metrics:\n  key-retention-days: 1.5\n', 2, 'metrics.key-retention-days', 'must be whole days 1-3650, got "1.5"'],
    ['fcoe:\n  dcb-source: dcbtool\n', 2, 'fcoe.dcb-source', 'must be one of auto, dcb, lldpad, got "dcbtool"'],
    ['fcoe:\n  retry:\n    delay: 0.05\n', 3, 'fcoe.retry.delay', 'must be seconds 0.1-86400, to the millisecond, got "0.05"'],
    ['fcoe:\n  retry:\n    attempts: 0\n', 3, 'fcoe.retry.attempts', 'must be a count 1-1000, got "0"'],
    ['nvmf:\n  exclude:\n    - subnqn: "nqn.x; reboot"\n', 3, 'nvmf.exclude[0].subnqn', null],
    ['nvmf:\n  exclude:\n    - {}\n', 3, 'nvmf.exclude[0]', 'an empty rule would exclude everything'],
    ['nvmf:\n  exclude:\n    - subnqn: nqn.2026-11.io.sanhook:x\n      port: 4420\n', 4, 'nvmf.exclude[0].port', 'unknown field (known: subnqn, traddr, trsvcid, transport)'],
    ['nvmf:\n  exclude:\n    - transport: ib\n', 3, 'nvmf.exclude[0].transport', 'must be one of tcp, rdma, fc, loop, got "ib"'],
    ['nvmf:\n  exclude: nqn.2026-11.io.sanhook:x\n', 2, 'nvmf.exclude', 'must be a list of rules'],
    ['nvmf:\n  udev-handoff: sometimes\n', 2, 'nvmf.udev-handoff', 'must be one of auto, systemd-run, inline, got "sometimes"'],
    ['nvmf:\n  lost:\n    growth: exponential\n', 3, 'nvmf.lost.growth', 'must be one of fixed, linear, got "exponential"'],
    ['nvmf:\n  lost:\n    reconnect-delay: 0\n    ctrl-loss-tmo: -1\n', 3, 'nvmf.lost', 'reconnect-delay 0 with ctrl-loss-tmo 0/-1 would keep a timer that never does anything'],
    ['nvmf:\n  lost:\n    reconnect-delay: 86401\n', 3, 'nvmf.lost.reconnect-delay', 'must be whole seconds 0-86400 (0 disables attempts), got "86401"'],
    ['nvmf:\n  lost:\n    max-attempts: -1\n', 3, 'nvmf.lost.max-attempts', 'must be a count 0-1000000 (0: no limit), got "-1"'],
    ['nvmf:\n  lost:\n    reconnect-unmanaged: yes\n', 3, 'nvmf.lost.reconnect-unmanaged', 'must be true or false, got "yes"'],
    ['nvmf:\n  lost:\n    retries: 3\n', 3, 'nvmf.lost.retries', 'unknown setting (known: reconnect-delay, ctrl-loss-tmo, growth, max-attempts, reconnect-unmanaged)'],
  ])('%j → line %i key %s', async (text, line, key, problem) => {
    const error = await rejection(text);
    expect(error).toMatchObject({ file: FILE, line, key });
    expect(error.message.startsWith(`${FILE}:${line}: ${key}: `)).toBe(true);
    if (problem !== null) expect(error.message).toBe(`${FILE}:${line}: ${key}: ${problem}`);
  });

  it('YAML syntax errors name the line', async () => {
    const error = await rejection('lock:\n  stale-seconds: 5\n bad: [\n');
    expect(error.line).toBeGreaterThanOrEqual(3);
  });

  it('duplicate keys are an error', async () => {
    await rejection('lock:\n  stale-seconds: 5\n  stale-seconds: 6\n');
  });

  it("every registered section's defaults pass its own checks", () => {
    const walk = (table: Table<unknown>): void => {
      const rows = Object.values(table.rows as Record<string, { kind: string; table?: Table<unknown> }>);
      expect(table.check?.(defaults(table))).toBeUndefined();
      for (const row of rows) if (row.kind === 'mapping' && row.table) walk(row.table);
    };
    for (const section of configSections(FABRICS)) walk(section);
    expect(configSections(FABRICS).map((s) => s.name)).toEqual(['lock', 'metrics', ...FABRICS.map((f) => f.name)]);
    expect(NVMF_CONFIG.name).toBe('nvmf');
  });
});

describe("the README's list of settings", () => {
  it('is the tables, row for row (regenerate it from the expected text when a row changes)', () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const begin = readme.indexOf('<!-- settings:begin');
    const end = readme.indexOf('<!-- settings:end -->');
    expect(begin, 'README.md has a <!-- settings:begin ... --> marker').toBeGreaterThanOrEqual(0);
    const shown = readme.slice(readme.indexOf('\n', begin) + 1, end);
    const rows = describeSettings(configSections(FABRICS)).map((d) => `| \`${d.key}\` | ${d.default} | ${d.describe} |`);
    expect(shown).toBe(['| setting | default | meaning |', '| --- | --- | --- |', ...rows, ''].join('\n'));
  });
});
