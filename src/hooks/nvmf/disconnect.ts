/**
 * `sanhook disconnect` (admin): disconnect NVMe-oF I/O controllers and make
 * sure nothing brings them back — not timerd, not `lost`, not a later AEN or
 * boot-time connect — until an admin runs `sanhook connect --nqn <nqn>`.
 *
 * Contract: for every matching path, in this order: tombstone (durable) →
 * forget the managed record → disarm its timer → `nvme disconnect -d nvmeX`.
 * The tombstone comes first so the remove uevent's `lost` already sees it.
 * Paths known only from sanhook's records (lost, being retried) are covered too.
 */
import { ActionError, UsageError } from '../../core/errors.js';
import type { IoConnectParams } from './connect-decide.js';
import type { Config } from '../../core/config.js';
import { act, type Plan } from '../../core/plan.js';
import { servingController } from './connect-decide.js';
import { nvmfContext, type NvmfContext } from './context.js';
import { DISCONNECTED, listManaged, MANAGED } from './endpoint-state.js';
import { runOnPath } from './paths.js';
import { ioKey, ioOptionsFromController, ioParamsFromOptions } from './io-request.js';
import { readControllers, type Controller } from './sysfs.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';
import { canonicalIp } from './validate.js';
import * as validate from './validate.js';
import { otherOwner, ownedByOther, readOwnerships } from './registry.js';
import { firmwareRefusals, readFirmwarePathKeys } from './handover.js';

export interface DisconnectFilter {
  readonly device?: string;
  readonly nqn?: string;
  readonly transport?: string;
  readonly traddr?: string;
  readonly trsvcid?: string;
}

export function validateFilter(raw: Record<string, string | undefined>): DisconnectFilter {
  const filter: { -readonly [K in keyof DisconnectFilter]: DisconnectFilter[K] } = {};
  if (raw.device !== undefined) filter.device = validate.device(raw.device);
  if (raw.nqn !== undefined) filter.nqn = validate.nqn(raw.nqn);
  if (raw.transport !== undefined) filter.transport = validate.transport(raw.transport);
  if (raw.traddr !== undefined) filter.traddr = validate.transportAddress(raw.traddr, (filter.transport ?? 'tcp') as validate.Transport, '--traddr');
  if (raw.trsvcid !== undefined) filter.trsvcid = validate.port(raw.trsvcid);
  if (!filter.device && !filter.nqn) throw new UsageError('give --device nvmeX or --nqn NQN (optionally with --transport/--traddr/--trsvcid)', '--nqn');
  return filter;
}

/** Pure: does this I/O path match the admin's filter? */
export function matches(filter: DisconnectFilter, path: { device?: string; params: IoConnectParams }): boolean {
  if (filter.device) return path.device === filter.device;
  return (
    path.params.subnqn === filter.nqn &&
    (filter.transport === undefined || path.params.transport === filter.transport) &&
    (filter.traddr === undefined || canonicalIp(path.params.traddr) === canonicalIp(filter.traddr)) &&
    (filter.trsvcid === undefined || path.params.trsvcid === filter.trsvcid)
  );
}

function paramsOf(controller: Controller): IoConnectParams | undefined {
  try {
    return ioParamsFromOptions(ioOptionsFromController(controller));
  } catch {
    return undefined;
  }
}

/** One path to disconnect: its identity and, if known when it was chosen, its controller. */
export interface DisconnectRequest {
  readonly params: IoConnectParams;
  readonly device?: string;
}

/**
 * Pure: tombstone first (durable; the remove uevent's `lost` already sees
 * it), then forget the managed record, disarm, and disconnect the controller
 * that serves the path now (observed under the lock: a reconnect that ran
 * just before may have created a new one).
 */
export function decideDisconnect(params: IoConnectParams, serving: string | undefined, owner?: string): Plan {
  const key = ioKey(params);
  // Another orchestrator's controller: not disconnected, not tombstoned, sanhook's records untouched (exit 1: not done).
  if (serving && owner) {
    return { hook: 'disconnect', key, trigger: 'manual', actions: [ownedByOther(serving, owner, { fails: true, subject: `${key} (${serving})` })] };
  }
  const last = serving
    ? act.run('disconnect', ['nvme', 'disconnect', '--device', serving], 'disconnected', { interpret: 'nvme-disconnect', subject: `${key} (${serving})`, fields: { device: serving } })
    : act.note('disconnected', 'was not connected; it will not be reconnected', { fields: { device: null } });
  return {
    hook: 'disconnect',
    key,
    trigger: 'manual',
    actions: [act.record(DISCONNECTED, {}, { then: [act.forget(MANAGED), act.disarm(), last] })],
  };
}

export async function planDisconnect(context: NvmfContext, request: DisconnectRequest): Promise<Plan> {
  const controllers = await readControllers(context.system);
  const serving = servingController(request.params, controllers)?.name ?? request.device;
  const owner = serving ? otherOwner((await readOwnerships(context.system, [serving])).get(serving)) : undefined;
  return decideDisconnect(request.params, serving, owner);
}

export async function runDisconnect(system: System, config: Config, filter: DisconnectFilter, dryRun: boolean, reporter: Reporter, options: { readonly force?: boolean } = {}): Promise<void> {
  const controllers = (await readControllers(system)).filter((c) => c.cntrltype !== 'discovery');
  const targets = new Map<string, DisconnectRequest>();
  for (const controller of controllers) {
    const params = paramsOf(controller);
    if (params && matches(filter, { device: controller.name, params })) targets.set(ioKey(params), { device: controller.name, params });
  }
  if (!filter.device) {
    for (const params of await listManaged(system)) {
      if (!targets.has(ioKey(params)) && matches(filter, { params })) targets.set(ioKey(params), { params });
    }
  }
  if (targets.size === 0) {
    reporter.item({ hook: 'disconnect', outcome: 'nothing-to-do', text: 'no NVMe-oF I/O controller or sanhook record matches' });
    return;
  }
  const context = nvmfContext(system, config, reporter, dryRun);
  const failures: string[] = refuseFirmwarePaths(targets, await readFirmwarePathKeys(system), options.force === true, reporter);
  for (const [key, request] of targets) {
    const run = await runOnPath(context, key, 'disconnect', request);
    failures.push(...(run.result?.failures ?? []));
  }
  if (failures.length > 0) throw new ActionError(`nvme disconnect failed: ${failures.join('; ')}`, { failures });
}

/**
 * A check of its own, before the decision above: the firmware's boot paths
 * (NBFT; the initramfs hand-over record, handover.ts) are refused unless
 * --force. Each refused path leaves `targets` and is one failure (exit 1).
 */
function refuseFirmwarePaths(targets: Map<string, DisconnectRequest>, firmware: ReadonlySet<string>, force: boolean, reporter: Reporter): string[] {
  const refused = firmwareRefusals(targets.keys(), firmware, force);
  for (const key of refused) {
    const device = targets.get(key)?.device;
    targets.delete(key);
    reporter.item({
      hook: 'disconnect',
      key,
      outcome: 'refused',
      reason: 'firmware-boot-path',
      ...(device ? { device } : {}),
      text: `${key}: connected by firmware for boot (NBFT); not disconnected (--force disconnects it anyway)`,
    });
  }
  return refused.map((key) => `${key}: a firmware boot path (use --force)`);
}
