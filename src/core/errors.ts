/**
 * Typed errors and the one place that maps them to exit codes.
 *
 * Contract: every failure a user can cause or meet is one of these classes,
 * carrying structured fields and (where there is one) the underlying `cause`.
 * `exitCodeFor()` is the only mapping from an error to a process exit code:
 *   0 done or nothing to do · 1 an action failed, or `sanhook doctor` found a
 *   blocking problem · 2 bad input · 3 environment missing.
 */

export const ExitCode = {
  ok: 0,
  actionFailed: 1,
  /** `sanhook doctor`: at least one check failed (warnings alone exit 0). */
  problemFound: 1,
  badInput: 2,
  environment: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class SanhookError extends Error {
  abstract readonly exitCode: ExitCode;
  /** Structured context for logs; never contains secrets. */
  readonly fields: Record<string, unknown>;

  constructor(message: string, fields: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.fields = fields;
  }
}

/** A command-line option, uevent variable or request field is invalid. */
export class UsageError extends SanhookError {
  override readonly exitCode = ExitCode.badInput;
  constructor(
    message: string,
    readonly option?: string,
    readonly value?: string,
    options?: { cause?: unknown },
  ) {
    super(message, { option, value }, options);
  }
}

/** A configuration file is malformed; the message names file, line and key. */
export class ConfigError extends SanhookError {
  override readonly exitCode = ExitCode.badInput;
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly key: string | undefined,
    problem: string,
    options?: { cause?: unknown },
  ) {
    const where = line === undefined ? file : `${file}:${line}`;
    super(key ? `${where}: ${key}: ${problem}` : `${where}: ${problem}`, { file, line, key }, options);
  }
}

/** Something the host must provide is missing: a tool, a permission, a kernel interface. */
export class EnvironmentError extends SanhookError {
  override readonly exitCode = ExitCode.environment;
}

/** An action was attempted and failed (a command exited non-zero, a write was refused). */
export class ActionError extends SanhookError {
  override readonly exitCode = ExitCode.actionFailed;
}

/** `sanhook doctor` found blocking problems: every check was reported; the message counts and names the failed ones. */
export class ProblemsFound extends SanhookError {
  override readonly exitCode = ExitCode.problemFound;
}

/** The one mapping from anything thrown to an exit code. Unknown errors are bugs: exit 1. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof SanhookError) return error.exitCode;
  return ExitCode.actionFailed;
}

/** One line for the user: no stack for our own errors; unknown errors keep their message. */
export function describeError(error: unknown): string {
  if (error instanceof SanhookError) return error.message;
  if (error instanceof Error) return `internal error: ${error.message}`;
  return `internal error: ${String(error)}`;
}
