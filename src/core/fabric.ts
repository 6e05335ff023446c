/**
 * What a fabric declares about itself, and the only things the core knows
 * about fabrics (DESIGN §3, "a fabric is a folder").
 *
 * Contract: each folder under src/hooks/ exports one `Fabric`; the list of
 * them is src/hooks/index.ts. The core (CLI, config loader, timerd's hook
 * table, coexist, the executor) reads these declarations and never names a
 * fabric, a key kind or a verb. Like the kernel's `nvmf_transport_ops`, a
 * fabric says what it allows and the core rejects everything else.
 */
import type { CoexistTarget } from './coexist.js';
import type { Config, ConfigSection } from './config.js';
import type { CommandWrites, Location } from './fs-errors.js';
import type { Platform } from './platform.js';
import type { Reporter } from './report.js';
import type { System } from './system.js';

/** One kind of key the fabric owns: `<kind>:...` (core/keys.ts). */
export interface KeyKindSpec {
  readonly kind: string;
  /** What one key of this kind names, for docs and `sanhook status`. */
  readonly names: string;
}

/** A command-line option of a fabric command, in commander's notation. */
export interface OptionSpec {
  /** e.g. `-t, --transport <transport>` or `--uevent`. */
  readonly flags: string;
  readonly description: string;
  /** Set by hand-offs and timerd, not by people: hidden from --help. */
  readonly hidden?: boolean;
  /** Allowed values: commander rejects anything else (exit 2). */
  readonly choices?: readonly string[];
}

/** What every command gets: the world, the validated settings, where to report, and dry-run. */
export interface CommandContext {
  readonly system: System;
  readonly config: Config;
  readonly reporter: Reporter;
  /** Observe and print the plan; change nothing. Only the executor acts on it. */
  readonly dryRun: boolean;
  /** Where a command that reads one event line from stdin reads it (devd). */
  readonly stdin?: AsyncIterable<Uint8Array>;
}

/**
 * One verb a fabric provides on some platforms. Options arrive as commander
 * parsed them (camelCase keys, strings and booleans); the command validates
 * them once, with the validators of its fabric, and runs its hook.
 */
export interface CommandSpec {
  readonly verb: string;
  readonly platforms: readonly Platform[];
  readonly summary: string;
  /** Positional arguments, in commander's notation (`[event]`), with their help text. */
  readonly args?: readonly { readonly spec: string; readonly description: string }[];
  readonly options: readonly OptionSpec[];
  /**
   * When two fabrics provide the same verb on one platform (`lost` for an
   * NVMe-oF controller and an SRP port), the one whose `claims` is true runs.
   */
  readonly claims?: (options: Readonly<Record<string, unknown>>, env: Readonly<Record<string, string | undefined>>) => boolean;
  run(context: CommandContext, options: Readonly<Record<string, unknown>>, args: readonly string[]): Promise<void>;
}

/** A hook timerd may run, and how it validates the options stored with a timer. */
export interface TimerHookSpec {
  readonly hook: string;
  readonly role: 'reconnect' | 'loss';
  /** Validates a timer's options with the hook's own parser; returns them canonical, with the key. */
  readonly resolve: (params: Readonly<Record<string, string>>) => { readonly key: string; readonly params: Record<string, string> };
}

/** A hook table as timerd receives it (it never imports a hook). */
export type TimerHookTable = ReadonlyMap<string, TimerHookSpec>;

/** What a run's exit status and output mean, per program (nvme-cli's "already connected", ...). */
export interface RunInterpretation {
  /** ok: done; already: the state was already there (also success); failed: not done. */
  readonly status: 'ok' | 'already' | 'failed';
  /** Fields worth logging and reporting (a new device name, the tool's message). */
  readonly fields?: Readonly<Record<string, string>>;
  readonly message?: string;
}
export type RunInterpreter = (result: { readonly exitCode: number; readonly stdout: string; readonly stderr: string }) => RunInterpretation;

export interface Fabric {
  /** The folder's name, the config section's name and the prefix of its key kinds. */
  readonly name: string;
  readonly title: string;
  readonly keyKinds: readonly KeyKindSpec[];
  readonly commands: readonly CommandSpec[];
  readonly timerHooks: readonly TimerHookSpec[];
  /** How the executor reads the programs this fabric's plans run, by name (a `run` action's `interpret`). */
  readonly interpreters: Readonly<Record<string, RunInterpreter>>;
  /** Its section of sanhook.yaml, named as the fabric: a schema table (core/config.ts). */
  readonly config: ConfigSection<unknown>;
  /** Vendor files that must not run next to sanhook; `sanhook coexist` masks them (core/coexist.ts). */
  readonly coexist: readonly CoexistTarget[];
  /** The places it writes, by a name unique across fabrics and the core (core/fs-errors.ts). */
  readonly locations: Readonly<Record<string, Location>>;
  /** What each of its commands writes on Linux (core locations or its own); timerd's hooks are commands too. */
  readonly commandWrites: CommandWrites;
}
