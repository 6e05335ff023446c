/**
 * The `sanhook` program: subcommands, global options, exit codes.
 *
 * Contract: `main()` parses argv, builds the real System from the global
 * options, runs one subcommand and returns its exit code; it never exits the
 * process and never sets `process.exitCode` (bin/sanhook.js does). Every
 * error becomes one line on stderr and a code from `exitCodeFor()`.
 *
 * Fast path: udev runs `connect --uevent` (and `lost --uevent`, `connected
 * --uevent`) for every event the rules match, and many are not for us. Such
 * an event is recognised by the fabrics' prefilters (hooks/prefilters.ts, the
 * ONLY module this file imports statically; it imports nothing but the
 * fabrics' import-free prefilter modules), so it costs little more than
 * starting node (bench/hook-start.mjs): exit 0 when every prefilter of the
 * verb says irrelevant. Everything else, errors.js included, loads on demand.
 */
import { ueventIsIrrelevant } from './hooks/prefilters.js';

export interface MainIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** How to run this same program again: [node, ...its flags (execArgv), script] (core/self-argv.ts). */
  readonly selfArgv: readonly string[];
  /** Where `sanhook devd -` reads its event line (default: process.stdin). */
  readonly stdin?: AsyncIterable<Uint8Array>;
  /** node's `process.platform`: picks Linux or FreeBSD behaviour unless --platform says otherwise. */
  readonly platform?: string;
}

/** ExitCode.ok (errors.ts), spelled out so the fast path needs no import. */
const EXIT_OK = 0;

export async function main(argv: readonly string[], io: MainIo): Promise<number> {
  if (argv.length === 2 && argv[1] === '--uevent' && ueventIsIrrelevant(argv[0]!, io.env)) {
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
