/**
 * The life of a persistent discovery controller sanhook created (one per
 * discovery address, connect-decide.ts chooseDiscoveryController): its loss,
 * timerd bringing it back, and the admin taking it down.
 *
 * Contract (all run under the address's lock, discovery-rounds.ts):
 * - `decideDiscoveryLost()` (pure): the remove of the controller sanhook
 *   recorded for the address (discovery records, endpoint-state.ts) arms
 *   timerd with `reconnect-discovery` / `give-up-discovery`, like an I/O path
 *   (nvmf.lost policy). Any other discovery controller's remove (a transient
 *   one of `nvme discover`, the admin's own persistent one) arms nothing.
 * - `reconnect-discovery` is one attempt: a persistent discovery round for
 *   the address (it creates the controller, reads the log, connects what is
 *   new). Exit 0 once the address has a live discovery controller.
 * - `decideDisconnectDiscovery()` (pure): `sanhook disconnect --discovery`
 *   tombstones the address (no automatic round creates a controller there
 *   again until a manual `sanhook connect` for it), forgets sanhook's record,
 *   disarms its timer and disconnects only the controller sanhook created;
 *   others are left alone. `--keep` (the monitor's --keep) leaves the
 *   controller connected and only stops managing it.
 */
import { ActionError } from '../../core/errors.js';
import type { Config } from '../../core/config.js';
import type { ObserveMode } from '../../core/hook-runner.js';
import { act, type Action, type Plan } from '../../core/plan.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';
import { discoveryControllersAt, persistentDiscoveryControllers } from './connect-decide.js';
import { discoveryOptions, discoveryRequestFromOptions, type ConnectRequest } from './connect-request.js';
import { nvmfContext, runByTimerd, triggerOf, type NvmfContext } from './context.js';
import { DISCONNECTED, DISCOVERY, isDisconnected, readDiscoveryRecord, type DiscoveryRecord } from './endpoint-state.js';
import { endpointKey } from './keys.js';
import { otherOwner, ownedByOther, readOwnerships } from './registry.js';
import { lostArmRequest, nvmfSettings, type LostPolicy } from './settings.js';
import { readControllers, type Controller } from './sysfs.js';

/** timerd's hooks for a discovery address (timer-hooks.ts). */
export const RECONNECT_DISCOVERY = 'reconnect-discovery';
export const GIVE_UP_DISCOVERY = 'give-up-discovery';

export interface DiscoveryLostRequest {
  /** The removed controller (the event's DEVPATH). */
  readonly device?: string;
  readonly trigger: string;
}

export interface DiscoveryLostFacts {
  readonly key: string;
  readonly device?: string;
  readonly record?: DiscoveryRecord;
  readonly tombstoned: boolean;
  /** Live discovery controllers still at the address. */
  readonly live: readonly string[];
  readonly trigger: string;
}

/** Pure: arm timerd for the persistent discovery controller sanhook created, or say why not. */
export function decideDiscoveryLost(facts: DiscoveryLostFacts, policy: LostPolicy): Plan {
  const fields = { device: facts.device ?? null, cntrltype: 'discovery' };
  const ignore = (reason: string, detail: string): Plan => ({
    hook: 'lost',
    key: facts.key,
    trigger: facts.trigger,
    actions: [act.note('ignored', `not armed: ${reason}: ${detail}`, { fields: { ...fields, reason } })],
  });
  if (!facts.record) return ignore('discovery-controller', 'sanhook created no persistent discovery controller for this address (a transient one of `nvme discover`, or one sanhook did not create)');
  if (facts.device && facts.device !== facts.record.device) return ignore('other-controller', `sanhook's persistent discovery controller for this address is ${facts.record.device}, not ${facts.device}`);
  if (facts.tombstoned) return ignore('disconnected-by-admin', 'disconnected on purpose with sanhook disconnect --discovery');
  if (facts.live.length > 0) return ignore('still-served', `${facts.live.join(', ')} still serves this address: rounds read through it`);
  return {
    hook: 'lost',
    key: facts.key,
    trigger: facts.trigger,
    actions: [act.arm(lostArmRequest(facts.record.options, policy, { hook: RECONNECT_DISCOVERY, lossHook: GIVE_UP_DISCOVERY }), { fields })],
  };
}

export async function planDiscoveryLost(context: NvmfContext, key: string, request: DiscoveryLostRequest): Promise<Plan> {
  const { system } = context;
  const record = await readDiscoveryRecord(system, key);
  const endpoint = record ? discoveryRequestFromOptions(record.options, 'timer').discovery : undefined;
  const live = endpoint ? persistentDiscoveryControllers(await readControllers(system), endpoint, undefined).filter((c) => c !== request.device) : [];
  return decideDiscoveryLost(
    { key, ...(request.device ? { device: request.device } : {}), ...(record ? { record } : {}), tombstoned: await isDisconnected(system, key), live, trigger: request.trigger },
    nvmfSettings(context.config).lost,
  );
}

export interface ReconnectDiscoveryFacts {
  readonly key: string;
  readonly tombstoned: boolean;
  readonly live: readonly string[];
  readonly fromTimerd: boolean;
  readonly trigger: string;
}

/** Pure: the note that ends one attempt without a round, or `round` (run a persistent discovery round). */
export function decideReconnectDiscovery(facts: ReconnectDiscoveryFacts): Plan | 'round' {
  const settle = facts.fromTimerd ? [] : [act.disarm()];
  const plan = (...actions: Action[]): Plan => ({ hook: RECONNECT_DISCOVERY, key: facts.key, trigger: facts.trigger, actions: [...actions, ...settle] });
  if (facts.tombstoned) return plan(act.note('disconnected-by-admin', 'disconnected on purpose; not reconnecting', { fields: { reason: 'disconnected-by-admin' } }));
  if (facts.live.length > 0) return plan(act.note('already-live', `${facts.live.join(', ')} is live`, { fields: { reason: 'already-live' } }));
  return 'round';
}

export async function planReconnectDiscovery(context: NvmfContext, key: string, request: ConnectRequest, mode: ObserveMode): Promise<Plan> {
  const { system } = context;
  const live = persistentDiscoveryControllers(await readControllers(system), request.discovery, undefined);
  const trigger = triggerOf(system, 'manual');
  const decided = decideReconnectDiscovery({ key, tombstoned: await isDisconnected(system, key), live, fromTimerd: runByTimerd(system), trigger });
  if (decided !== 'round') return decided;
  const { planConnect } = await import('./connect.js');
  const round = await planConnect(context, key, { ...request, persistent: true, trigger: trigger === 'timer' ? 'timer' : 'manual' }, mode);
  return { ...round, hook: RECONNECT_DISCOVERY };
}

/** Pure: the loss event of a discovery address: sanhook stops trying (its record stays: a manual or boot round brings it back). */
export function decideGiveUpDiscovery(key: string, trigger: string): Plan {
  return {
    hook: GIVE_UP_DISCOVERY,
    key,
    trigger,
    actions: [act.note('given-up', 'gave up bringing back the persistent discovery controller (ctrl-loss reached); sanhook connect or the boot round can still create it', { level: 'warn' })],
  };
}

export async function planGiveUpDiscovery(context: NvmfContext, key: string, _request: ConnectRequest): Promise<Plan> {
  return decideGiveUpDiscovery(key, triggerOf(context.system, 'manual'));
}

export interface DisconnectDiscoveryRequest {
  readonly request: ConnectRequest;
  /** Leave the controller connected; only stop managing it. */
  readonly keep: boolean;
}

export interface DisconnectDiscoveryFacts {
  readonly key: string;
  readonly keep: boolean;
  readonly record?: DiscoveryRecord;
  /** Discovery controllers at the address (any state but gone). */
  readonly present: readonly Controller[];
  /** Their owners other than sanhook (nvme-cli's registry), by name. */
  readonly owners: ReadonlyMap<string, string>;
}

/** Pure: see the module's contract. */
export function decideDisconnectDiscovery(facts: DisconnectDiscoveryFacts): Plan {
  const plan = (actions: Action[]): Plan => ({ hook: 'disconnect', key: facts.key, trigger: 'manual', actions });
  const ours = facts.record ? facts.present.find((c) => c.name === facts.record!.device) : undefined;
  const notOurs = facts.present
    .filter((c) => c !== ours)
    .map((c) => {
      const owner = facts.owners.get(c.name);
      return owner
        ? ownedByOther(c.name, owner, { fields: { cntrltype: 'discovery' } })
        : act.note('not-sanhooks', `${c.name} (${c.state}) was not created by sanhook: left alone (nvme disconnect -d ${c.name} removes it)`, { fields: { device: c.name, cntrltype: 'discovery' } });
    });
  if (facts.keep) {
    const kept = ours ? [act.note('kept', `${ours.name} stays connected; sanhook no longer manages it`, { fields: { device: ours.name } })] : [];
    return plan([act.forget(DISCOVERY, { then: [act.disarm(), ...kept] }), ...notOurs]);
  }
  const last = ours
    ? act.run('disconnect', ['nvme', 'disconnect', '--device', ours.name], 'disconnected', { interpret: 'nvme-disconnect', subject: `${facts.key} (${ours.name})`, fields: { device: ours.name, cntrltype: 'discovery' } })
    : act.note('disconnected', facts.record ? `${facts.record.device} is already gone; no automatic round creates one again` : 'sanhook created no discovery controller here; no automatic round creates one', { fields: { device: null } });
  return plan([act.record(DISCONNECTED, {}, { then: [act.forget(DISCOVERY), act.disarm(), last] }), ...notOurs]);
}

export async function planDisconnectDiscovery(context: NvmfContext, key: string, request: DisconnectDiscoveryRequest): Promise<Plan> {
  const { system } = context;
  const present = discoveryControllersAt(await readControllers(system), request.request.discovery);
  const ownerships = await readOwnerships(system, present.map((c) => c.name));
  const owners = new Map<string, string>();
  for (const c of present) {
    const owner = otherOwner(ownerships.get(c.name));
    if (owner) owners.set(c.name, owner);
  }
  const record = await readDiscoveryRecord(system, key);
  return decideDisconnectDiscovery({ key, keep: request.keep, ...(record ? { record } : {}), present, owners });
}

/** `sanhook disconnect --discovery -t -a -s [--keep]`. */
export async function runDisconnectDiscovery(system: System, config: Config, options: Record<string, string>, keep: boolean, dryRun: boolean, reporter: Reporter): Promise<void> {
  const request = discoveryRequestFromOptions(options, 'manual');
  const key = endpointKey(request.discovery);
  const { runOnDiscovery } = await import('./discovery-rounds.js');
  const run = await runOnDiscovery(nvmfContext(system, config, reporter, dryRun), key, 'disconnect', { request, keep });
  const failures = run.result?.failures ?? [];
  if (failures.length > 0) throw new ActionError(`nvme disconnect failed: ${failures.join('; ')}`, { failures });
}

/** timerd's `reconnect-discovery` (or by hand): exit 0 once the address has a live discovery controller. */
export async function runReconnectDiscovery(system: System, config: Config, options: Record<string, string>, dryRun: boolean, reporter: Reporter): Promise<void> {
  const request = discoveryRequestFromOptions(options, runByTimerd(system) ? 'timer' : 'manual');
  const key = endpointKey(request.discovery);
  const { runOnDiscovery } = await import('./discovery-rounds.js');
  const run = await runOnDiscovery(nvmfContext(system, config, reporter, dryRun), key, 'reconnect-discovery', request);
  if (dryRun) return;
  if (run.queued && runByTimerd(system)) throw new ActionError(`${key}: another hook holds this discovery address; its result decides`, { key });
  if (persistentDiscoveryControllers(await readControllers(system), request.discovery, undefined).length === 0) {
    const failures = run.result?.failures ?? [];
    throw new ActionError(`${key}: no live discovery controller yet${failures.length > 0 ? `: ${failures.join('; ')}` : ''}`, { key, failures });
  }
}

/** timerd's `give-up-discovery`. */
export async function runGiveUpDiscovery(system: System, config: Config, options: Record<string, string>, dryRun: boolean, reporter: Reporter): Promise<void> {
  const request = discoveryRequestFromOptions(options, 'timer');
  const { runOnDiscovery } = await import('./discovery-rounds.js');
  await runOnDiscovery(nvmfContext(system, config, reporter, dryRun), endpointKey(request.discovery), 'give-up-discovery', request);
}

/** The discovery options a persistent round records (and timerd is armed with). */
export { discoveryOptions };
