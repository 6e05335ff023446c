/**
 * FreeBSD: a disconnected NVMe-oF controller (nvmeX) brought back, on the
 * kernel's RECONNECT notification or on timerd's schedule.
 *
 * FreeBSD keeps a controller whose association dropped (its namespaces stay,
 * I/O waits) and, on kernels with reconnect timers, notifies devd every
 * reconnect-delay seconds until it is reconnected or ctrl-loss-tmo detaches
 * it. So the controller is the key (`nvmf-ctrl:nvmeX`), and:
 *   reconnect --device nvmeX [-a -s -q -r -l]   one attempt: validate → key →
 *       lock (a notification arriving meanwhile is queued; never two
 *       `nvmecontrol reconnect` at once) → observe (`nvmecontrol devlist`)
 *       → decideControllerReconnect() → `nvmecontrol reconnect nvmeX
 *       [addr:port]`. Exit 0 when the controller is connected (or gone, or
 *       disconnected on purpose), 1 when not yet.
 *   lost --device nvmeX [-a -s -q]   for kernels without reconnect timers,
 *       which tell devd nothing on disconnect: arm timerd so it runs the
 *       reconnect above every reconnect-delay seconds and `give-up` at
 *       ctrl-loss. Those kernels do not keep the address, so it is given.
 *   give-up --device nvmeX   detach the controller, as the kernel does at
 *       ctrl-loss (`nvmecontrol disconnect nvmeX`).
 */
import { nvmfSettings, type NvmfSettings } from './settings.js';
import type { Config } from '../../core/config.js';
import { ActionError, UsageError } from '../../core/errors.js';
import { endpointKey } from './keys.js';
import { isDisconnected, markDisconnected } from './endpoint-state.js';
import { fabricsToolFor, type ReconnectAddress } from './fabrics-tool.js';
import { devlist, reconnectArgv, type DevlistController } from './nvmecontrol.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';
import * as validate from './validate.js';
import { attemptUnderLock, disarmQuietly, type AttemptOutcome } from './reconnect.js';

/** Options of the controller form, in nvme-cli/nvmecontrol names (the address options only for kernels that need them). */
export const CONTROLLER_OPTIONS = ['device', 'traddr', 'trsvcid', 'hostnqn', 'reconnect-delay', 'ctrl-loss-tmo'] as const;
export type ControllerOptions = Partial<Record<(typeof CONTROLLER_OPTIONS)[number], string>>;

export interface ControllerRequest {
  readonly device: string;
  readonly address?: ReconnectAddress;
}

export function controllerKey(device: string): string {
  return endpointKey({ kind: 'nvmf-ctrl', device });
}

/** Validates the controller form once, up front; `prefix` names options as the caller spells them. */
export function controllerRequest(options: Readonly<Record<string, string | undefined>>, prefix = '--'): ControllerRequest {
  for (const name of Object.keys(options)) {
    if (options[name] !== undefined && !(CONTROLLER_OPTIONS as readonly string[]).includes(name)) {
      throw new UsageError(`${prefix}${name}: not used with --device on FreeBSD (the kernel keeps the controller's parameters)`, `${prefix}${name}`);
    }
  }
  if (options.device === undefined) throw new UsageError(`${prefix}device is required`, `${prefix}device`);
  const device = validate.device(options.device, `${prefix}device`);
  const { traddr, trsvcid, hostnqn } = options;
  const given = [traddr, trsvcid, hostnqn, options['reconnect-delay'], options['ctrl-loss-tmo']].some((v) => v !== undefined);
  if (!given) return { device };
  if (traddr === undefined || trsvcid === undefined) {
    throw new UsageError(`${prefix}traddr and ${prefix}trsvcid go together: an address-form reconnect needs both (nvmecontrol: "Explicit port required")`, `${prefix}${traddr === undefined ? 'traddr' : 'trsvcid'}`);
  }
  return {
    device,
    address: {
      traddr: validate.transportAddress(traddr, 'tcp', `${prefix}traddr`),
      trsvcid: validate.port(trsvcid, `${prefix}trsvcid`),
      ...(hostnqn !== undefined ? { hostnqn: validate.nqn(hostnqn, `${prefix}hostnqn`) } : {}),
      ...(options['reconnect-delay'] !== undefined ? { reconnectDelay: validate.reconnectDelay(options['reconnect-delay'], `${prefix}reconnect-delay`) } : {}),
      ...(options['ctrl-loss-tmo'] !== undefined ? { ctrlLossTmo: validate.ctrlLossTmo(options['ctrl-loss-tmo'], `${prefix}ctrl-loss-tmo`) } : {}),
    },
  };
}

/** The inverse of controllerRequest(): plain option strings for a timer entry. */
export function controllerOptions(request: ControllerRequest): Record<string, string> {
  const a = request.address;
  return {
    device: request.device,
    ...(a ? { traddr: a.traddr, trsvcid: a.trsvcid } : {}),
    ...(a?.hostnqn ? { hostnqn: a.hostnqn } : {}),
    ...(a?.reconnectDelay !== undefined ? { 'reconnect-delay': String(a.reconnectDelay) } : {}),
    ...(a?.ctrlLossTmo !== undefined ? { 'ctrl-loss-tmo': String(a.ctrlLossTmo) } : {}),
  };
}

export type ControllerDecision =
  | { readonly action: 'reconnect' }
  | { readonly action: 'done'; readonly reason: 'connected' | 'gone' | 'disconnected-by-admin'; readonly detail: string };

/** Pure: what one attempt does, given what devlist shows for the controller. */
export function decideControllerReconnect(device: string, observed: DevlistController | undefined, tombstoned: boolean): ControllerDecision {
  if (tombstoned) return { action: 'done', reason: 'disconnected-by-admin', detail: 'disconnected on purpose with sanhook disconnect; not reconnecting' };
  if (!observed) return { action: 'done', reason: 'gone', detail: `${device} no longer exists (detached at ctrl-loss, or disconnected): nothing to reconnect` };
  if (observed.association.state === 'connected') {
    const a = observed.association;
    return { action: 'done', reason: 'connected', detail: `${device} is connected (${a.transport} ${a.traddr}:${a.trsvcid})` };
  }
  // disconnected, or a devlist without association info: only the attempt can tell.
  return { action: 'reconnect' };
}

export interface ControllerHookInput {
  readonly request: ControllerRequest;
  readonly dryRun: boolean;
  /** Why this runs: `devd` (a RECONNECT notification), else manual or timer (from SANHOOK_TIMER_ID). */
  readonly trigger?: 'devd';
}

export async function runControllerReconnect(system: System, config: Config, input: ControllerHookInput, reporter: Reporter): Promise<void> {
  const { device } = input.request;
  const key = controllerKey(device);
  const trigger = system.env.SANHOOK_TIMER_ID !== undefined ? 'timer' : (input.trigger ?? 'manual');
  const tool = fabricsToolFor('freebsd');
  const attempt = async (request: ControllerRequest): Promise<AttemptOutcome> => {
    const started = system.clock.now();
    const observed = (await devlist(system)).find((c) => c.name === device);
    const decision = decideControllerReconnect(device, observed, await isDisconnected(system, key));
    const base = { hook: 'reconnect', key, device, trigger };
    if (decision.action === 'done') {
      system.log.info({ ...base, outcome: decision.reason, duration_ms: system.clock.now() - started }, 'reconnect decision');
      reporter.item({ ...base, outcome: decision.reason, text: `${key}: ${decision.detail}` });
      return { settled: true };
    }
    if (input.dryRun) {
      const argv = ['nvmecontrol', ...reconnectArgv(device, request.address)];
      reporter.item({ ...base, outcome: 'would-reconnect', address: request.address ?? null, text: `${key}: would run ${argv.join(' ')}` });
      return { settled: false };
    }
    const result = await tool.reconnect!(system, device, request.address);
    const duration = system.clock.now() - started;
    if (!result.ok) {
      system.log.warn({ ...base, outcome: 'failed', exit_code: result.exitCode, err: result.message, duration_ms: duration }, 'reconnect attempt failed');
      reporter.item({ ...base, outcome: 'failed', exitCode: result.exitCode, text: `${key}: nvmecontrol reconnect failed (exit ${result.exitCode}): ${result.message}` });
      return { settled: false, failure: new ActionError(`${key}: nvmecontrol reconnect failed: ${result.message}`, { key, exitCode: result.exitCode }) };
    }
    system.log.info({ ...base, outcome: 'reconnected', duration_ms: duration }, 'reconnected');
    reporter.item({ ...base, outcome: 'reconnected', text: `${key}: reconnected` });
    return { settled: true };
  };
  await attemptUnderLock(system, key, input.request, attempt, { dryRun: input.dryRun, staleMs: config.lockStaleMs });
}

/** The timerd arm request for a controller whose kernel has no reconnect timers. */
export function controllerArmMessage(request: ControllerRequest, policy: NvmfSettings['lost']): Record<string, unknown> {
  return {
    op: 'arm',
    hook: 'reconnect',
    lossHook: 'give-up',
    params: controllerOptions(request),
    delay: policy.reconnectDelay,
    growth: policy.growth,
    lossSeconds: policy.ctrlLossTmo <= 0 ? -1 : policy.ctrlLossTmo,
    lossAttempts: policy.maxAttempts,
  };
}

export async function runControllerLost(system: System, config: Config, input: ControllerHookInput, reporter: Reporter): Promise<void> {
  const key = controllerKey(input.request.device);
  const policy = nvmfSettings(config).lost;
  const base = { hook: 'lost', key, device: input.request.device, trigger: 'manual' };
  if (await isDisconnected(system, key)) {
    reporter.item({ ...base, outcome: 'ignored', reason: 'disconnected-by-admin', text: `${key}: not armed: disconnected on purpose with sanhook disconnect` });
    return;
  }
  const message = controllerArmMessage(input.request, policy);
  if (input.dryRun) {
    reporter.item({ ...base, outcome: 'would-arm', request: message, text: `${key}: would arm timerd: ${JSON.stringify(message)}` });
    return;
  }
  const reply = await system.timerd.request(message);
  if (!reply.ok) throw new ActionError(`timerd refused the arm: ${reply.error?.message ?? 'no reason given'}`);
  const next = reply.next as { event: string; at: string } | null;
  system.log.info({ ...base, outcome: 'armed', id: reply.id, next, loss_at: reply.lossAt }, 'lost controller armed');
  reporter.item({ ...base, outcome: 'armed', id: reply.id, text: `${key}: timerd armed (next ${next ? `${next.event} at ${next.at}` : 'none'}, give up ${reply.lossAt ?? 'never'})` });
}

export async function runControllerGiveUp(system: System, input: ControllerHookInput, reporter: Reporter): Promise<void> {
  const { device } = input.request;
  const key = controllerKey(device);
  const base = { hook: 'give-up', key, device };
  if (input.dryRun) {
    reporter.item({ ...base, outcome: 'would-detach', text: `${key}: would run nvmecontrol disconnect ${device}` });
    return;
  }
  const observed = (await devlist(system)).find((c) => c.name === device);
  if (!observed) {
    reporter.item({ ...base, outcome: 'gone', text: `${key}: gave up reconnecting; ${device} is already gone` });
    return;
  }
  if (observed.association.state === 'connected') {
    reporter.item({ ...base, outcome: 'connected', text: `${key}: ${device} is connected again; not detaching it` });
    return;
  }
  const result = await fabricsToolFor('freebsd').disconnect(system, device);
  if (!result.ok) throw new ActionError(`${key}: gave up, but nvmecontrol disconnect failed: ${result.message}`, { key, exitCode: result.exitCode });
  system.log.warn({ ...base, outcome: 'given-up' }, 'gave up reconnecting; controller detached');
  reporter.item({ ...base, outcome: 'given-up', text: `${key}: gave up reconnecting at ctrl-loss; ${device} detached (nvmecontrol disconnect)` });
}

/** `sanhook disconnect --device nvmeX` on FreeBSD: detach, disarm, and never reconnect it. */
export async function runControllerDisconnect(system: System, device: string, dryRun: boolean, reporter: Reporter): Promise<void> {
  const key = controllerKey(validate.device(device));
  const base = { hook: 'disconnect', key, device };
  if (dryRun) {
    reporter.item({ ...base, outcome: 'would-disconnect', text: `${key}: would mark disconnected, disarm, run nvmecontrol disconnect ${device}` });
    return;
  }
  await markDisconnected(system, key);
  const disarmed = await disarmQuietly(system, key);
  const result = await fabricsToolFor('freebsd').disconnect(system, device);
  if (!result.ok) throw new ActionError(`nvmecontrol disconnect failed: ${result.message}`, { key, exitCode: result.exitCode });
  system.log.info({ ...base, outcome: 'disconnected', disarmed }, 'disconnect');
  reporter.item({ ...base, outcome: 'disconnected', disarmed, text: `${key}: disconnected (${device})${disarmed ? '; timer disarmed' : ''}; will not be reconnected` });
}

