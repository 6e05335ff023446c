/**
 * Integration harness: the shared sandbox (test/support/sandbox.mjs: temp root, fake
 * sysfs, fake programs on PATH, the real `sanhook` entry run with its #! node flags,
 * timerd, readers) plus the assertions the vitest files share.
 */
import { expect } from 'vitest';
import type { RunResult } from '../support/sandbox.mjs';

export {
  BIN,
  DISCOVERY_NQN,
  FAKES_BIN,
  FIXTURES,
  HOSTNQN,
  KEY_4420,
  logRecords,
  messageLines,
  now,
  readAttributes,
  readJsonl,
  readUevent,
  RECORD_PENDING,
  REPO,
  Sandbox,
  shebangFlags,
  SUBSYS1,
  SUBSYS2,
  SUBSYS3,
  TIMER_HOOK,
  waitFor,
} from '../support/sandbox.mjs';
export type { Proc, RunResult, RunOptions, ToolCall as NvmeCall, SystemdRunCall, UnitResult } from '../support/sandbox.mjs';

/**
 * Only for test/integration/timerd/harness.ts (its poll loop) until it moves onto the
 * sandbox; tests wait with waitFor() on the event they mean.
 */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Asserts an exit code, showing the program's output when it differs. */
export function expectExit(result: RunResult, code: number): void {
  expect(result.signal, `killed by ${result.signal}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBeNull();
  expect(result.exitCode, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
}
