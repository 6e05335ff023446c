/**
 * `sanhook lost`: an NVMe-oF I/O controller is gone (udev remove, after the
 * kernel's ctrl_loss_tmo expired or a disconnect). Decide whether it should
 * come back and, if so, arm timerd with its full identity.
 *
 * Contract: the remove uevent carries the transport address but not the
 * subsystem NQN; the shipped rules store SANHOOK_SUBNQN / SANHOOK_CNTRLTYPE /
 * SANHOOK_HOSTNQN in the udev database from the events where the controller
 * is identified (live, or the connected change; stored-identity.ts), keep
 * them through later changes, and udev hands them back on remove.
 * `decideLost()` is pure: it arms only for I/O controllers sanhook manages
 * (or all, with nvmf.lost.reconnect-unmanaged) and never for one
 * disconnected on purpose. A discovery controller's remove goes to its
 * address's lock instead (discovery-lifecycle.ts: only the persistent one
 * sanhook created is brought back).
 */
import { lostArmRequest, nvmfSettings, type LostPolicy } from './settings.js';
import type { Config } from '../../core/config.js';
import { ActionError, UsageError } from '../../core/errors.js';
import { executePlan } from '../../core/execute.js';
import { act, type Plan } from '../../core/plan.js';
import { nvmfContext, type NvmfContext } from './context.js';
import { runOnPath } from './paths.js';
import type { IoConnectParams } from './connect-decide.js';
import { isDisconnected, readManaged } from './endpoint-state.js';
import { ioKey, ioOptionsFromController, ioParamsFromOptions, ioParamsToOptions, type IoOptions } from './io-request.js';
import { readController } from './sysfs.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';
import * as validate from './validate.js';
import { otherOwner, ownershipAtRemove, readEntry, seqnumOf } from './registry.js';
import { discoveryRequestFromOptions } from './connect-request.js';
import { endpointKey } from './keys.js';

const HOOK = 'lost';

export type LostInput =
  | { readonly kind: 'irrelevant'; readonly why: string }
  | { readonly kind: 'lost'; readonly device?: string; readonly cntrltype: string; readonly options: IoOptions; readonly seqnums?: RemoveSeqnums };

/** The remove event's SEQNUM and the removed controller's add SEQNUM (udev database): the registry entry's guard. */
export interface RemoveSeqnums {
  readonly remove?: number;
  readonly add?: number;
}

/** Classifies a udev remove event of an nvme controller. Values are validated later, as data. */
export function classifyLostUevent(env: Readonly<Record<string, string | undefined>>): LostInput {
  if (env.SUBSYSTEM !== 'nvme') return { kind: 'irrelevant', why: `subsystem ${env.SUBSYSTEM ?? '(unset)'}` };
  if (env.ACTION !== 'remove') return { kind: 'irrelevant', why: `action ${env.ACTION ?? '(unset)'}` };
  if (env.NVME_TRTYPE === undefined) return { kind: 'irrelevant', why: 'not a fabrics controller (no NVME_TRTYPE)' };
  const device = env.DEVPATH ? env.DEVPATH.slice(env.DEVPATH.lastIndexOf('/') + 1) : undefined;
  const options: Record<string, string> = { transport: env.NVME_TRTYPE };
  const copy = (from: string, to: keyof IoOptions) => {
    const value = env[from];
    if (value !== undefined && value !== '' && value !== 'none') options[to] = value;
  };
  copy('NVME_TRADDR', 'traddr');
  copy('NVME_TRSVCID', 'trsvcid');
  copy('NVME_HOST_TRADDR', 'host-traddr');
  copy('NVME_HOST_IFACE', 'host-iface');
  copy('SANHOOK_SUBNQN', 'nqn');
  copy('SANHOOK_HOSTNQN', 'hostnqn');
  const remove = seqnumOf(env.SEQNUM);
  const add = seqnumOf(env.SANHOOK_ADD_SEQNUM);
  const seqnums = { ...(remove !== undefined ? { remove } : {}), ...(add !== undefined ? { add } : {}) };
  return { kind: 'lost', ...(device ? { device } : {}), cntrltype: env.SANHOOK_CNTRLTYPE ?? '', options, seqnums };
}

export interface LostFacts {
  /** From the event: what the kernel said (no timers, maybe no hostnqn). */
  readonly params?: IoConnectParams;
  readonly cntrltype: string;
  /** sanhook's record for this endpoint, with the parameters it connected with. */
  readonly managed?: IoConnectParams;
  readonly tombstoned: boolean;
  readonly device?: string;
  readonly trigger: string;
  /** The orchestrator other than sanhook whose controller this was (the registry entry, if still there). */
  readonly owner?: string;
}

/** The timerd arm request for a lost endpoint. */
export function armMessage(params: IoConnectParams, policy: LostPolicy): Record<string, unknown> {
  return lostArmRequest(ioParamsToOptions(params), policy);
}

/** Pure: arm timerd for a lost path sanhook is responsible for, or say why not. */
export function decideLost(facts: LostFacts, policy: LostPolicy): Plan {
  const params = facts.managed ?? facts.params;
  const key = params ? ioKey(params) : '(unknown)';
  const fields = { device: facts.device ?? null };
  const ignore = (reason: string, detail: string): Plan => ({
    hook: HOOK,
    key,
    trigger: facts.trigger,
    actions: [act.note('ignored', `not armed: ${reason}: ${detail}`, { fields: { ...fields, reason } })],
  });
  if (facts.cntrltype === 'discovery') return ignore('discovery-controller', 'discovery controllers are not kept alive by timerd');
  if (!params) {
    return ignore(
      'no-subnqn',
      'the event has no SANHOOK_SUBNQN: udev never read the controller identified (a transient discovery controller of `nvme discover` is usually gone before), or it predates the sanhook rules',
    );
  }
  if (facts.tombstoned) return ignore('disconnected-by-admin', 'disconnected on purpose with sanhook disconnect');
  if (facts.owner) return ignore('owned-by-other', `${facts.device ?? 'the controller'} was owned by ${facts.owner} (nvme-cli's ownership registry): not sanhook's to bring back`);
  if (!facts.managed && !policy.reconnectUnmanaged) return ignore('not-managed', 'not connected by sanhook (set nvmf.lost.reconnect-unmanaged: true to adopt it)');
  return { hook: HOOK, key, trigger: facts.trigger, actions: [act.arm(armMessage(params, policy), { fields })] };
}

/** What the lost hook locks and observes: the path from the event (if it names one). */
export interface LostRequest {
  readonly params?: IoConnectParams;
  readonly cntrltype: string;
  readonly device?: string;
  readonly trigger: string;
  readonly seqnums?: RemoveSeqnums;
}

/** Observe, then decide (run under the path's lock when the event names a path). */
export async function planLost(context: NvmfContext, request: LostRequest): Promise<Plan> {
  const key = request.params ? ioKey(request.params) : undefined;
  const managed = key ? await readManaged(context.system, key) : undefined;
  const tombstoned = key ? await isDisconnected(context.system, key) : false;
  const entry = request.device ? await readEntry(context.system, request.device) : undefined;
  const owner = otherOwner(ownershipAtRemove(entry, request.seqnums?.add, request.seqnums?.remove));
  const { seqnums: _seqnums, ...facts } = request;
  return decideLost({ ...facts, ...(managed ? { managed } : {}), tombstoned, ...(owner ? { owner } : {}) }, nvmfSettings(context.config).lost);
}

/** The discovery address a discovery controller's remove event names, if its values are valid (else: ignored as before). */
function discoveryKeyOf(options: IoOptions): string | undefined {
  const { nqn: _nqn, hostnqn: _hostnqn, ...address } = options;
  try {
    return endpointKey(discoveryRequestFromOptions(address, 'manual').discovery);
  } catch (error) {
    if (error instanceof UsageError) return undefined;
    throw error;
  }
}

export interface LostOptions {
  readonly uevent: boolean;
  readonly device?: string;
  readonly options: IoOptions;
  readonly dryRun: boolean;
}

export async function runLost(system: System, config: Config, input: LostOptions, reporter: Reporter): Promise<void> {
  let lost: LostInput;
  if (input.uevent) {
    lost = classifyLostUevent(system.env);
  } else if (input.device) {
    const device = validate.device(input.device);
    const controller = await readController(system, device);
    if (!controller) throw new UsageError(`--device: ${device} does not exist (give the endpoint with -t/-a/-s/-n instead)`, '--device', device);
    lost = { kind: 'lost', device, cntrltype: controller.cntrltype, options: ioOptionsFromController(controller, true) };
  } else {
    lost = { kind: 'lost', cntrltype: 'io', options: input.options };
  }
  if (lost.kind === 'irrelevant') {
    system.log.debug({ hook: HOOK, outcome: 'irrelevant', why: lost.why }, 'event ignored');
    return;
  }
  const context = nvmfContext(system, config, reporter, input.dryRun);
  // A discovery controller: only the persistent one sanhook created is brought back, under its address's lock (discovery-lifecycle.ts).
  const discoveryKey = lost.cntrltype === 'discovery' ? discoveryKeyOf(lost.options) : undefined;
  if (discoveryKey) {
    const { runOnDiscovery } = await import('./discovery-rounds.js');
    const run = await runOnDiscovery(context, discoveryKey, 'lost', { ...(lost.device ? { device: lost.device } : {}), trigger: input.uevent ? 'uevent' : 'manual' });
    if (run.result && run.result.failures.length > 0) throw new ActionError(run.result.failures.join('; '), { failures: run.result.failures });
    return;
  }
  // Any other discovery controller is ignored whatever else its event says (do not fail on its values).
  const params = lost.cntrltype === 'discovery' || lost.options.nqn === undefined ? undefined : ioParamsFromOptions(lost.options);
  const request: LostRequest = {
    ...(params ? { params } : {}),
    cntrltype: lost.cntrltype,
    ...(lost.device ? { device: lost.device } : {}),
    trigger: input.uevent ? 'uevent' : 'manual',
    ...(lost.seqnums ? { seqnums: lost.seqnums } : {}),
  };
  const result = params ? (await runOnPath(context, ioKey(params), 'lost', request)).result : await executePlan(await planLost(context, request), context);
  if (result && result.failures.length > 0) throw new ActionError(result.failures.join('; '), { failures: result.failures });
}
