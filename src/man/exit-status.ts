/**
 * What sanhook's exit codes mean, in one table: `sanhook --help` prints it
 * (program.ts) and sanhook(8) and sanhook-timerd(8) render it (pages.ts).
 *
 * Contract: data and one pure formatter; small, because every hook's start
 * loads it with the program.
 */
import { ExitCode } from '../core/errors.js';

/** What each exit code means; `sanhook --help` and sanhook(8) both print this table. */
export const EXIT_STATUS: readonly (readonly [ExitCode, string])[] = [
  [ExitCode.ok, 'success, including an event that needed nothing (an irrelevant uevent, a connection already live)'],
  [ExitCode.actionFailed, 'an action failed (nvme connect, a sysfs write, a timerd request), or install/doctor found a blocking problem'],
  [ExitCode.badInput, 'bad input: an option, uevent variable or the configuration file; one line names it'],
  [ExitCode.environment, 'the environment is missing something: timerd not running, a required program or kernel interface absent'],
];

/** The exit-code table as plain text (the epilogue of `sanhook --help`). */
export function exitStatusHelp(): string {
  return ['Exit status:', ...EXIT_STATUS.map(([code, text]) => `  ${code}  ${text}`), '', 'Manual: sanhook(8), sanhook-timerd(8), sanhook.conf(5).'].join('\n');
}
