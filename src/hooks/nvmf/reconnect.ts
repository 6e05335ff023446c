/**
 * `sanhook reconnect`: one attempt to bring one NVMe-oF I/O path back
 * (run by timerd on each reconnect event, or by hand); `sanhook give-up`: the
 * loss event for that path.
 *
 * Contract (DESIGN §3): validate → key (the I/O endpoint) → lock with
 * coalescing → observe (/sys/class/nvme, tombstones) → decideReconnect()
 * (pure) → `nvme connect` → exit 0 when the path is live (timerd then
 * disarms), 1 when it is not yet. Run by hand (not by timerd), a success also
 * disarms any timer for the path.
 */
import type { Config } from '../../core/config.js';
import { ActionError, EnvironmentError } from '../../core/errors.js';
import { runCoalesced } from '../../core/lock.js';
import { servingController, type IoConnectParams } from './connect-decide.js';
import { isDisconnected, recordManaged } from './endpoint-state.js';
import { ioKey, ioParamsFromOptions, type IoOptions } from './io-request.js';
import * as nvmeCli from './nvme-cli.js';
import { readHostIdentity } from './host-identity.js';
import { readControllers, type Controller } from './sysfs.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';

export type ReconnectDecision =
  | { readonly action: 'connect' }
  | { readonly action: 'done'; readonly reason: 'already-live' | 'disconnected-by-admin'; readonly detail: string }
  | { readonly action: 'wait'; readonly reason: 'kernel-retrying'; readonly detail: string };

/** States in which the kernel itself is still trying this controller. */
const KERNEL_RETRYING = new Set(['connecting', 'resetting', 'new']);

export function decideReconnect(params: IoConnectParams, controllers: readonly Controller[], tombstoned: boolean): ReconnectDecision {
  if (tombstoned) return { action: 'done', reason: 'disconnected-by-admin', detail: 'disconnected on purpose; not reconnecting' };
  const serving = servingController(params, controllers);
  if (serving && serving.state === 'live') return { action: 'done', reason: 'already-live', detail: `${serving.name} is live` };
  if (serving && KERNEL_RETRYING.has(serving.state)) return { action: 'wait', reason: 'kernel-retrying', detail: `${serving.name} is ${serving.state}: the kernel is still retrying` };
  return { action: 'connect' };
}

export interface ReconnectOptions {
  readonly options: IoOptions;
  readonly dryRun: boolean;
}

export async function runReconnect(system: System, config: Config, input: ReconnectOptions, reporter: Reporter): Promise<void> {
  const requested = ioParamsFromOptions(input.options);
  const key = ioKey(requested);
  const fromTimerd = system.env.SANHOOK_TIMER_ID !== undefined;
  const attempt = async (params: IoConnectParams): Promise<AttemptOutcome> => {
    const started = system.clock.now();
    const identity = await readHostIdentity(system);
    const full: IoConnectParams = {
      ...params,
      ...(params.hostnqn ?? identity.hostnqn ? { hostnqn: params.hostnqn ?? identity.hostnqn } : {}),
      ...(params.hostid ?? identity.hostid ? { hostid: params.hostid ?? identity.hostid } : {}),
    };
    const decision = decideReconnect(full, await readControllers(system), await isDisconnected(system, key));
    const base = { hook: 'reconnect', key, trigger: fromTimerd ? 'timer' : 'manual' };
    if (decision.action !== 'connect') {
      const outcome = decision.action === 'done' ? decision.reason : 'not-yet';
      system.log.info({ ...base, outcome, reason: decision.reason, duration_ms: system.clock.now() - started }, 'reconnect decision');
      reporter.item({ ...base, outcome, reason: decision.reason, text: `${key}: ${decision.detail}` });
      return decision.action === 'wait' ? { settled: false, failure: new ActionError(`${key}: ${decision.detail}`, { key }) } : { settled: true };
    }
    const argv = ['nvme', ...nvmeCli.connectArgv(full)];
    if (input.dryRun) {
      reporter.item({ ...base, outcome: 'would-connect', argv, text: argv.join(' ') });
      return { settled: false };
    }
    const result = await nvmeCli.connect(system, full);
    const duration = system.clock.now() - started;
    if (result.outcome === 'failed') {
      system.log.warn({ ...base, outcome: 'failed', exit_code: result.exitCode, err: result.message, duration_ms: duration }, 'reconnect attempt failed');
      reporter.item({ ...base, outcome: 'failed', exitCode: result.exitCode, text: `${key}: nvme connect failed (exit ${result.exitCode}): ${result.message}` });
      return { settled: false, failure: new ActionError(`${key}: nvme connect failed: ${result.message}`, { key, exitCode: result.exitCode }) };
    }
    await recordManaged(system, full);
    const device = result.outcome === 'connected' ? result.device : undefined;
    system.log.info({ ...base, outcome: 'reconnected', device: device ?? null, duration_ms: duration }, 'reconnected');
    reporter.item({ ...base, outcome: 'reconnected', device, text: `${key}: reconnected${device ? ` as ${device}` : ''}` });
    return { settled: true };
  };
  await attemptUnderLock(system, key, requested, attempt, { dryRun: input.dryRun, staleMs: config.lockStaleMs });
}

/** What one reconnect attempt ended with: settled (live, or nothing left to do), or not yet (with why). */
export type AttemptOutcome = { readonly settled: true } | { readonly settled: false; readonly failure?: ActionError };

/**
 * Runs reconnect attempts for one key under its coalescing lock, with the
 * rules both platforms share. The last attempt decides. Run by timerd
 * (SANHOOK_TIMER_ID) but handed to another holder (a manual reconnect, or a
 * hook left over from a killed timerd): its result is unknown here, and exit
 * 0 would make timerd disarm, so it says "not yet" and the next attempt
 * observes what the holder achieved. Run by hand, a settled outcome also
 * disarms the key's timer.
 */
export async function attemptUnderLock<R>(system: System, key: string, request: R, attempt: (request: R) => Promise<AttemptOutcome>, options: { dryRun: boolean; staleMs: number }): Promise<void> {
  const fromTimerd = system.env.SANHOOK_TIMER_ID !== undefined;
  const state: { last: AttemptOutcome } = { last: { settled: false } };
  const run = async (r: R) => {
    state.last = await attempt(r);
  };
  if (options.dryRun) await run(request);
  else {
    const outcome = await runCoalesced(system, key, request, run, { staleMs: options.staleMs });
    if (fromTimerd && !state.last.settled && (outcome.kind === 'handed-over' || outcome.runs === 0)) {
      state.last = { settled: false, failure: state.last.failure ?? new ActionError(`${key}: another reconnect holds the lock; its result decides`, { key }) };
    }
  }
  const last = state.last;
  if (last.settled) {
    if (!fromTimerd && !options.dryRun) await disarmQuietly(system, key);
    return;
  }
  if (last.failure) throw last.failure;
}

/** Disarms a timer for `key` if timerd runs; a missing timerd is not an error here. */
export async function disarmQuietly(system: System, key: string): Promise<boolean> {
  try {
    const reply = await system.timerd.request({ op: 'disarm', key });
    return reply.ok && reply.existed === true;
  } catch (error) {
    if (error instanceof EnvironmentError) {
      system.log.debug({ key, err: error.message }, 'timerd not reachable; nothing to disarm');
      return false;
    }
    throw error;
  }
}

/** The loss event: sanhook stops trying. Reports and logs; the kernel state is left alone. */
export async function runGiveUp(system: System, input: ReconnectOptions, reporter: Reporter): Promise<void> {
  const params = ioParamsFromOptions(input.options);
  const key = ioKey(params);
  system.log.warn({ hook: 'give-up', key, outcome: 'given-up', trigger: system.env.SANHOOK_TIMER_ID ? 'timer' : 'manual' }, 'giving up on a lost controller');
  reporter.item({ hook: 'give-up', key, outcome: 'given-up', text: `${key}: gave up reconnecting (ctrl-loss reached); a discovery event or sanhook connect can still bring it back` });
}
