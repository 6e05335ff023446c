/**
 * `sanhook lost`: an NVMe-oF I/O controller is gone (udev remove, after the
 * kernel's ctrl_loss_tmo expired or a disconnect). Decide whether it should
 * come back and, if so, arm timerd with its full identity.
 *
 * Contract: the remove uevent carries the transport address but not the
 * subsystem NQN; the shipped rules store SANHOOK_SUBNQN / SANHOOK_CNTRLTYPE /
 * SANHOOK_HOSTNQN in the udev database on add/change, and udev hands them
 * back on remove. `decideLost()` is pure: it arms only for I/O controllers
 * sanhook manages (or all, with nvmf.lost.reconnect-unmanaged) and never for
 * one disconnected on purpose.
 */
import { nvmfSettings, type LostPolicy, type NvmfSettings } from './settings.js';
import type { Config } from '../../core/config.js';
import { ActionError, UsageError } from '../../core/errors.js';
import type { IoConnectParams } from './connect-decide.js';
import { isDisconnected, readManaged } from './endpoint-state.js';
import { ioKey, ioOptionsFromController, ioParamsFromOptions, ioParamsToOptions, type IoOptions } from './io-request.js';
import { readController } from './sysfs.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';
import * as validate from './validate.js';

const HOOK = 'lost';

export type LostInput =
  | { readonly kind: 'irrelevant'; readonly why: string }
  | { readonly kind: 'lost'; readonly device?: string; readonly cntrltype: string; readonly options: IoOptions };

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
  return { kind: 'lost', ...(device ? { device } : {}), cntrltype: env.SANHOOK_CNTRLTYPE ?? '', options };
}

export type LostDecision =
  | { readonly action: 'arm'; readonly params: IoConnectParams; readonly message: Record<string, unknown> }
  | { readonly action: 'ignore'; readonly reason: 'discovery-controller' | 'no-subnqn' | 'not-managed' | 'disconnected-by-admin'; readonly detail: string };

export interface LostObservation {
  /** From the event: what the kernel said (no timers, maybe no hostnqn). */
  readonly params?: IoConnectParams;
  readonly cntrltype: string;
  /** sanhook's record for this endpoint, with the parameters it connected with. */
  readonly managed?: IoConnectParams;
  readonly tombstoned: boolean;
}

/** The timerd arm request for a lost endpoint. */
export function armMessage(params: IoConnectParams, policy: LostPolicy): Record<string, unknown> {
  return {
    op: 'arm',
    hook: 'reconnect',
    lossHook: 'give-up',
    params: ioParamsToOptions(params),
    delay: policy.reconnectDelay,
    growth: policy.growth,
    // timerd: 0 and -1 both mean "never by time"; FreeBSD's "0 disables" reads the same.
    lossSeconds: policy.ctrlLossTmo <= 0 ? -1 : policy.ctrlLossTmo,
    lossAttempts: policy.maxAttempts,
  };
}

export function decideLost(observation: LostObservation, policy: LostPolicy): LostDecision {
  if (observation.cntrltype === 'discovery') return { action: 'ignore', reason: 'discovery-controller', detail: 'discovery controllers are not kept alive by timerd' };
  const params = observation.managed ?? observation.params;
  if (!params) {
    return {
      action: 'ignore',
      reason: 'no-subnqn',
      detail: 'the event has no SANHOOK_SUBNQN: udev never read the controller identified (a transient discovery controller of `nvme discover` is usually gone before), or it predates the sanhook rules',
    };
  }
  if (observation.tombstoned) return { action: 'ignore', reason: 'disconnected-by-admin', detail: 'disconnected on purpose with sanhook disconnect' };
  if (!observation.managed && !policy.reconnectUnmanaged) {
    return { action: 'ignore', reason: 'not-managed', detail: 'not connected by sanhook (set nvmf.lost.reconnect-unmanaged: true to adopt it)' };
  }
  return { action: 'arm', params, message: armMessage(params, policy) };
}

export interface LostOptions {
  readonly uevent: boolean;
  readonly device?: string;
  readonly options: IoOptions;
  readonly dryRun: boolean;
}

export async function runLost(system: System, config: Config, input: LostOptions, reporter: Reporter): Promise<void> {
  const started = system.clock.now();
  let lost: LostInput;
  if (input.uevent) {
    lost = classifyLostUevent(system.env);
  } else if (input.device) {
    const device = validate.device(input.device);
    const controller = await readController(system, device);
    if (!controller) throw new UsageError(`--device: ${device} does not exist (give the endpoint with -t/-a/-s/-n instead)`, '--device', device);
    lost = {
      kind: 'lost',
      device,
      cntrltype: controller.cntrltype,
      options: ioOptionsFromController(controller, true),
    };
  } else {
    lost = { kind: 'lost', cntrltype: 'io', options: input.options };
  }
  if (lost.kind === 'irrelevant') {
    system.log.debug({ hook: HOOK, outcome: 'irrelevant', why: lost.why }, 'event ignored');
    return;
  }
  // A discovery controller is ignored whatever else its event says (do not fail on its values).
  const params = lost.cntrltype === 'discovery' || lost.options.nqn === undefined ? undefined : ioParamsFromOptions(lost.options);
  const key = params ? ioKey(params) : undefined;
  const managed = key ? await readManaged(system, key) : undefined;
  const tombstoned = key ? await isDisconnected(system, key) : false;
  const decision = decideLost({ ...(params ? { params } : {}), cntrltype: lost.cntrltype, ...(managed ? { managed } : {}), tombstoned }, nvmfSettings(config).lost);
  const base = { hook: HOOK, key: key ?? '(unknown)', trigger: input.uevent ? 'uevent' : 'manual', device: lost.device ?? null };
  if (decision.action === 'ignore') {
    system.log.info({ ...base, outcome: 'ignored', reason: decision.reason, duration_ms: system.clock.now() - started }, 'lost controller not armed');
    reporter.item({ ...base, outcome: 'ignored', reason: decision.reason, text: `${base.key}: not armed: ${decision.reason}: ${decision.detail}` });
    return;
  }
  if (input.dryRun) {
    reporter.item({ ...base, outcome: 'would-arm', request: decision.message, text: `${base.key}: would arm timerd: ${JSON.stringify(decision.message)}` });
    return;
  }
  const reply = await system.timerd.request(decision.message);
  if (!reply.ok) throw new ActionError(`timerd refused the arm: ${reply.error?.message ?? 'no reason given'}`);
  const next = reply.next as { event: string; at: string } | null;
  system.log.info({ ...base, outcome: 'armed', id: reply.id, next, loss_at: reply.lossAt, duration_ms: system.clock.now() - started }, 'lost controller armed');
  reporter.item({ ...base, outcome: 'armed', id: reply.id, text: `${base.key}: timerd armed (next ${next ? `${next.event} at ${next.at}` : 'none'}, give up ${reply.lossAt ?? 'never'})` });
}
