/**
 * The `sanhook` program: subcommands, global options, exit codes.
 *
 * Contract: `main()` parses argv, builds the real System from the global
 * options, runs one subcommand and returns its exit code; it never exits the
 * process and never sets `process.exitCode` (bin/sanhook.js does). Every
 * error becomes one line on stderr and a code from `exitCodeFor()`.
 * An irrelevant udev event (`connect --uevent`) is recognised before any
 * heavy module loads, so the common case costs little more than node itself.
 */
import { classifyUevent } from './nvme/connect-request.js';
import { describeError, exitCodeFor, ExitCode, UsageError } from './errors.js';

export interface MainIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** How to run this same program again: [node, script]. */
  readonly selfArgv: readonly string[];
}

export async function main(argv: readonly string[], io: MainIo): Promise<number> {
  if (argv.length === 2 && argv[0] === 'connect' && argv[1] === '--uevent' && classifyUevent(io.env).kind === 'irrelevant') {
    return ExitCode.ok;
  }
  try {
    const { runProgram } = await import('./program.js');
    return await runProgram(argv, io);
  } catch (error) {
    io.stderr(`sanhook: ${describeError(error)}\n`);
    if (!(error instanceof UsageError) && io.env.SANHOOK_DEBUG) io.stderr(`${(error as Error).stack ?? ''}\n`);
    return exitCodeFor(error);
  }
}
