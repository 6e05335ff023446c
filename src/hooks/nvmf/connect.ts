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
import { runCoalesced, writePending } from '../../core/lock.js';
import { decideConnect, type IoConnectParams } from './connect-decide.js';
import { clearDisconnected, listDisconnected, recordManaged } from './endpoint-state.js';
import { ioKey } from './io-request.js';
import {
  classifyUevent,
  parseDiscoveryConf,
  requestFromOptions,
  requestToArgv,
  type ConnectRequest,
  type RawOptions,
  type Trigger,
} from './connect-request.js';
import { readHostIdentity } from './host-identity.js';
import * as nvmeCli from './nvme-cli.js';
import { readController, readControllers, type Controller } from './sysfs.js';
import { canonicalIp } from './validate.js';
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
  const [node, ...script] = system.selfArgv;
  return [
    '--no-block',
    '--collect',
    '--quiet',
    '--unit',
    transientUnitName(key, system),
    '--description',
    `sanhook connect ${key}`,
    '--',
    node ?? 'sanhook',
    ...script,
    '--root',
    system.paths.root,
    '--sysfs',
    system.paths.sysfs,
    'connect',
    ...requestToArgv(request),
  ];
}

export async function runConnect(system: System, config: Config, options: ConnectOptions, reporter: Reporter): Promise<void> {
  const requests = await connectRequests(system, options, reporter);
  const failures: string[] = [];
  for (const request of requests) {
    const key = endpointKey(request.discovery);
    if (options.dryRun) {
      await connectOnce(system, config, key, request, { dryRun: true, reporter, failures });
      continue;
    }
    if (await shouldHandOff(system, config, options)) {
      await writePending(system, key, request);
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
    const outcome = await runCoalesced(system, key, request, (latest) => connectOnce(system, config, key, latest, { dryRun: false, reporter, failures }), {
      staleMs: config.lockStaleMs,
    });
    // runs 0: we got the lock only after a holder had already taken our event.
    if (outcome.kind === 'handed-over' || outcome.runs === 0) {
      system.log.info({ hook: HOOK, key, trigger: request.trigger, outcome: 'queued', reason: outcome.kind === 'handed-over' ? outcome.reason : 'taken-by-holder', duration_ms: system.clock.now() - started }, 'event queued for the running holder');
      reporter.item({ hook: HOOK, key, outcome: 'queued', text: `${key}: another sanhook connect holds this address; it will re-run discovery for this event` });
    }
  }
  if (failures.length > 0) throw new ActionError(`${failures.length} action(s) failed: ${failures.join('; ')}`, { failures });
}

interface RunContext {
  readonly dryRun: boolean;
  readonly reporter: Reporter;
  readonly failures: string[];
}

/** One discovery and connect-all round for one discovery address. Never throws for an action failure. */
async function connectOnce(system: System, config: Config, key: string, request: ConnectRequest, context: RunContext): Promise<void> {
  const started = system.clock.now();
  const { reporter } = context;
  const identity = await readHostIdentity(system);
  const hostnqn = request.hostnqn ?? identity.hostnqn;
  const hostid = request.hostid ?? identity.hostid;
  // A device named by an event may be gone by now: then ask the address directly.
  const device = request.device && (await readController(system, request.device)) ? request.device : undefined;
  const discoverOptions = {
    ...(device ? { device } : {}),
    ...(hostnqn ? { hostnqn } : {}),
    ...(hostid ? { hostid } : {}),
    persistent: request.persistent && !context.dryRun,
  };
  if (!context.dryRun) {
    // nvme-cli reads the log through an existing persistent discovery controller for this
    // address even without --device: re-enable AENs on every such controller first.
    for (const c of persistentDiscoveryControllers(await readControllers(system), request.discovery, device)) {
      if (!(await nvmeCli.rearmDiscoveryAen(system, c))) system.log.warn({ hook: HOOK, key, device: c }, 'could not re-enable discovery AENs');
    }
  }
  let log;
  try {
    if (context.dryRun) {
      reporter.item({ hook: HOOK, key, outcome: 'would-observe', argv: ['nvme', ...nvmeCli.discoverArgv(request.discovery, discoverOptions)], text: `nvme ${nvmeCli.discoverArgv(request.discovery, discoverOptions).join(' ')}` });
    }
    log = await nvmeCli.discover(system, request.discovery, discoverOptions);
  } catch (error) {
    if (!(error instanceof ActionError)) throw error;
    const duration = system.clock.now() - started;
    system.log.error({ hook: HOOK, key, trigger: request.trigger, outcome: 'discovery-failed', duration_ms: duration, err: error.message }, 'discovery failed');
    reporter.item({ hook: HOOK, key, outcome: 'failed', text: `${key}: ${error.message}` });
    context.failures.push(`${key}: discovery failed`);
    return;
  }
  const controllers = await readControllers(system);
  const disconnected = await listDisconnected(system);
  const plan = decideConnect(
    { log, controllers, disconnected, ...(hostnqn ? { hostnqn } : {}), ...(hostid ? { hostid } : {}) },
    request,
    { exclude: nvmfSettings(config).exclude, ...optionalNumber('reconnectDelay', nvmfSettings(config).reconnectDelay), ...optionalNumber('ctrlLossTmo', nvmfSettings(config).ctrlLossTmo) },
  );
  if (plan.decisions.length === 0) {
    reporter.item({ hook: HOOK, key, outcome: 'nothing-to-do', text: `${key}: the discovery log is empty` });
  }
  for (const decision of plan.decisions) {
    const recordText = `${decision.record.subnqn} at ${decision.record.trtype} ${decision.record.traddr}:${decision.record.trsvcid}`;
    const base = { hook: HOOK, key, trigger: request.trigger, subnqn: decision.record.subnqn, traddr: decision.record.traddr, trsvcid: decision.record.trsvcid };
    // Records the path as managed (clearing its tombstone after a connect). A state dir that
    // cannot be written fails this record only: the rest of the log is still connected (issue 9).
    const record = async (params: IoConnectParams, clear: boolean): Promise<void> => {
      try {
        await recordManaged(system, params);
        if (clear) await clearDisconnected(system, ioKey(params));
      } catch (error) {
        if (!(error instanceof EnvironmentError)) throw error;
        system.log.error({ ...base, outcome: 'not-recorded', err: error.message }, 'could not record the path as managed');
        reporter.item({ ...base, outcome: 'failed', text: `${recordText}: not recorded as managed, so it will not be brought back if lost: ${error.message}` });
        context.failures.push(`${decision.record.subnqn}: not recorded as managed`);
      }
    };
    if (decision.action === 'skip') {
      system.log.info({ ...base, outcome: 'skipped', reason: decision.reason, detail: decision.detail }, 'record skipped');
      reporter.item({ ...base, outcome: 'skipped', reason: decision.reason, text: `${recordText}: ${decision.reason}: ${decision.detail}` });
      // Found connected at an address sanhook is responsible for: bring it back if it is lost.
      if (decision.params && !context.dryRun) await record(decision.params, false);
      continue;
    }
    const argv = ['nvme', ...nvmeCli.connectArgv(decision.params)];
    if (context.dryRun) {
      reporter.item({ ...base, outcome: 'would-connect', argv, text: argv.join(' ') });
      continue;
    }
    const recordStarted = system.clock.now();
    const result = await nvmeCli.connect(system, decision.params);
    const duration = system.clock.now() - recordStarted;
    switch (result.outcome) {
      case 'connected':
        system.log.info({ ...base, outcome: 'connected', device: result.device, duration_ms: duration }, 'connected');
        reporter.item({ ...base, outcome: 'connected', device: result.device, text: `${recordText}: connected${result.device ? ` as ${result.device}` : ''}` });
        await record(decision.params, true);
        break;
      case 'already-connected':
        system.log.info({ ...base, outcome: 'skipped', reason: 'already-connected', duration_ms: duration }, 'nvme reports already connected');
        reporter.item({ ...base, outcome: 'skipped', reason: 'already-connected', text: `${recordText}: already-connected (reported by nvme connect)` });
        await record(decision.params, false);
        break;
      case 'failed':
        system.log.error({ ...base, outcome: 'failed', exit_code: result.exitCode, err: result.message, duration_ms: duration }, 'connect failed');
        reporter.item({ ...base, outcome: 'failed', exitCode: result.exitCode, text: `${recordText}: nvme connect failed (exit ${result.exitCode}): ${result.message}` });
        context.failures.push(`${decision.record.subnqn}: connect failed`);
        break;
    }
  }
  system.log.info({ hook: HOOK, key, trigger: request.trigger, outcome: context.dryRun ? 'planned' : 'done', genctr: plan.genctr, records: plan.decisions.length, duration_ms: system.clock.now() - started }, 'discovery round finished');
}

/** Live discovery controllers at this discovery address (and `device`, if given). */
export function persistentDiscoveryControllers(controllers: readonly Controller[], endpoint: NvmfDiscoveryEndpoint, device: string | undefined): string[] {
  return controllers
    .filter(
      (c) =>
        c.cntrltype === 'discovery' &&
        c.state === 'live' &&
        (c.name === device ||
          (c.transport === endpoint.transport &&
            canonicalIp(c.traddr) === canonicalIp(endpoint.traddr) &&
            c.trsvcid === endpoint.trsvcid &&
            (endpoint.hostTraddr === NONE || canonicalIp(c.hostTraddr) === canonicalIp(endpoint.hostTraddr)) &&
            (endpoint.hostIface === NONE || c.hostIface === endpoint.hostIface))),
    )
    .map((c) => c.name);
}

function optionalNumber<K extends string>(name: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [name]: value } as Record<K, number>);
}

