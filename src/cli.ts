/**
 * The `sanhook` program: subcommands, global options, exit codes.
 *
 * Contract: `main()` parses argv, builds the real System from the global
 * options, runs one subcommand and returns its exit code; it never exits the
 * process and never sets `process.exitCode` (bin/sanhook.js does). Every
 * error becomes one line on stderr and a code from `exitCodeFor()`.
 *
 * Fast path: udev runs `connect --uevent` for every event the rules match
 * loosely, and most are not for us. Such an event is recognised by
 * uevent-filter.ts, the ONLY module this file imports statically (it imports
 * nothing itself), so it costs little more than starting node
 * (bench/hook-start.mjs). Everything else, errors.js included, loads on demand.
 */
import { matchUevent } from './hooks/nvmf/prefilter.js';

export interface MainIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** How to run this same program again: [node, script]. */
  readonly selfArgv: readonly string[];
  /** Where `sanhook devd -` reads its event line (default: process.stdin). */
  readonly stdin?: AsyncIterable<Uint8Array>;
  /** node's `process.platform`: picks Linux or FreeBSD behaviour unless --platform says otherwise. */
  readonly platform?: string;
}

/** ExitCode.ok (errors.ts), spelled out so the fast path needs no import. */
const EXIT_OK = 0;

export async function main(argv: readonly string[], io: MainIo): Promise<number> {
  if (argv.length === 2 && argv[0] === 'connect' && argv[1] === '--uevent' && !matchUevent(io.env).relevant) {
    return EXIT_OK;
  }
  try {
    const { runProgram } = await import('./program.js');
    return await runProgram(argv, io);
  } catch (error) {
    const { describeError, exitCodeFor, UsageError } = await import('./core/errors.js');
    const { errorLinePrefix } = await import('./core/log.js');
    io.stderr(`${errorLinePrefix(argv, io.env)}sanhook: ${describeError(error)}\n`);
    if (!(error instanceof UsageError) && io.env.SANHOOK_DEBUG) io.stderr(`${(error as Error).stack ?? ''}\n`);
    return exitCodeFor(error);
  }
}
