/**
 * The one executor: runs a plan (core/plan.ts) and is the only code that
 * knows `--dry-run`, writes the log line of each decision and the report
 * item of each outcome.
 *
 * Contract:
 * - dry-run: every action (and its `then`, as if it succeeded) becomes one
 *   report item `{hook, key, outcome: would-<verb>|<note outcome>, kind,
 *   ...the action's own fields}` and nothing is touched: with `-o json` the
 *   output is the plan, one action per line.
 * - otherwise each action runs in order; its outcome is logged once (info,
 *   or warn/error for failures) and reported once. A failed action is
 *   recorded in `failures` and the plan goes on (its actions are independent
 *   paths); its `then` actions are skipped. Errors that say the host lacks
 *   something (EnvironmentError: no `nvme`, no timerd, a read-only state
 *   dir) are not action failures: they propagate and the hook exits 3.
 * - Programs run with argv arrays through `system.exec`; a `run` action's
 *   result is read by the fabric's interpreter it names (default: exit 0
 *   is ok).
 */
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EnvironmentError } from './errors.js';
import type { EffectRunner, RunInterpretation, RunInterpreter } from './fabric.js';
import type { Location } from './fs-errors.js';
import type { Action, Plan } from './plan.js';
import type { Reporter } from './report.js';
import { dropRecord, putRecord } from './state.js';
import type { System } from './system.js';

export interface ExecuteContext {
  readonly system: System;
  readonly reporter: Reporter;
  readonly dryRun: boolean;
  /** How to read the result of the programs plans run, by name (the fabrics' interpreters). */
  readonly interpreters: Readonly<Record<string, RunInterpreter>>;
  /** The fabric's own steps `effect` actions name, by name (none: a plan naming one is a bug). */
  readonly effects?: Readonly<Record<string, EffectRunner>>;
  /** The state stores `record`/`forget` actions name, by name (the fabric's locations). */
  readonly stores: Readonly<Record<string, Location>>;
  /** Runs a `locked` action: `verb`'s round on `key` under its lock; undefined when a live holder took it. */
  readonly onKey?: (key: string, verb: string, request: unknown) => Promise<PlanResult | undefined>;
}

export interface PlanResult {
  /** One line per failed action (or failing note): what failed and why. */
  readonly failures: readonly string[];
  /** The outcome of each top-level action, in order (dry-run: would-...). */
  readonly outcomes: readonly string[];
}

/** First non-empty line of a program's output: enough for a one-line report. */
export function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
}

/** Exit 0 is success; the message is the first line of stderr (or stdout). */
export const exitStatus: RunInterpreter = (result) =>
  result.exitCode === 0 ? { status: 'ok' } : { status: 'failed', message: firstLine(result.stderr) || firstLine(result.stdout) || 'no message' };

/** The verb a run or write action performs, for dry-run outcomes: `connected` → `connect`. */
function plannedVerb(action: Action): string {
  switch (action.kind) {
    case 'run':
    case 'write':
    case 'effect':
      return action.verb;
    case 'note':
      return action.outcome;
    default:
      return action.kind;
  }
}

function describe(action: Action): string {
  switch (action.kind) {
    case 'run':
      return action.argv.join(' ');
    case 'write':
      return `write ${JSON.stringify(action.value)} to ${action.file}`;
    case 'arm':
      return `arm timerd: ${JSON.stringify(action.request)}`;
    case 'disarm':
      return 'disarm its timer';
    case 'record':
      return `record in ${action.store}`;
    case 'forget':
      return `forget from ${action.store}`;
    case 'note':
      return action.text;
    case 'locked':
      return `run ${action.verb} under the lock of ${action.key}`;
    case 'effect':
      return `${action.verb} (${action.effect} ${JSON.stringify(action.data)})`;
  }
}

export async function executePlan(plan: Plan, context: ExecuteContext): Promise<PlanResult> {
  const failures: string[] = [];
  const outcomes: string[] = [];
  const started = context.system.clock.now();
  for (const action of plan.actions) outcomes.push(await perform(plan, action, context, failures));
  if (plan.summary) {
    const where = { hook: plan.hook, ...(plan.key !== undefined ? { key: plan.key } : {}), ...(plan.trigger !== undefined ? { trigger: plan.trigger } : {}) };
    context.system.log.info({ ...where, outcome: context.dryRun ? 'planned' : 'done', ...plan.summary.fields, duration_ms: context.system.clock.now() - started }, plan.summary.message);
  }
  return { failures, outcomes };
}

/** Runs one action (and its `then` on success); returns its outcome word. */
async function perform(plan: Plan, action: Action, context: ExecuteContext, failures: string[], parent?: RunInterpretation): Promise<string> {
  const { system, reporter } = context;
  const key = action.key ?? plan.key;
  const subject = action.subject ?? key ?? plan.hook;
  const logBase = { hook: plan.hook, ...(key !== undefined ? { key } : {}), ...(plan.trigger !== undefined ? { trigger: plan.trigger } : {}), ...action.fields };
  const reportBase = { hook: plan.hook, ...(key !== undefined ? { key } : {}), ...(plan.trigger !== undefined ? { trigger: plan.trigger } : {}), ...action.fields };

  if (action.kind === 'note') {
    system.log[action.level]({ ...logBase, outcome: action.outcome }, action.text);
    if (action.level !== 'debug') reporter.item({ ...reportBase, outcome: action.outcome, text: `${subject}: ${action.text}` });
    if (action.fails) failures.push(`${subject}: ${action.failure ?? action.text}`);
    return action.outcome;
  }

  if (action.kind === 'locked') {
    if (!context.onKey) throw new Error(`plan has a locked action for ${action.key}, but the context runs no other key`);
    // The round reports and logs its own actions (and prints its plan in a dry run).
    const result = await context.onKey(action.key, action.verb, action.request);
    failures.push(...(result?.failures ?? []));
    return result ? (result.outcomes[0] ?? 'done') : 'queued';
  }

  if (context.dryRun) {
    const outcome = `would-${plannedVerb(action)}`;
    const { then: _then, fields: _fields, key: _key, subject: _subject, ...shape } = action as Action & { then?: unknown };
    reporter.item({ ...reportBase, outcome, ...shape, text: action.kind === 'run' ? describe(action) : `${subject}: would ${describe(action)}` });
    for (const next of 'then' in action && action.then ? action.then : []) await perform(plan, next, context, failures);
    return outcome;
  }

  const started = system.clock.now();
  switch (action.kind) {
    case 'run': {
      const [file, ...args] = action.argv;
      const result = await system.exec(file!, args);
      const reading: RunInterpretation = (action.interpret ? context.interpreters[action.interpret] : undefined)?.(result) ?? exitStatus(result);
      const duration = system.clock.now() - started;
      if (reading.status === 'failed') {
        const message = reading.message ?? `exit ${result.exitCode}`;
        system.log[action.failLevel ?? 'error']({ ...logBase, ...reading.fields, outcome: 'failed', exit_code: result.exitCode, err: message, duration_ms: duration }, `${action.verb} failed`);
        reporter.item({ ...reportBase, ...reading.fields, outcome: 'failed', exitCode: result.exitCode, text: `${subject}: ${file} ${action.argv[1] ?? ''} failed (exit ${result.exitCode}): ${message}` });
        failures.push(action.failure ?? `${subject}: ${file} ${action.argv[1] ?? ''} failed: ${message}`);
        return 'failed';
      }
      const outcome = reading.status === 'already' ? (action.already ?? action.done) : action.done;
      const detail = Object.entries(reading.fields ?? {}).map(([name, value]) => (name === 'device' ? ` as ${value}` : ` (${name} ${value})`)).join('');
      system.log.info({ ...logBase, outcome, ...reading.fields, duration_ms: duration }, outcome);
      reporter.item({ ...reportBase, ...reading.fields, outcome, text: `${subject}: ${outcome}${detail}` });
      await performThen(plan, action, context, failures, reading);
      return outcome;
    }
    case 'write': {
      let file = path.join(system.paths.sysfs, action.file);
      try {
        file = await resolveWildcard(system.paths.sysfs, action.file);
        await writeFile(file, action.value);
      } catch (error) {
        const message = `${(error as NodeJS.ErrnoException).code ?? 'error'}: ${(error as Error).message}`;
        if (action.already?.codes.includes((error as NodeJS.ErrnoException).code ?? '')) {
          const outcome = action.already.outcome;
          system.log.info({ ...logBase, outcome, file, err: message, duration_ms: system.clock.now() - started }, outcome);
          reporter.item({ ...reportBase, outcome, file, text: `${subject}: ${outcome}` });
          await performThen(plan, action, context, failures);
          return outcome;
        }
        system.log.error({ ...logBase, outcome: 'failed', file, err: message }, 'sysfs write failed');
        reporter.item({ ...reportBase, outcome: 'failed', file, text: `${subject}: writing ${JSON.stringify(action.value)} to ${file} failed: ${message}` });
        failures.push(`${subject}: write to ${action.file} failed (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
        return 'failed';
      }
      system.log.info({ ...logBase, outcome: action.done, file, duration_ms: system.clock.now() - started }, action.done);
      reporter.item({ ...reportBase, outcome: action.done, file, text: `${subject}: ${action.done}` });
      await performThen(plan, action, context, failures);
      return action.done;
    }
    case 'arm': {
      const reply = await system.timerd.request(action.request);
      if (!reply.ok) {
        const message = reply.error?.message ?? 'no reason given';
        system.log.error({ ...logBase, outcome: 'failed', err: message }, 'timerd refused the arm');
        reporter.item({ ...reportBase, outcome: 'failed', text: `${subject}: timerd refused the arm: ${message}` });
        failures.push(`${subject}: timerd refused the arm: ${message}`);
        return 'failed';
      }
      const next = reply.next as { event: string; at: string } | null;
      system.log.info({ ...logBase, outcome: 'armed', id: reply.id, next, loss_at: reply.lossAt, duration_ms: system.clock.now() - started }, 'armed');
      const kept = reply.kept === true ? ' (already armed: kept)' : '';
      reporter.item({ ...reportBase, outcome: 'armed', id: reply.id, text: `${subject}: timerd armed${kept} (next ${next ? `${next.event} at ${next.at}` : 'none'}, give up ${giveUp(reply.lossAt, action.request.lossAttempts)})` });
      return 'armed';
    }
    case 'disarm': {
      let existed = false;
      try {
        const reply = await system.timerd.request({ op: 'disarm', key });
        existed = reply.ok && reply.existed === true;
      } catch (error) {
        if (!(action.quiet && error instanceof EnvironmentError)) throw error;
        system.log.debug({ ...logBase, err: error.message }, 'timerd not reachable; nothing to disarm');
      }
      const outcome = existed ? 'disarmed' : 'nothing-armed';
      system.log.info({ ...logBase, outcome }, outcome);
      if (existed) reporter.item({ ...reportBase, outcome, text: `${subject}: its timer is disarmed` });
      return outcome;
    }
    case 'effect': {
      const run = context.effects?.[action.effect];
      if (!run) throw new Error(`plan names an unknown effect ${action.effect}`);
      // The host refusing the write (read-only /run, ...) fails this action only: what it follows (a connect) happened.
      const result = await run(system, action.data, parent).catch((error: unknown) => {
        if (error instanceof EnvironmentError) return { status: 'failed' as const, message: error.message };
        throw error;
      });
      const duration = system.clock.now() - started;
      if (result.status === 'failed') {
        system.log.error({ ...logBase, outcome: 'failed', err: result.message, duration_ms: duration }, `${action.verb} failed`);
        reporter.item({ ...reportBase, outcome: 'failed', text: `${subject}: ${action.verb} failed: ${result.message}` });
        failures.push(`${subject}: ${action.verb} failed: ${result.message}`);
        return 'failed';
      }
      const outcome = result.status === 'skipped' ? result.outcome : action.done;
      const fields = result.status === 'ok' ? result.fields : undefined;
      system.log.info({ ...logBase, outcome, ...fields, duration_ms: duration }, result.text ?? outcome);
      reporter.item({ ...reportBase, ...fields, outcome, text: `${subject}: ${result.text ?? outcome}` });
      return outcome;
    }
    case 'record':
    case 'forget': {
      let outcome: string;
      const store = context.stores[action.store];
      if (!store) throw new Error(`plan names an unknown state store ${action.store}`);
      try {
        if (action.kind === 'record') {
          await putRecord(system, store, key ?? '', { at: new Date(system.clock.now()).toISOString(), ...action.data });
          outcome = 'recorded';
        } else {
          outcome = (await dropRecord(system, store, key ?? '')) ? 'forgotten' : 'not-recorded';
        }
      } catch (error) {
        if (!(error instanceof EnvironmentError) || !action.unwritable) throw error;
        system.log.error({ ...logBase, outcome: 'not-recorded', store: action.store, err: error.message }, `could not ${action.kind} the ${action.store} record`);
        reporter.item({ ...reportBase, outcome: 'failed', text: `${subject}: ${action.unwritable.text}: ${error.message}` });
        failures.push(action.unwritable.failure);
        return 'failed';
      }
      system.log.debug({ ...logBase, outcome, store: action.store }, outcome);
      await performThen(plan, action, context, failures);
      return outcome;
    }
  }
}

/** When timerd gives up: at a time, after a number of failed attempts, both, or never. */
function giveUp(lossAt: unknown, lossAttempts: unknown): string {
  const attempts = typeof lossAttempts === 'number' && lossAttempts > 0 ? `after ${lossAttempts} failed attempts` : undefined;
  if (typeof lossAt === 'string') return attempts ? `${lossAt} or ${attempts}` : lossAt;
  return attempts ?? 'never';
}

async function performThen(plan: Plan, action: { readonly then?: readonly Action[] }, context: ExecuteContext, failures: string[], parent?: RunInterpretation): Promise<void> {
  for (const next of action.then ?? []) await perform(plan, next, context, failures, parent);
}

/**
 * A write action's file below the sysfs root: as it stands, or, when one
 * component holds a `*`, the one entry that matches it (plan.ts WriteAction).
 */
async function resolveWildcard(sysfs: string, file: string): Promise<string> {
  const parts = file.split('/');
  const at = parts.findIndex((part) => part.includes('*'));
  if (at < 0) return path.join(sysfs, file);
  const [prefix, suffix, ...more] = parts[at]!.split('*');
  if (more.length > 0 || parts.slice(at + 1).some((part) => part.includes('*'))) throw Object.assign(new Error(`more than one * in ${file}`), { code: 'EINVAL' });
  const dir = path.join(sysfs, ...parts.slice(0, at));
  const names = (await readdir(dir)).filter((name) => name.startsWith(prefix!) && name.endsWith(suffix!) && name.length >= prefix!.length + suffix!.length);
  if (names.length !== 1) {
    throw Object.assign(new Error(names.length === 0 ? `nothing matches ${parts[at]} in ${dir}` : `${names.length} entries match ${parts[at]} in ${dir}: ${names.sort().join(', ')}`), { code: names.length === 0 ? 'ENOENT' : 'EEXIST' });
  }
  return path.join(dir, names[0]!, ...parts.slice(at + 1));
}
