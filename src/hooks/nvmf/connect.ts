/**
 * `sanhook connect`: NVMe-oF discovery + connect-all for one discovery address
 * (or every address in /etc/nvme/discovery.conf with --all).
 *
 * Contract (DESIGN §3): validate → key (the discovery address) → lock with
 * coalescing → observe (discovery log, /sys/class/nvme) → decideConnect()
 * (pure) → act (`nvme connect` per record) → one log line per decision and one
 * report item per record. Under udev (`--uevent`) with systemd it records the
 * event and hands the work to a transient unit instead (udev(7): no network
 * in RUN). `--dry-run` observes and prints the plan, touching nothing.
 */
import { nvmfSettings, type NvmfSettings } from './settings.js';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../core/config.js';
import { ActionError, ConfigError, EnvironmentError, UsageError } from '../../core/errors.js';
import { endpointKey, NONE, type NvmfDiscoveryEndpoint } from './keys.js';
import { writePending } from '../../core/lock.js';
import { selfArgv } from '../../core/self-argv.js';
import { reportQueued, type ObserveMode } from '../../core/hook-runner.js';
import { act, type Action, type Plan } from '../../core/plan.js';
import { nvmfContext, type NvmfContext } from './context.js';
import {
  chooseDiscoveryController,
  decideConnect,
  discoveryControllersAt,
  persistentDiscoveryControllers,
  type ConnectPlan as ConnectVerdicts,
  type DiscoveryControllerChoice,
} from './connect-decide.js';
import { DISCONNECTED, DISCOVERY, discoveryRecord, isDisconnected, listDisconnected } from './endpoint-state.js';
import { runOnDiscovery } from './discovery-rounds.js';
import type { AttachRequest } from './attach.js';
import { ioKey } from './io-request.js';
import {
  classifyUevent,
  discoveryOptions,
  parseDiscoveryConf,
  requestFromOptions,
  requestToArgv,
  type ConnectRequest,
  type RawOptions,
  type Trigger,
} from './connect-request.js';
import { readHostIdentity } from './host-identity.js';
import * as nvmeCli from './nvme-cli.js';
import { claimDiscoveryControllers, otherOwner, ownedByOther, readOwnerships, SANHOOK_OWNER, type Ownership } from './registry.js';
import { readController, readControllers } from './sysfs.js';
import type { Reporter } from '../../core/report.js';
import { systemdBooted, type System } from '../../core/system.js';

export interface ConnectOptions {
  readonly raw: RawOptions;
  readonly all: boolean;
  readonly uevent: boolean;
  readonly dryRun: boolean;
  readonly trigger?: Trigger;
}

const HOOK = 'connect';

/** The requests this invocation stands for; empty means "nothing to do". */
export async function connectRequests(system: System, options: ConnectOptions, reporter: Reporter): Promise<ConnectRequest[]> {
  if (options.all) {
    const file = path.join(system.paths.etc, 'nvme', 'discovery.conf');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(file, undefined, undefined, `cannot read: ${(error as Error).message}`);
      reporter.item({ hook: HOOK, outcome: 'nothing-to-do', text: `${file} does not exist: no discovery controllers configured` });
      return [];
    }
    const lines = parseDiscoveryConf(file, text);
    if (lines.length === 0) reporter.item({ hook: HOOK, outcome: 'nothing-to-do', text: `${file} lists no discovery controllers` });
    return lines.map((l) => l.request);
  }
  let raw = options.raw;
  let trigger: Trigger = options.trigger ?? 'manual';
  if (options.uevent) {
    const input = classifyUevent(system.env);
    if (input.kind === 'irrelevant') {
      system.log.debug({ hook: HOOK, outcome: 'irrelevant', why: input.why }, 'event ignored');
      return [];
    }
    raw = input.raw;
    trigger = input.trigger;
  }
  const request = requestFromOptions(raw, trigger);
  if (!('needsDevice' in request)) return [request];
  const discovery = await discoveryFromDevice(system, request.needsDevice);
  if (!discovery) {
    reporter.item({ hook: HOOK, outcome: 'nothing-to-do', device: request.needsDevice, text: `${request.needsDevice} is gone; nothing to re-read` });
    return [];
  }
  return [{ ...request.partial, discovery }];
}

/** Completes a `--device nvmeX` request from the controller's sysfs attributes. */
async function discoveryFromDevice(system: System, device: string): Promise<NvmfDiscoveryEndpoint | undefined> {
  const controller = await readController(system, device);
  if (!controller) return undefined;
  if (controller.cntrltype !== '' && controller.cntrltype !== 'discovery') {
    throw new UsageError(`--device: ${device} is an ${controller.cntrltype} controller, not a discovery controller`, '--device', device);
  }
  const raw: RawOptions = {
    transport: controller.transport,
    ...(controller.traddr ? { traddr: controller.traddr } : {}),
    trsvcid: controller.trsvcid,
    'host-traddr': controller.hostTraddr,
    'host-iface': controller.hostIface,
  };
  const request = requestFromOptions(raw, 'manual');
  if ('needsDevice' in request) throw new UsageError(`--device: ${device} has no transport in sysfs`, '--device', device);
  return request.discovery;
}

/** Under udev, network work goes to a transient unit when systemd runs the host. */
async function shouldHandOff(system: System, config: Config, options: ConnectOptions): Promise<boolean> {
  if (!options.uevent || options.dryRun) return false;
  switch (nvmfSettings(config).udevHandoff) {
    case 'inline':
      return false;
    case 'systemd-run':
      return true;
    case 'auto':
      // INVOCATION_ID: systemd sets it in every unit it runs, and udev's RUN
      // programs never get it (their environment is the event's): the rules
      // already handed this event to a transient unit, so work inline here.
      return !system.env.INVOCATION_ID && (await systemdBooted(system));
  }
}

export function transientUnitName(key: string, system: System): string {
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 12);
  const seq = system.env.SEQNUM && /^[0-9]{1,20}$/.test(system.env.SEQNUM) ? system.env.SEQNUM : `${process.pid}`;
  return `sanhook-connect-${hash}-${seq}`;
}

export function handOffArgv(system: System, key: string, request: ConnectRequest): string[] {
  return [
    '--no-block',
    '--collect',
    '--quiet',
    '--unit',
    transientUnitName(key, system),
    '--description',
    `sanhook connect ${key}`,
    '--',
    // the unit's stderr is its own (the journal): a --log-format the admin chose carries on
    ...selfArgv(system, { stderr: 'own' }),
    'connect',
    ...requestToArgv(request),
  ];
}

export async function runConnect(system: System, config: Config, options: ConnectOptions, reporter: Reporter): Promise<void> {
  const requests = await connectRequests(system, options, reporter);
  const context = nvmfContext(system, config, reporter, options.dryRun);
  const failures: string[] = [];
  for (const request of requests) {
    const key = endpointKey(request.discovery);
    if (await shouldHandOff(system, config, options)) {
      await writePending(system, key, HOOK, request);
      const argv = handOffArgv(system, key, request);
      const result = await system.exec('systemd-run', argv);
      if (result.exitCode !== 0) {
        throw new ActionError(`systemd-run failed (exit ${result.exitCode}): ${nvmeCli.firstLine(result.stderr)}`, { key, argv: result.argv });
      }
      system.log.info({ hook: HOOK, key, trigger: request.trigger, outcome: 'handed-off', unit: argv[4] }, 'handed to a transient unit');
      reporter.item({ hook: HOOK, key, outcome: 'handed-off', unit: argv[4], text: `${key}: running in transient unit ${argv[4]}` });
      continue;
    }
    const started = system.clock.now();
    const run = await runOnDiscovery(context, key, HOOK, request, '');
    failures.push(...(run.result?.failures ?? []));
    if (run.queued) {
      reportQueued(context, HOOK, key, 'another sanhook connect holds this address; it will re-run discovery for this event', {
        trigger: request.trigger,
        reason: run.coalesce?.kind === 'handed-over' ? run.coalesce.reason : 'taken-by-holder',
        duration_ms: system.clock.now() - started,
      });
    }
  }
  if (failures.length > 0) throw new ActionError(`${failures.length} action(s) failed: ${failures.join('; ')}`, { failures });
}

/**
 * Observe one discovery address, then decide: one discovery round. The
 * discovery controller it reads through is chosen by
 * chooseDiscoveryController() (at most one persistent one per address);
 * reading the log is observation; on a real run it first re-arms the
 * discovery AEN of the persistent controller it reads through (a read of the
 * log header, see nvme-cli.ts) and, when it creates one, records it as
 * sanhook's; a dry run does neither. Run under the address's lock
 * (discovery-rounds.ts).
 */
export async function planConnect(context: NvmfContext, key: string, request: ConnectRequest, mode: ObserveMode): Promise<Plan> {
  const { system } = context;
  context.roundsRun.add(key);
  const settings = nvmfSettings(context.config);
  const tombstoned = await isDisconnected(system, key);
  if (tombstoned && request.trigger !== 'manual') {
    const text = 'this discovery address was disconnected on purpose (sanhook disconnect --discovery); sanhook connect for it brings it back';
    return { hook: HOOK, key, trigger: request.trigger, actions: [act.note('disconnected-by-admin', text, { fields: { reason: 'disconnected-by-admin' } })] };
  }
  const identity = await readHostIdentity(system);
  const hostnqn = request.hostnqn ?? identity.hostnqn;
  const hostid = request.hostid ?? identity.hostid;
  // A device named by an event may be gone by now: then ask the address directly.
  const eventDevice = request.device && (await readController(system, request.device)) ? request.device : undefined;
  if (eventDevice) {
    const owned = throughOthersDiscoveryController(key, request, eventDevice, (await readOwnerships(system, [eventDevice])).get(eventDevice));
    if (owned) return owned;
  }
  const before = await readControllers(system);
  const atAddress = discoveryControllersAt(before, request.discovery);
  const ownerships = await readOwnerships(system, atAddress.map((c) => c.name));
  const ownedByOthers = new Set(atAddress.filter((c) => otherOwner(ownerships.get(c.name))).map((c) => c.name));
  const choice = chooseDiscoveryController({
    endpoint: request.discovery,
    ...(eventDevice ? { eventDevice } : {}),
    controllers: before,
    ownedByOther: ownedByOthers,
    persistent: request.persistent || settings.persistent,
    readOnly: mode.readOnly,
  });
  const reconnectDelay = request.reconnectDelay ?? settings.reconnectDelay;
  const ctrlLossTmo = request.ctrlLossTmo ?? settings.ctrlLossTmo;
  // The persistent discovery controller this round creates is sanhook's (docs/registry.md):
  // `--owner sanhook` where `nvme discover` has it, else claimed below once sysfs names it.
  const owning = choice.via === 'create' ? await context.nvmeCli('discover') : undefined;
  if (choice.via === 'device' && !mode.readOnly && !(await nvmeCli.rearmDiscoveryAen(system, choice.device))) {
    system.log.warn({ hook: HOOK, key, device: choice.device }, 'could not re-enable discovery AENs');
  }
  const started = system.clock.now();
  let log;
  try {
    log = await nvmeCli.discover(system, request.discovery, {
      ...(choice.via === 'device' ? { device: choice.device } : {}),
      ...(hostnqn ? { hostnqn } : {}),
      ...(hostid ? { hostid } : {}),
      persistent: choice.via === 'create',
      ...(owning?.registry ? { owner: SANHOOK_OWNER } : {}),
      ...optionalNumber('reconnectDelay', reconnectDelay),
      ...optionalNumber('ctrlLossTmo', ctrlLossTmo),
    });
  } catch (error) {
    if (!(error instanceof ActionError)) throw error;
    return {
      hook: HOOK,
      key,
      trigger: request.trigger,
      actions: [act.note('failed', error.message, { level: 'error', fails: true, failure: 'discovery failed', fields: { reason: 'discovery-failed', duration_ms: system.clock.now() - started } })],
    };
  }
  const controllers = await readControllers(system);
  const created = choice.via === 'create' ? persistentDiscoveryControllers(controllers, request.discovery, undefined).filter((c) => !atAddress.some((a) => a.name === c)) : [];
  const verdicts = decideConnect(
    { log, controllers, disconnected: await listDisconnected(system), roundsRun: context.roundsRun, ...(hostnqn ? { hostnqn } : {}), ...(hostid ? { hostid } : {}) },
    request,
    { exclude: settings.exclude, referrals: settings.referrals, ...optionalNumber('reconnectDelay', settings.reconnectDelay), ...optionalNumber('ctrlLossTmo', settings.ctrlLossTmo) },
  );
  const kept: ConnectRequest = { ...request, ...(hostnqn ? { hostnqn } : {}), ...(hostid ? { hostid } : {}), ...optionalNumber('reconnectDelay', reconnectDelay), ...optionalNumber('ctrlLossTmo', ctrlLossTmo) };
  const first = [
    // a manual round reopens an address disconnected on purpose
    ...(tombstoned ? [act.forget(DISCONNECTED)] : []),
    ...claimDiscoveryControllers(created, owning?.registry ?? false),
    ...(created[0] ? [act.record(DISCOVERY, discoveryRecord(discoveryOptions(kept), created[0]), { subject: `persistent discovery controller ${created[0]}`, fields: { device: created[0], cntrltype: 'discovery' } })] : []),
  ];
  return connectPlan(key, request, verdicts, first, choice);
}

/**
 * Pure: the plan of one discovery round from decideConnect()'s verdict per
 * record. A record to connect, or one a controller already serves (adopted
 * as managed, so it is brought back if it is lost), becomes a `locked`
 * action: the path's own round (attach.ts) decides again under the path's
 * lock. The other skips are reported here. `claims` record sanhook's
 * ownership of the persistent discovery controller the round created.
 */
export function connectPlan(key: string, request: ConnectRequest, verdicts: ConnectVerdicts, claims: readonly Action[] = [], choice?: DiscoveryControllerChoice): Plan {
  // The discovery controller's record first: it exists before any of its paths is connected.
  const actions: Action[] = [...claims];
  if (verdicts.decisions.length === 0) actions.push(act.note('nothing-to-do', 'the discovery log is empty'));
  for (const decision of verdicts.decisions) {
    const { record } = decision;
    const subject = `${record.subnqn} at ${record.trtype} ${record.traddr}:${record.trsvcid}`;
    const fields = { subnqn: record.subnqn, traddr: record.traddr, trsvcid: record.trsvcid };
    if (decision.action === 'follow') {
      // a referral: the referred address's own round, under its lock (a round running there takes it instead)
      actions.push(act.locked(decision.key, HOOK, decision.request, { subject: `referral to ${decision.key}`, fields: { ...fields, referral: decision.key } }));
      continue;
    }
    const { params } = decision;
    if (!params) {
      // only a skip has no path: the others are reported here
      if (decision.action === 'skip') actions.push(act.note('skipped', `${decision.reason}: ${decision.detail}`, { subject, fields: { ...fields, reason: decision.reason } }));
      continue;
    }
    const attach: AttachRequest = { params, explicit: request.nqn === record.subnqn, subject, fields, trigger: request.trigger, roundKey: key };
    actions.push(act.locked(ioKey(params), 'attach', attach, { subject, fields }));
  }
  const through = choice ? { discovery_controller: choice.via === 'device' ? `${choice.device} (${choice.reason})` : choice.via === 'create' ? 'created' : `transient (${choice.reason})` } : {};
  return { hook: HOOK, key, trigger: request.trigger, actions, summary: { message: 'discovery round finished', fields: { genctr: verdicts.genctr, records: verdicts.decisions.length, ...through } } };
}

/**
 * Pure: a round through a discovery controller another orchestrator owns
 * is not sanhook's to run (its AENs and rediscover events are that
 * orchestrator's; nvme-cli 3.0's `discover --device` skips it the same way,
 * REGISTRY.md): the plan that says so, else undefined.
 */
export function throughOthersDiscoveryController(key: string, request: ConnectRequest, device: string, ownership: Ownership | undefined): Plan | undefined {
  const owner = otherOwner(ownership);
  if (!owner) return undefined;
  return { hook: HOOK, key, trigger: request.trigger, actions: [ownedByOther(device, owner, { fields: { cntrltype: 'discovery' } })] };
}

export { persistentDiscoveryControllers } from './connect-decide.js';

function optionalNumber<K extends string>(name: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [name]: value } as Record<K, number>);
}

