/**
 * sanhook's own settings: /etc/sanhook/sanhook.yaml (YAML 1.2, parsed by `yaml`).
 *
 * Contract: `loadConfig()` returns fully validated settings with defaults
 * filled in, or throws a ConfigError naming file, line and key. A missing file
 * means "all defaults"; an unknown key is an error (a typo must not silently
 * change nothing).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, UsageError } from './errors.js';
import { DEFAULT_STALE_MS, MIN_STALE_MS } from './lock.js';
import type { System } from './system.js';
import * as validate from '../hooks/nvmf/validate.js'; // TEMPORARY: moves to the nvmf section schema
import { GROWTHS, type Growth } from '../timerd/schedule.js';

export const HANDOFF_MODES = ['auto', 'systemd-run', 'inline'] as const;
export type HandoffMode = (typeof HANDOFF_MODES)[number];

/** A discovery-log record is skipped when every field given here matches it. */
export interface ExcludeRule {
  readonly subnqn?: string;
  readonly traddr?: string;
  readonly trsvcid?: string;
  readonly transport?: validate.Transport;
}

export interface Config {
  readonly file: string;
  readonly lockStaleMs: number;
  readonly nvmf: {
    /** Passed to `nvme connect -c` when set; otherwise the kernel default. */
    readonly reconnectDelay?: number;
    /** Passed to `nvme connect -l` when set; otherwise the kernel default. */
    readonly ctrlLossTmo?: number;
    readonly exclude: readonly ExcludeRule[];
    /** Under udev: hand network work to `systemd-run` (auto = when systemd is PID 1). */
    readonly udevHandoff: HandoffMode;
    /** sanhook's own timers after the kernel gave up on a controller (timerd). */
    readonly lost: LostPolicy;
  };
}

/** Defaults as Linux's and FreeBSD's nvmf: attempt every 10 s, give up after 600 s. */
export interface LostPolicy {
  /** Seconds between reconnect attempts; 0 disables attempts. */
  readonly reconnectDelay: number;
  /** Seconds until sanhook gives up; -1 never; 0 disables the loss timer (also never). */
  readonly ctrlLossTmo: number;
  readonly growth: Growth;
  /** Give up after this many failed attempts; 0: no limit by count. */
  readonly maxAttempts: number;
  /** Also bring back controllers sanhook did not connect (found by remove events). */
  readonly reconnectUnmanaged: boolean;
}

export const DEFAULT_LOST_POLICY: LostPolicy = { reconnectDelay: 10, ctrlLossTmo: 600, growth: 'fixed', maxAttempts: 0, reconnectUnmanaged: false };

export function configPath(system: System): string {
  return path.join(system.paths.etc, 'sanhook', 'sanhook.yaml');
}

export function defaultConfig(file: string): Config {
  return { file, lockStaleMs: DEFAULT_STALE_MS, nvmf: { exclude: [], udevHandoff: 'auto', lost: DEFAULT_LOST_POLICY } };
}

export async function loadConfig(system: System): Promise<Config> {
  const file = configPath(system);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return defaultConfig(file);
    throw new ConfigError(file, undefined, undefined, `cannot read: ${(error as Error).message}`, { cause: error });
  }
  return parseConfig(file, text);
}

export async function parseConfig(file: string, text: string): Promise<Config> {
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

  const config = defaultConfig(file);
  let lockStaleMs = config.lockStaleMs;
  const nvmf: { -readonly [K in keyof Config['nvmf']]: Config['nvmf'][K] } = { ...config.nvmf };

  const root = doc.contents;
  if (root === null || root === undefined) return config;
  if (!YAML.isMap(root)) return fail(root, '(top level)', 'must be a mapping of sections');

  /** Runs a validator on a scalar's text, turning its UsageError into a ConfigError at that line. */
  const scalar = <V>(node: unknown, key: string, check: (raw: string) => V): V => {
    if (!YAML.isScalar(node) || node.value === null || typeof node.value === 'object') {
      return fail(node, key, 'must be a single value');
    }
    try {
      return check(String(node.value));
    } catch (error) {
      if (error instanceof UsageError) return fail(node, key, error.message.replace(/^[^:]+: /, ''));
      throw error;
    }
  };

  const entries = (node: unknown, section: string) => {
    if (!YAML.isMap(node)) return fail(node, section, 'must be a mapping');
    return node.items.map((pair) => {
      const name = YAML.isScalar(pair.key) ? String(pair.key.value) : '?';
      return { name, path: `${section}.${name}`, keyNode: pair.key, value: pair.value };
    });
  };

  for (const section of entries(root, '').map((e) => ({ ...e, path: e.name }))) {
    switch (section.name) {
      case 'lock':
        for (const item of entries(section.value, 'lock')) {
          if (item.name !== 'stale-seconds') fail(item.keyNode, item.path, 'unknown setting');
          lockStaleMs = scalar(item.value, item.path, (raw) => {
            if (!/^[0-9]+(\.[0-9]+)?$/.test(raw) || Number(raw) * 1000 < MIN_STALE_MS || Number(raw) > 3600) {
              throw new UsageError(`x: must be seconds ${MIN_STALE_MS / 1000}-3600, got ${validate.showValue(raw)}`);
            }
            return Math.round(Number(raw) * 1000);
          });
        }
        break;
      case 'nvmf':
        for (const item of entries(section.value, 'nvmf')) {
          switch (item.name) {
            case 'reconnect-delay':
              nvmf.reconnectDelay = scalar(item.value, item.path, (raw) => validate.reconnectDelay(raw, item.path));
              break;
            case 'ctrl-loss-tmo':
              nvmf.ctrlLossTmo = scalar(item.value, item.path, (raw) => validate.ctrlLossTmo(raw, item.path));
              break;
            case 'udev-handoff':
              nvmf.udevHandoff = scalar(item.value, item.path, (raw) => {
                if ((HANDOFF_MODES as readonly string[]).includes(raw)) return raw as HandoffMode;
                throw new UsageError(`x: must be one of ${HANDOFF_MODES.join(', ')}, got ${validate.showValue(raw)}`);
              });
              break;
            case 'exclude':
              nvmf.exclude = parseExcludes(item.value, item.path);
              break;
            case 'lost':
              nvmf.lost = parseLost(item.value, item.path);
              break;
            default:
              fail(item.keyNode, item.path, 'unknown setting');
          }
        }
        break;
      default:
        fail(section.keyNode, section.name, 'unknown section (known: lock, nvmf)');
    }
  }

  function parseLost(node: unknown, where: string): LostPolicy {
    const policy: { -readonly [K in keyof LostPolicy]: LostPolicy[K] } = { ...DEFAULT_LOST_POLICY };
    const count = (max: number, what: string) => (raw: string) => {
      if (/^[0-9]{1,9}$/.test(raw) && Number(raw) <= max) return Number(raw);
      throw new UsageError(`x: must be ${what}, got ${validate.showValue(raw)}`);
    };
    for (const item of entries(node, where)) {
      switch (item.name) {
        case 'reconnect-delay':
          policy.reconnectDelay = scalar(item.value, item.path, count(86_400, 'whole seconds 0-86400 (0 disables attempts)'));
          break;
        case 'ctrl-loss-tmo':
          policy.ctrlLossTmo = scalar(item.value, item.path, (raw) => validate.ctrlLossTmo(raw, item.path));
          break;
        case 'growth':
          policy.growth = scalar(item.value, item.path, (raw) => {
            if ((GROWTHS as readonly string[]).includes(raw)) return raw as Growth;
            throw new UsageError(`x: must be one of ${GROWTHS.join(', ')}, got ${validate.showValue(raw)}`);
          });
          break;
        case 'max-attempts':
          policy.maxAttempts = scalar(item.value, item.path, count(1_000_000, 'a count 0-1000000 (0: no limit)'));
          break;
        case 'reconnect-unmanaged':
          policy.reconnectUnmanaged = scalar(item.value, item.path, (raw) => {
            if (raw === 'true' || raw === 'false') return raw === 'true';
            throw new UsageError(`x: must be true or false, got ${validate.showValue(raw)}`);
          });
          break;
        default:
          fail(item.keyNode, item.path, 'unknown setting (known: reconnect-delay, ctrl-loss-tmo, growth, max-attempts, reconnect-unmanaged)');
      }
    }
    if (policy.reconnectDelay === 0 && policy.ctrlLossTmo <= 0) fail(node, where, 'reconnect-delay 0 with ctrl-loss-tmo 0/-1 would keep a timer that never does anything');
    return policy;
  }

  function parseExcludes(node: unknown, where: string): ExcludeRule[] {
    if (!YAML.isSeq(node)) return fail(node, where, 'must be a list of rules');
    return node.items.map((ruleNode, index) => {
      const rule: { -readonly [K in keyof ExcludeRule]: ExcludeRule[K] } = {};
      const rulePath = `${where}[${index}]`;
      const items = entries(ruleNode, rulePath);
      if (items.length === 0) fail(ruleNode, rulePath, 'an empty rule would exclude everything');
      for (const item of items) {
        switch (item.name) {
          case 'subnqn':
            rule.subnqn = scalar(item.value, item.path, (raw) => validate.nqn(raw, item.path));
            break;
          case 'traddr':
            rule.traddr = scalar(item.value, item.path, (raw) => raw.toLowerCase());
            break;
          case 'trsvcid':
            rule.trsvcid = scalar(item.value, item.path, (raw) => validate.port(raw, item.path));
            break;
          case 'transport':
            rule.transport = scalar(item.value, item.path, (raw) => validate.transport(raw, item.path));
            break;
          default:
            fail(item.keyNode, item.path, 'unknown field (known: subnqn, traddr, trsvcid, transport)');
        }
      }
      return rule;
    });
  }

  return { file, lockStaleMs, nvmf };
}
