/**
 * How sanhook runs itself again: timerd runs hooks, and `connect --uevent`
 * hands its work to a transient unit. Both must start the same program the
 * same way and under the same global options, or a hook run by timerd or a
 * unit looks at another root, another platform's tools or logs at another
 * level than the process that started it.
 *
 * Contract: `selfArgv()` is the one builder of that argv: the command
 * (node, its flags from the entry's #! line such as --jitless, and the entry
 * script: `System.selfArgv`), then `--platform`, `--root`, `--sysfs` from the
 * System's paths, `--log-level` (from `System.invocation`: the program's
 * System always records it; a test's System without it gives none, so the new
 * process runs at the default) and, only where the new process's stderr is
 * its own, the `--log-format` this process was given. The subcommand and its
 * options follow, added by the caller. Pure: no I/O.
 */
import type { LogFormat, LogLevel } from './log.js';
import type { System } from './system.js';

/** The global options of this process that a run of sanhook by sanhook carries on. */
export interface SelfInvocation {
  readonly logLevel: LogLevel;
  /** As given (`auto` unless the user chose a format); `auto` is never passed on. */
  readonly logFormat: LogFormat;
}

/**
 * Where the new process's stderr goes, which decides --log-format:
 * - `parent`: to this process, which reads it (timerd parses its hooks'
 *   records and re-emits them in its own format, daemon.ts). The hook's
 *   `auto` is json on that pipe, which is what the parser reads: no --log-format.
 * - `own`: somewhere of its own (a transient unit's journal). A format the
 *   user chose is passed on; `auto` is not, so it is resolved again against
 *   the new process's own stderr (journal in a unit).
 */
export type SelfStderr = 'parent' | 'own';

export interface SelfArgvOptions {
  readonly stderr: SelfStderr;
  /** Run this instead of `system.selfArgv` (timerd --sanhook-bin): [program, ...its arguments]. */
  readonly command?: readonly string[];
}

/** [node, ...flags, script, --platform P, --root R, --sysfs S, --log-level L, (--log-format F)]: append the subcommand. */
export function selfArgv(system: System, options: SelfArgvOptions): string[] {
  const command = options.command ?? (system.selfArgv.length > 0 ? system.selfArgv : ['sanhook']);
  const invocation = system.invocation;
  const argv = [...command, '--platform', system.paths.platform, '--root', system.paths.root, '--sysfs', system.paths.sysfs];
  if (invocation) argv.push('--log-level', invocation.logLevel);
  if (invocation && options.stderr === 'own' && invocation.logFormat !== 'auto') argv.push('--log-format', invocation.logFormat);
  return argv;
}
