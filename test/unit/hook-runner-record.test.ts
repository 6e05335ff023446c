/**
 * The hook runner's lines in the hook-run log (src/core/hook-runner.ts,
 * src/core/hook-log.ts): one per round it runs, under the round's verb, with
 * its outcome; `queued` for an event a live holder takes; nothing in a dry
 * run; and a log that cannot be written never changes the hook's result.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EnvironmentError } from '../../src/core/errors.js';
import { hookLogPath } from '../../src/core/hook-log.js';
import { runLocked, type HookRunContext, type Planner } from '../../src/core/hook-runner.js';
import lockfile from 'proper-lockfile';
import { keyFileName } from '../../src/core/keys.js';
import { ensureRunDirs, writePending } from '../../src/core/lock.js';
import { act } from '../../src/core/plan.js';
import type { Plan } from '../../src/core/plan.js';
import { collectingReporter } from '../../src/core/report.js';
import type { System } from '../../src/core/system.js';
import { tempSystem } from '../support/system.js';

const KEY = 'fcoe:v0';

function context(system: System, dryRun = false): HookRunContext {
  return { system, reporter: collectingReporter(), dryRun, interpreters: {}, stores: {}, staleMs: 2_000 };
}
const note = (hook: string, fails: boolean): Plan => ({ hook, key: KEY, actions: [act.note(fails ? 'not-yet' : 'done', 'x', { fails })] });
const lines = (system: System) => {
  try {
    return readFileSync(hookLogPath(system.paths), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
};
const planners = (table: Record<string, () => Promise<Plan>>) => table as unknown as Readonly<Record<string, Planner<never>>>;

describe('one line per round, with its outcome', () => {
  it.each([
    ['every action done', false, undefined, 'ok', 0],
    ['an action failed', true, undefined, 'failed', 1],
    ['the host lacks something', false, new EnvironmentError('no nvme'), 'error', 3],
    ['a bug', false, new Error('oops'), 'error', 1],
  ] as const)('%s → %s', async (_name, fails, thrown, outcome, exit) => {
    const system = tempSystem(undefined, { SANHOOK_TIMER_ID: '7' });
    const run = runLocked(context(system), { key: KEY, verb: 'dcb-check', request: {}, planners: planners({ 'dcb-check': async () => { if (thrown) throw thrown; return note('dcb-check', fails); } }) });
    if (thrown) await expect(run).rejects.toBe(thrown);
    else await run;
    expect(lines(system)).toEqual([{ v: 1, at: expect.any(Number), hook: 'dcb-check', key: KEY, outcome, exit, timer: true }]);
  });

  it('a round of another verb queued behind this one gets its own line, under its verb; started by hand: timer false', async () => {
    const system = tempSystem();
    mkdirSync(path.join(system.paths.run, 'pending'), { recursive: true });
    await writePending(system, KEY, 'fcoe-destroy', {});
    await runLocked(context(system), { key: KEY, verb: 'dcb-check', request: {}, planners: planners({ 'dcb-check': async () => note('dcb-check', false), 'fcoe-destroy': async () => note('fcoe-destroy', true) }) });
    expect(lines(system).map((l) => [l.hook, l.outcome, l.timer]).sort()).toEqual([
      ['dcb-check', 'ok', false],
      ['fcoe-destroy', 'failed', false],
    ]);
  });

  it('an event a live holder keeps (the lock held throughout): one queued line, exit 0', async () => {
    const system = tempSystem();
    const { locks } = await ensureRunDirs(system);
    const release = await lockfile.lock(path.join(locks, keyFileName(KEY)), { realpath: false, stale: 2_000 });
    try {
      const run = await runLocked(context(system), { key: KEY, verb: 'dcb-check', request: {}, planners: planners({ 'dcb-check': async () => note('dcb-check', false) }) });
      expect(run.queued).toBe(true);
    } finally {
      await release();
    }
    expect(lines(system).map((l) => [l.hook, l.outcome, l.exit])).toEqual([['dcb-check', 'queued', 0]]);
  });

  it('a dry run writes no line', async () => {
    const system = tempSystem();
    await runLocked(context(system, true), { key: KEY, verb: 'dcb-check', request: {}, planners: planners({ 'dcb-check': async () => note('dcb-check', false) }) });
    expect(lines(system)).toEqual([]);
  });

  it('a log that cannot be written (a directory in its place) leaves the hook result alone, with a warning', async () => {
    const system = tempSystem();
    const warnings: string[] = [];
    const watched: System = { ...system, log: { ...system.log, warn: (_fields, message) => void warnings.push(message) } };
    mkdirSync(hookLogPath(system.paths), { recursive: true });
    const run = await runLocked(context(watched), { key: KEY, verb: 'dcb-check', request: {}, planners: planners({ 'dcb-check': async () => note('dcb-check', true) }) });
    expect(run.result?.failures).toHaveLength(1);
    expect(warnings).toEqual(['metrics: cannot append to the hook-run log']);
  });

  it('a full log (1 MiB): the line is skipped, the hook goes on', async () => {
    const system = tempSystem();
    mkdirSync(system.paths.run, { recursive: true });
    writeFileSync(hookLogPath(system.paths), Buffer.alloc(1024 * 1024, 0x20));
    chmodSync(hookLogPath(system.paths), 0o600);
    const run = await runLocked(context(system), { key: KEY, verb: 'dcb-check', request: {}, planners: planners({ 'dcb-check': async () => note('dcb-check', false) }) });
    expect(run.result?.failures).toEqual([]);
    expect(readFileSync(hookLogPath(system.paths)).length).toBe(1024 * 1024);
  });
});
