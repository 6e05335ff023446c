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
import { lostArmRequest, nvmfSettings, type NvmfSettings } from './settings.js';
import type { Config } from '../../core/config.js';
import { ActionError, UsageError } from '../../core/errors.js';
import { endpointKey } from './keys.js';
import { connectRequests, type ConnectOptions } from './connect.js';
import type { ConnectRequest } from './connect-request.js';
import { readHostIdentity } from './host-identity.js';
import { DISCONNECTED, isDisconnected } from './endpoint-state.js';
import { reportQueued, runLocked, type Planner } from '../../core/hook-runner.js';
import { act, type Action, type Plan } from '../../core/plan.js';
import { exitOf, nvmfContext, runByTimerd, triggerOf, type NvmfContext } from './context.js';
import { connectAllArgv, devlist, disconnectArgv, reconnectArgv, type DevlistController, type ReconnectAddress } from './nvmecontrol.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';
import * as validate from './validate.js';

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

export interface ControllerFacts {
  readonly request: ControllerRequest;
  /** What `nvmecontrol devlist` shows for the controller (absent: gone). */
  readonly observed: DevlistController | undefined;
  readonly tombstoned: boolean;
  readonly fromTimerd: boolean;
  readonly trigger: string;
}

/** Pure: what one reconnect attempt does, given what devlist shows for the controller. */
export function decideControllerReconnect(facts: ControllerFacts): Plan {
  const { device, address } = facts.request;
  const key = controllerKey(device);
  const settle = facts.fromTimerd ? [] : [act.disarm()];
  const plan = (...actions: Plan['actions']): Plan => ({ hook: 'reconnect', key, trigger: facts.trigger, actions });
  const done = (reason: string, detail: string) => plan(act.note(reason, detail, { fields: { device } }), ...settle);
  if (facts.tombstoned) return done('disconnected-by-admin', 'disconnected on purpose with sanhook disconnect; not reconnecting');
  if (!facts.observed) return done('gone', `${device} no longer exists (detached at ctrl-loss, or disconnected): nothing to reconnect`);
  if (facts.observed.association.state === 'connected') {
    const a = facts.observed.association;
    return done('connected', `${device} is connected (${a.transport} ${a.traddr}:${a.trsvcid})`);
  }
  // disconnected, or a devlist without association info: only the attempt can tell.
  return plan(
    act.run('reconnect', ['nvmecontrol', ...reconnectArgv(device, address)], 'reconnected', { interpret: 'nvmecontrol', failLevel: 'warn', fields: { device, address: address ?? null }, then: settle }),
  );
}

/** The timerd arm request for a controller whose kernel has no reconnect timers. */
export function controllerArmMessage(request: ControllerRequest, policy: NvmfSettings['lost']): Record<string, unknown> {
  return lostArmRequest(controllerOptions(request), policy);
}

/** Pure: arm timerd for a controller, unless it was disconnected on purpose. */
export function decideControllerLost(request: ControllerRequest, tombstoned: boolean, policy: NvmfSettings['lost']): Plan {
  const key = controllerKey(request.device);
  const fields = { device: request.device };
  return {
    hook: 'lost',
    key,
    trigger: 'manual',
    actions: [
      tombstoned
        ? act.note('ignored', 'not armed: disconnected on purpose with sanhook disconnect', { fields: { ...fields, reason: 'disconnected-by-admin' } })
        : act.arm(controllerArmMessage(request, policy), { fields }),
    ],
  };
}

/** Pure: the loss event detaches the controller, as the kernel does at ctrl-loss, unless it is gone or back. */
export function decideControllerGiveUp(device: string, observed: DevlistController | undefined, trigger: string): Plan {
  const key = controllerKey(device);
  const plan = (action: Action): Plan => ({ hook: 'give-up', key, trigger, actions: [action] });
  if (!observed) return plan(act.note('gone', `gave up reconnecting; ${device} is already gone`, { fields: { device } }));
  if (observed.association.state === 'connected') return plan(act.note('connected', `${device} is connected again; not detaching it`, { fields: { device } }));
  return plan(act.run('detach', ['nvmecontrol', ...disconnectArgv(device)], 'given-up', { interpret: 'nvmecontrol', fields: { device } }));
}

/** Pure: tombstone (durable) first, then disarm and detach. */
export function decideControllerDisconnect(device: string): Plan {
  return {
    hook: 'disconnect',
    key: controllerKey(device),
    trigger: 'manual',
    actions: [act.record(DISCONNECTED, {}, { then: [act.disarm(), act.run('disconnect', ['nvmecontrol', ...disconnectArgv(device)], 'disconnected', { interpret: 'nvmecontrol', fields: { device } })] })],
  };
}

interface ControllerRequests {
  reconnect: ControllerRequest;
  lost: ControllerRequest;
  'give-up': ControllerRequest;
  disconnect: ControllerRequest;
}

/** Every hook on a FreeBSD controller runs under the controller's lock (like paths.ts on Linux). */
function controllerPlanners(context: NvmfContext, trigger: string): Readonly<Record<keyof ControllerRequests, Planner<never>>> {
  const devlistOf = async (device: string) => (await devlist(context.system)).find((c) => c.name === device);
  const tombstoned = (device: string) => isDisconnected(context.system, controllerKey(device));
  const planners: { [V in keyof ControllerRequests]: Planner<ControllerRequests[V]> } = {
    reconnect: async (request) =>
      decideControllerReconnect({ request, observed: await devlistOf(request.device), tombstoned: await tombstoned(request.device), fromTimerd: runByTimerd(context.system), trigger }),
    lost: async (request) => decideControllerLost(request, await tombstoned(request.device), nvmfSettings(context.config).lost),
    'give-up': async (request) => decideControllerGiveUp(request.device, await devlistOf(request.device), trigger),
    disconnect: async (request) => decideControllerDisconnect(request.device),
  };
  return planners as Readonly<Record<keyof ControllerRequests, Planner<never>>>;
}

export interface ControllerHookInput {
  readonly request: ControllerRequest;
  readonly dryRun: boolean;
  /** Why this runs: `devd` (a RECONNECT notification), else manual or timer (from SANHOOK_TIMER_ID). */
  readonly trigger?: 'devd';
}

async function runOnController(system: System, config: Config, verb: keyof ControllerRequests, input: ControllerHookInput, reporter: Reporter): Promise<void> {
  const context = nvmfContext(system, config, reporter, input.dryRun);
  const key = controllerKey(input.request.device);
  const run = await runLocked(context, { key, verb, request: input.request, planners: controllerPlanners(context, triggerOf(system, input.trigger ?? 'manual')) });
  if (run.queued) reportQueued(context, verb, key, `another hook holds this controller; it runs this ${verb} next`);
  exitOf(system, key, verb, run, 'controller');
}

export const runControllerReconnect = (system: System, config: Config, input: ControllerHookInput, reporter: Reporter) => runOnController(system, config, 'reconnect', input, reporter);
export const runControllerLost = (system: System, config: Config, input: ControllerHookInput, reporter: Reporter) => runOnController(system, config, 'lost', input, reporter);
export const runControllerGiveUp = (system: System, config: Config, input: ControllerHookInput, reporter: Reporter) => runOnController(system, config, 'give-up', input, reporter);

/** `sanhook disconnect --device nvmeX` on FreeBSD: detach, disarm, and never reconnect it. */
export async function runControllerDisconnect(system: System, config: Config, device: string, dryRun: boolean, reporter: Reporter): Promise<void> {
  await runOnController(system, config, 'disconnect', { request: { device: validate.device(device) }, dryRun }, reporter);
}

/**
 * Pure: `sanhook connect` on FreeBSD. nvmecontrol discovers and connects in
 * one command (`connect-all`); sanhook adds the lock per discovery address
 * and the report, as on Linux.
 */
export function decideFreebsdConnect(request: ConnectRequest, hostnqn: string | undefined): Plan {
  const key = endpointKey(request.discovery);
  return {
    hook: 'connect',
    key,
    trigger: request.trigger,
    actions: [act.run('connect', ['nvmecontrol', ...connectAllArgv(request.discovery, hostnqn)], 'connected', { interpret: 'nvmecontrol' })],
  };
}

/** `sanhook connect` on FreeBSD: the same requests as on Linux (options, or --all from discovery.conf), run with nvmecontrol. */
export async function runFreebsdConnect(system: System, config: Config, options: ConnectOptions, reporter: Reporter): Promise<void> {
  if (options.uevent) throw new UsageError('--uevent: there are no udev events on FreeBSD (devd runs `sanhook devd`)', '--uevent');
  const context = nvmfContext(system, config, reporter, options.dryRun);
  const failures: string[] = [];
  for (const request of await connectRequests(system, options, reporter)) {
    const key = endpointKey(request.discovery);
    const planner = async (latest: ConnectRequest) => decideFreebsdConnect(latest, latest.hostnqn ?? (await readHostIdentity(system)).hostnqn);
    const run = await runLocked(context, { key, verb: 'connect', request, planners: { connect: planner } });
    if (run.queued) reportQueued(context, 'connect', key, 'another sanhook connect holds this address; it runs this event next');
    failures.push(...(run.result?.failures ?? []));
  }
  if (failures.length > 0) throw new ActionError(`${failures.length} action(s) failed: ${failures.join('; ')}`, { failures });
}
