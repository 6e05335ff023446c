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
import type { FabricDoctor } from './requirements.js';
import type { System } from './system.js';

/** One kind of key the fabric owns: `<kind>:...` (core/keys.ts). */
export interface KeyKindSpec {
  readonly kind: string;
  /** What one key of this kind names, for docs and `sanhook status`. */
  readonly names: string;
}

/**
 * A command-line option of a fabric command, by its long name. The core
 * builds the commander option from it (`-a, --traddr <value>`), offers a verb
 * the union of its providers' options, and refuses any option the provider
 * that runs does not list (the kernel's nvmf allowed-options mask): options
 * are a provider's allowed set, not just its help.
 */
export interface OptionSpec {
  /** The long name without dashes (`traddr`, `host-traddr`): `--traddr`, and the key `run()` gets it under. */
  readonly name: string;
  /** The one-letter short form, if any (nvme-cli's `a` for --traddr). */
  readonly short?: string;
  /** The value's placeholder (`value`, `nvmeX`); absent: a flag, `true` when given. */
  readonly value?: string;
  readonly description: string;
  /** Set by hand-offs and timerd, not by people: hidden from --help. */
  readonly hidden?: boolean;
  /** Allowed values: commander rejects anything else (exit 2). */
  readonly choices?: readonly string[];
}

/** The options a command was given: long name → value (`true` for a flag); options not given are absent. */
export type GivenOptions = Readonly<Record<string, string | boolean>>;

/** A udev event's environment, as the hooks read it. */
export type UeventEnv = Readonly<Record<string, string | undefined>>;

/**
 * The cheap check of `sanhook <verb> --uevent` (cli.ts runs it before
 * anything else loads): false means the verb's full classifier ignores this
 * event, so the process exits 0 at once. It must never say false for an event
 * the verb would act on (test/unit/uevent-filter.test.ts holds each against
 * its classifier), and its module imports nothing (src/hooks/prefilters.ts).
 */
export type UeventPrefilter = (env: UeventEnv) => boolean;

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
 * One verb a fabric provides on some platforms (one spec per platform form:
 * Linux `reconnect -t -a -s -n ...`, FreeBSD `reconnect --device nvmeX`).
 * The program makes one subcommand per verb whose options are the union of
 * its providers'; at run time it picks the provider by platform (then by
 * `claims`), refuses the options that provider does not list (exit 2, naming
 * the option), and calls `run` with the given options by long name. `run`
 * validates them once, with the validators of its fabric, and runs its hook.
 */
export interface CommandSpec {
  readonly verb: string;
  readonly platforms: readonly Platform[];
  /** One line for `sanhook --help`. */
  readonly summary: string;
  /** Positional arguments, in commander's notation (`[event]`), with their help text. */
  readonly args?: readonly { readonly spec: string; readonly description: string }[];
  /** Every option this provider takes (its allowed set). */
  readonly options: readonly OptionSpec[];
  /**
   * Why this provider refuses an option another provider of the verb takes,
   * by long name: the message after `--name: ` (default: which options it
   * does take).
   */
  readonly refuses?: Readonly<Record<string, string>>;
  /**
   * When two fabrics provide the same verb on one platform (`lost` for an
   * NVMe-oF controller and an SRP port), the one whose `claims` is true runs.
   */
  readonly claims?: (options: GivenOptions, env: UeventEnv) => boolean;
  /**
   * Called once this provider is chosen, before the program builds the System
   * and reads the config: starts loading what `run` needs (prefetchExec), so
   * the load overlaps them.
   */
  readonly prefetch?: () => void;
  run(context: CommandContext, options: GivenOptions, args: readonly string[]): Promise<void>;
}

/** A hook timerd may run, and how it validates the options stored with a timer. */
export interface TimerHookSpec {
  readonly hook: string;
  readonly role: 'reconnect' | 'loss';
  /** Where its hook exists (absent: on every platform the fabric serves); timerd elsewhere refuses to arm it. */
  readonly platforms?: readonly Platform[];
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

/** What an effect action's run says (core/plan.ts EffectAction). */
export type EffectResult =
  | { readonly status: 'ok'; readonly fields?: Readonly<Record<string, string>>; readonly text?: string }
  /** Nothing to do, and that is fine (outcome word and why). */
  | { readonly status: 'skipped'; readonly outcome: string; readonly text: string }
  | { readonly status: 'failed'; readonly message: string };
/**
 * Runs one effect. `parent` is the result of the action it is a `then` of (a
 * run's interpretation). File-system errors on the host's own places are
 * thrown as EnvironmentError (exit 3), as other writes are.
 */
export type EffectRunner = (system: System, data: Readonly<Record<string, unknown>>, parent: RunInterpretation | undefined) => Promise<EffectResult>;

export interface Fabric {
  /** The folder's name, the config section's name and the prefix of its key kinds. */
  readonly name: string;
  readonly title: string;
  readonly keyKinds: readonly KeyKindSpec[];
  readonly commands: readonly CommandSpec[];
  /**
   * Its cheap udev-event checks, by verb (`connect` → ...), for cli.ts's fast
   * path; the same functions src/hooks/prefilters.ts lists (a test holds the
   * two together). A verb with a `--uevent` option and no prefilter here
   * always starts the program.
   */
  readonly prefilters?: Readonly<Record<string, UeventPrefilter>>;
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
  /**
   * Its lines in `sanhook status`, after the core's (timerd, timers, locks):
   * report items only, read-only, on every platform (a fabric with nothing to
   * say on this one reports nothing).
   */
  readonly status?: (context: CommandContext) => Promise<void>;
  /** What it needs on a host (modules, tools, its own checks), for `sanhook doctor` (core/requirements.ts). */
  readonly doctor?: FabricDoctor;
}
