/**
 * The shape every hook that changes a key's state runs in (DESIGN §3):
 * key → lock(key) with coalescing → observe → decide (pure) → the executor.
 *
 * Contract: a hook gives its key, its verb, its event's request and the
 * planners of every verb that locks keys of this kind (so the lock holder
 * can run an event of another verb queued behind it: core/lock.ts). A
 * planner observes and decides; it returns a Plan and changes nothing. The
 * runner executes plans with core/execute.ts. Under `--dry-run` no lock is
 * taken and the plan is printed; planners are told they observe for a dry
 * run (`readOnly`), so an observation that would leave something behind (a
 * persistent discovery controller) is not made that way.
 *
 * For `sanhook metrics`, every round the runner runs (its own event's or one
 * queued behind it, of any verb) ends with one line in the hook-run log
 * (core/hook-log.ts: ok, failed or error, under the round's verb), and an
 * event handed to a live holder with one `queued` line; never in a dry run.
 * A line never changes the hook's result.
 */
import { exitCodeFor } from './errors.js';
import { appendHookRun, type HookOutcome } from './hook-log.js';
import { executePlan, type ExecuteContext, type PlanResult } from './execute.js';
import { runCoalesced, type CoalesceOutcome } from './lock.js';
import type { Plan } from './plan.js';
import type { System } from './system.js';

export interface ObserveMode {
  /** A dry run: observe without leaving anything behind. */
  readonly readOnly: boolean;
}

export type Planner<R = never> = (request: R, mode: ObserveMode) => Promise<Plan>;

export interface HookRunContext extends ExecuteContext {
  /** The lock's stale bound (config `lock.stale-seconds`). */
  readonly staleMs: number;
}

export interface LockedHook<R> {
  readonly key: string;
  readonly verb: string;
  readonly request: R;
  /** Every verb that locks keys of this kind, this one included. */
  readonly planners: Readonly<Record<string, Planner<never>>>;
}

export interface LockedResult {
  /** The result of the last round of this hook's own verb; none if another holder ran it. */
  readonly result?: PlanResult;
  /** How the lock went (absent in a dry run). */
  readonly coalesce?: CoalesceOutcome;
  /** A live holder has this event: it runs after the holder's current round. */
  readonly queued: boolean;
}

export async function runLocked<R>(context: HookRunContext, hook: LockedHook<R>): Promise<LockedResult> {
  const own = hook.planners[hook.verb] as Planner<R> | undefined;
  if (!own) throw new Error(`runLocked: no planner for ${hook.verb}`);
  if (context.dryRun) return { result: await executePlan(await own(hook.request, { readOnly: true }), context), queued: false };
  let result: PlanResult | undefined;
  let recorded = false;
  const record = async (verb: string, outcome: HookOutcome, exit: number) => {
    recorded = true;
    await appendHookRun(context.system, { hook: verb, key: hook.key, outcome, exit, at: context.system.clock.now(), timer: runByTimerd(context.system) });
  };
  const rounds = Object.fromEntries(
    Object.entries(hook.planners).map(([verb, planner]) => [
      verb,
      async (request: never) => {
        let outcome: PlanResult;
        try {
          outcome = await executePlan(await planner(request, { readOnly: false }), context);
        } catch (error) {
          await record(verb, 'error', exitCodeFor(error));
          throw error;
        }
        await record(verb, outcome.failures.length > 0 ? 'failed' : 'ok', outcome.failures.length > 0 ? 1 : 0);
        if (verb === hook.verb) result = outcome;
      },
    ]),
  );
  let coalesce: CoalesceOutcome;
  try {
    coalesce = await runCoalesced(context.system, hook.key, hook.verb, hook.request, rounds, { staleMs: context.staleMs });
  } catch (error) {
    // A round that threw has its line; an error around the rounds (the lock, the run dir) gets one here.
    if (!recorded) await record(hook.verb, 'error', exitCodeFor(error));
    throw error;
  }
  const queued = coalesce.kind === 'handed-over' || coalesce.runs === 0;
  if (queued) await record(hook.verb, 'queued', 0);
  return { ...(result ? { result } : {}), coalesce, queued };
}

/** The report item and log line of an event a live holder took over. */
export function reportQueued(context: ExecuteContext, hook: string, key: string, text: string, fields: Readonly<Record<string, unknown>> = {}): void {
  context.system.log.info({ hook, key, outcome: 'queued', ...fields }, 'event queued for the running holder');
  context.reporter.item({ hook, key, outcome: 'queued', text: `${key}: ${text}` });
}

/** timerd sets SANHOOK_TIMER_ID in every hook it starts (and disarms on its exit 0 itself). */
export function runByTimerd(system: System): boolean {
  return system.env.SANHOOK_TIMER_ID !== undefined;
}
