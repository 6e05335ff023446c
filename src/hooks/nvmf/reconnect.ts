/**
 * `sanhook reconnect`: one attempt to bring one NVMe-oF I/O path back (run
 * by timerd on each reconnect event, or by hand); `sanhook give-up`: the
 * loss event for that path.
 *
 * Contract (DESIGN §3): validate → key (the I/O path) → lock with coalescing
 * (core/hook-runner.ts; every hook on the path shares the lock: paths.ts) →
 * observe (/sys/class/nvme, tombstone, host identity) → decideReconnect()
 * (pure, returns the plan) → the executor. Exit 0 when the path is live
 * (timerd then disarms), 1 when it is not yet. Run by hand (not by timerd), a
 * settled path also disarms its timer.
 */
import { act, type Plan } from '../../core/plan.js';
import type { Config } from '../../core/config.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';
import { servingController, type IoConnectParams } from './connect-decide.js';
import { exitOf, nvmfContext, runByTimerd, triggerOf, type NvmfContext } from './context.js';
import { MANAGED, isDisconnected, managedRecord } from './endpoint-state.js';
import { readHostIdentity } from './host-identity.js';
import { ioKey, ioParamsFromOptions, type IoOptions } from './io-request.js';
import { readControllers, type Controller } from './sysfs.js';
import { runOnPath } from './paths.js';
import { connectAndClaim, NO_OWNERSHIP, otherOwner, ownedByOther, type OwnershipFacts } from './registry.js';
import { observeOwnership } from './attach.js';

/** States in which the kernel itself is still trying this controller. */
const KERNEL_RETRYING = new Set(['connecting', 'resetting', 'new']);

export interface ReconnectFacts {
  readonly params: IoConnectParams;
  readonly controllers: readonly Controller[];
  readonly tombstoned: boolean;
  /** timerd ran this attempt: it disarms on exit 0 itself. */
  readonly fromTimerd: boolean;
  readonly trigger: string;
  /** The controllers' registry entries, and whether nvme-cli records sanhook's itself. */
  readonly ownership?: OwnershipFacts;
}

/** Pure: the plan of one reconnect attempt. */
export function decideReconnect(facts: ReconnectFacts): Plan {
  const key = ioKey(facts.params);
  const plan = (...actions: Plan['actions']) => ({ hook: 'reconnect', key, trigger: facts.trigger, actions });
  // Run by hand, a settled path also drops its timer: nothing is left to retry.
  const settle = facts.fromTimerd ? [] : [act.disarm()];
  if (facts.tombstoned) return plan(act.note('disconnected-by-admin', 'disconnected on purpose; not reconnecting', { fields: { reason: 'disconnected-by-admin' } }), ...settle);
  const serving = servingController(facts.params, facts.controllers);
  const ownership = facts.ownership ?? NO_OWNERSHIP;
  // Another orchestrator serves the path now: nothing of sanhook's is left to retry.
  const owner = serving && otherOwner(ownership.owners.get(serving.name));
  if (serving && owner) return plan(ownedByOther(serving.name, owner), ...settle);
  if (serving && serving.state === 'live') return plan(act.note('already-live', `${serving.name} is live`, { fields: { reason: 'already-live' } }), ...settle);
  if (serving && KERNEL_RETRYING.has(serving.state)) {
    return plan(act.note('not-yet', `${serving.name} is ${serving.state}: the kernel is still retrying`, { fields: { reason: 'kernel-retrying' }, fails: true }));
  }
  return plan(
    connectAndClaim(facts.params, ownership, 'reconnected', {
      interpret: 'nvme-connect',
      failLevel: 'warn',
      then: [act.record(MANAGED, managedRecord(facts.params)), ...settle],
    }),
  );
}

/**
 * Pure: the loss event. sanhook stops trying; the kernel state is left alone.
 * A controller another orchestrator owns serving the path is not sanhook's to
 * give up: it says so instead.
 */
export function decideGiveUp(params: IoConnectParams, trigger: string, serving?: { readonly device: string; readonly owner?: string }): Plan {
  if (serving?.owner) return { hook: 'give-up', key: ioKey(params), trigger, actions: [ownedByOther(serving.device, serving.owner)] };
  return {
    hook: 'give-up',
    key: ioKey(params),
    trigger,
    actions: [act.note('given-up', 'gave up reconnecting (ctrl-loss reached); a discovery event or sanhook connect can still bring it back', { level: 'warn' })],
  };
}

/** Observe, then decide: the reconnect round of one path (run under its lock). */
export async function planReconnect(context: NvmfContext, params: IoConnectParams): Promise<Plan> {
  const { system } = context;
  const identity = await readHostIdentity(system);
  const hostnqn = params.hostnqn ?? identity.hostnqn;
  const hostid = params.hostid ?? identity.hostid;
  const full: IoConnectParams = { ...params, ...(hostnqn ? { hostnqn } : {}), ...(hostid ? { hostid } : {}) };
  const controllers = await readControllers(system);
  return decideReconnect({
    params: full,
    controllers,
    ownership: await observeOwnership(context, controllers, !servingController(full, controllers)),
    tombstoned: await isDisconnected(system, ioKey(params)),
    fromTimerd: runByTimerd(system),
    trigger: triggerOf(system, 'manual'),
  });
}

export interface ReconnectOptions {
  readonly options: IoOptions;
  readonly dryRun: boolean;
}

export async function runReconnect(system: System, config: Config, input: ReconnectOptions, reporter: Reporter): Promise<void> {
  const params = ioParamsFromOptions(input.options);
  const context = nvmfContext(system, config, reporter, input.dryRun);
  const key = ioKey(params);
  exitOf(system, key, 'reconnect', await runOnPath(context, key, 'reconnect', params), 'path');
}

/** Observe (the controller serving the path, its owner), then decide the loss event. */
export async function planGiveUp(context: NvmfContext, params: IoConnectParams): Promise<Plan> {
  const controllers = await readControllers(context.system);
  const serving = servingController(params, controllers);
  const owner = serving ? otherOwner((await observeOwnership(context, [serving], false)).owners.get(serving.name)) : undefined;
  return decideGiveUp(params, triggerOf(context.system, 'manual'), serving ? { device: serving.name, ...(owner ? { owner } : {}) } : undefined);
}

export async function runGiveUp(system: System, config: Config, input: ReconnectOptions, reporter: Reporter): Promise<void> {
  const params = ioParamsFromOptions(input.options);
  await runOnPath(nvmfContext(system, config, reporter, input.dryRun), ioKey(params), 'give-up', params);
}
