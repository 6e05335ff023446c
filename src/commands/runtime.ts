/**
 * What the program gives its core commands (timers, status, coexist, timerd):
 * the validated global options and, on demand, the world.
 *
 * Contract: nothing is built before a command's action asks for it, so a
 * usage error costs no logger, socket client or config read; the System is
 * built once per process.
 */
import type { Command } from 'commander';
import type { CommandContext, Fabric } from '../core/fabric.js';
import type { LogFormat, LogLevel } from '../core/log.js';
import type { Platform } from '../core/platform.js';
import type { OutputFormat } from '../core/report.js';
import type { SelfInvocation } from '../core/self-argv.js';
import type { System } from '../core/system.js';
import type { MainIo } from '../cli.js';

/** sanhook's global options, validated (program.ts). */
export interface Globals {
  readonly platform: Platform;
  readonly root: string;
  readonly sysfs: string;
  readonly dryRun: boolean;
  readonly logLevel: LogLevel;
  /** As given: `auto` stays `auto` (the logger resolves it; a re-run resolves it again). */
  readonly logFormat: LogFormat;
  readonly output: OutputFormat;
}

/** The program's System: it records how this process was invoked, for core/self-argv.ts. */
export type ProgramSystem = System & { readonly invocation: SelfInvocation };

export interface Runtime {
  readonly io: MainIo;
  /** The fabrics this program was built with (src/hooks/index.ts FABRICS). */
  readonly fabrics: readonly Fabric[];
  /** Validates the global options (UsageError, exit 2). */
  globals(): Globals;
  /** The real System from the global options: logger, paths, timerd client. */
  system(): Promise<ProgramSystem>;
  /** The System, the config, a reporter on stdout and --dry-run. */
  context(): Promise<CommandContext>;
}

/** A verb of the core (not of a fabric): adds its commander subcommand under `program`. */
export interface CoreCommand {
  readonly verb: string;
  register(program: Command, runtime: Runtime): Command;
}
