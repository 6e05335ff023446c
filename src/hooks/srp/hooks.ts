/**
 * SRP's hooks on the core (DESIGN §3): validate → key → lock with
 * coalescing → observe → decide (decide.ts) → the executor.
 *
 *   srp-setup --uevent        udev add of an srp_remote_ports device: apply the policy
 *   srp-setup --port P        the same, by hand
 *   lost --uevent             udev remove of an ib_srp scsi_host (identity from the udev
 *                             database): arm timerd to add the target again
 *   srp-reconnect             --port P (by hand) or --srp-host H --target LINE (timerd, by hand)
 *   srp-erase                 --port P or --srp-host H --target LINE (timerd's loss hook)
 *   srp-disconnect --port P
 *   srp-add --srp-host H --target LINE
 *
 * Contract: every verb locks the login's key (keys.ts) and is every other's
 * planner, so an add and a remove of one port, or a re-add racing an erase,
 * run one after the other, never interleaved; a late event makes the holder
 * go round once more (core/lock.ts). Requests are plain JSON (pending
 * markers hold them); each round observes again under the lock. Run by
 * timerd, a hook whose event a live holder took exits 1: its result is the
 * holder's, and exit 0 would end the schedule.
 */
import type { Config } from '../../core/config.js';
import { ActionError, UsageError } from '../../core/errors.js';
import type { UeventEnv } from '../../core/fabric.js';
import { reportQueued, runByTimerd, runLocked, type HookRunContext, type Planner } from '../../core/hook-runner.js';
import type { Plan } from '../../core/plan.js';
import type { Reporter } from '../../core/report.js';
import { getRecord } from '../../core/state.js';
import type { System } from '../../core/system.js';
import { policyFor, ruleSubject, srpSettings, type SrpSettings } from './config.js';
import { decideAdd, decideDisconnect, decideErase, decideLost, decideReconnect, decideSetup } from './decide.js';
import { addTargetLine, gid, hex64, ibdevName, parseTargetLine, pkey, srpHostDir, srpHostName } from './identity.js';
import { targetKey } from './keys.js';
import { SRP_STORES } from './locations.js';
import { matchPortAdd, matchSrpHostRemove } from './prefilter.js';
import { portName, portOfDevpath, readPort, readPorts, readScsiHost, srpHostPresent, type PortView } from './sysfs.js';
import { resolveLogin, sameHost, type ResolvedLogin, type SeenLogin } from './targets.js';

export type SrpVerb = 'srp-setup' | 'lost' | 'srp-reconnect' | 'srp-erase' | 'srp-disconnect' | 'srp-add';

/** What names the login a request is about: a port that exists now, or a full add_target line. */
export type LoginRef = { readonly port: string } | { readonly srpHost: string; readonly line: string };

export interface SrpRequest {
  readonly ref?: LoginRef;
  /** lost: what the udev database kept of the login. */
  readonly seen?: SeenLogin;
  readonly trigger: string;
}

function seenOfPort(port: PortView): SeenLogin {
  const h = port.scsiHost;
  return { host: h.host, idExt: h.idExt, iocGuid: h.iocGuid, ...(h.ib ? { ib: h.ib } : {}) };
}

function subjectOf(login: ResolvedLogin, seen: SeenLogin) {
  return login.target ? ruleSubject(login.target) : { idExt: seen.idExt, iocGuid: seen.iocGuid, ...(seen.ib ? { dgid: seen.ib.dgid } : {}) };
}

/** The port of this login now, if any: same local port and ids, and the same key once resolved. */
async function portOfLogin(system: System, key: string, seen: SeenLogin): Promise<PortView | undefined> {
  for (const port of await readPorts(system)) {
    const h = port.scsiHost;
    if (!sameHost(h.host, seen.host) || h.idExt !== seen.idExt || h.iocGuid !== seen.iocGuid) continue;
    if ((await resolveLogin(system, seenOfPort(port))).key === key) return port;
  }
  return undefined;
}

interface Located {
  readonly key: string;
  readonly login: ResolvedLogin;
  readonly seen: SeenLogin;
  readonly port?: PortView;
}

/** Resolve a request's login: from its port (which must exist), its line, or the udev database. */
async function locate(system: System, request: SrpRequest): Promise<Located | undefined> {
  const ref = request.ref;
  if (ref && 'port' in ref) {
    const port = await readPort(system, ref.port);
    if (!port) return undefined;
    const seen = seenOfPort(port);
    const login = await resolveLogin(system, seen);
    return { key: login.key, login, seen, port };
  }
  if (ref) {
    const target = parseTargetLine(srpHostName(ref.srpHost, '--srp-host'), ref.line, '--target');
    const seen: SeenLogin = { host: target.host, idExt: target.idExt, iocGuid: target.iocGuid, ...(target.address.kind === 'ib-cm' ? { ib: target.address } : {}) };
    const key = targetKey(target);
    const port = await portOfLogin(system, key, seen);
    return { key, login: { key, target, source: 'srp-add' }, seen, ...(port ? { port } : {}) };
  }
  const seen = request.seen!;
  const login = await resolveLogin(system, seen);
  const port = await portOfLogin(system, login.key, seen);
  return { key: login.key, login, seen, ...(port ? { port } : {}) };
}

const has = async (system: System, store: 'erased' | 'disconnected', key: string) => (await getRecord(system, SRP_STORES[store], key)) !== undefined;

function gonePlan(hook: SrpVerb, request: SrpRequest): Plan {
  const port = request.ref && 'port' in request.ref ? request.ref.port : '(unknown)';
  return { hook, trigger: request.trigger, actions: [{ kind: 'note', outcome: 'gone', level: 'info', text: `${port} is not there (any more): nothing to do`, subject: port }] };
}

function planners(system: System, settings: SrpSettings): Record<SrpVerb, Planner<SrpRequest>> {
  return {
    'srp-setup': async (request) => {
      const at = await locate(system, request);
      if (!at?.port) return gonePlan('srp-setup', request);
      const policy = policyFor(settings, subjectOf(at.login, at.seen));
      return decideSetup({ key: at.key, port: at.port, policy, erased: await has(system, 'erased', at.key), enforceErased: settings.erased === 'enforce', trigger: request.trigger });
    },
    lost: async (request) => {
      const at = (await locate(system, request))!;
      return decideLost({
        key: at.key,
        ...(at.login.target ? { target: at.login.target } : {}),
        ...(at.login.why ? { why: at.login.why } : {}),
        policy: policyFor(settings, subjectOf(at.login, at.seen)),
        reAdd: settings.reAdd,
        erased: await has(system, 'erased', at.key),
        ...(at.port ? { present: at.port.name } : {}),
        trigger: request.trigger,
      });
    },
    'srp-reconnect': async (request) => {
      const at = await locate(system, request);
      if (!at) return gonePlan('srp-reconnect', request);
      const target = at.login.target;
      return decideReconnect({
        key: at.key,
        ...(target ? { target } : {}),
        ...(at.login.why ? { why: at.login.why } : {}),
        ...(at.port ? { port: at.port } : {}),
        policy: policyFor(settings, subjectOf(at.login, at.seen)),
        erased: await has(system, 'erased', at.key),
        disconnected: await has(system, 'disconnected', at.key),
        srpHostPresent: await srpHostPresent(system, srpHostDir(at.seen.host)),
        byTimer: runByTimerd(system),
        trigger: request.trigger,
      });
    },
    'srp-erase': async (request) => {
      const at = await locate(system, request);
      if (!at) return gonePlan('srp-erase', request);
      return decideErase({ key: at.key, ...(at.login.target ? { target: at.login.target } : {}), ...(at.port ? { port: at.port } : {}), trigger: request.trigger });
    },
    'srp-disconnect': async (request) => {
      const at = await locate(system, request);
      if (!at?.port) return gonePlan('srp-disconnect', request);
      return decideDisconnect({ key: at.key, port: at.port, trigger: request.trigger });
    },
    'srp-add': async (request) => {
      const at = (await locate(system, request))!;
      return decideAdd({ key: at.key, target: at.login.target!, erased: await has(system, 'erased', at.key), srpHostPresent: await srpHostPresent(system, srpHostDir(at.seen.host)) });
    },
  };
}

function srpContext(system: System, config: Config, reporter: Reporter, dryRun: boolean): HookRunContext {
  return { system, reporter, dryRun, interpreters: {}, stores: SRP_STORES, staleMs: config.lockStaleMs };
}

/**
 * The key a request locks, read before the lock: only what names the login
 * (the port's ib_srp host, the line, the udev database), none of what the
 * round observes under the lock (the timers, the state).
 */
async function keyOf(system: System, request: SrpRequest): Promise<string | undefined> {
  const ref = request.ref;
  if (ref && 'port' in ref) {
    const host = await readScsiHost(system, portName(ref.port, '--port').hostNo);
    return host ? (await resolveLogin(system, { host: host.host, idExt: host.idExt, iocGuid: host.iocGuid, ...(host.ib ? { ib: host.ib } : {}) })).key : undefined;
  }
  if (ref) return targetKey(parseTargetLine(srpHostName(ref.srpHost, '--srp-host'), ref.line, '--target'));
  return (await resolveLogin(system, request.seen!)).key;
}

/** One locked round of VERB for the request's login; failures fail the hook (exit 1). */
async function runRound(system: System, config: Config, reporter: Reporter, dryRun: boolean, verb: SrpVerb, request: SrpRequest): Promise<void> {
  const key = await keyOf(system, request);
  if (key === undefined) {
    const port = request.ref && 'port' in request.ref ? request.ref.port : '(unknown)';
    throw new UsageError(`--port: no SRP remote port ${port} (see sanhook status)`, '--port', port);
  }
  const context = srpContext(system, config, reporter, dryRun);
  const run = await runLocked(context, { key, verb, request, planners: planners(system, srpSettings(config)) as Readonly<Record<string, Planner<never>>> });
  const failures = [...(run.result?.failures ?? [])];
  if (run.queued) {
    reportQueued(context, verb, key, `another hook holds this login; it runs this ${verb} next`);
    if (runByTimerd(system)) failures.push(`${key}: another hook holds this login's lock; its result decides`);
  }
  if (failures.length > 0) throw new ActionError(failures.join('; '), { failures });
}

// ----------------------------------------------------------- entry points ---

export interface RefInput {
  readonly port?: string;
  readonly srpHost?: string;
  readonly target?: string;
}

/** --port P, or --srp-host H with --target LINE: validated once, here. */
export function loginRef(input: RefInput, allowLine: boolean): LoginRef {
  const byPort = input.port !== undefined;
  const byLine = input.srpHost !== undefined || input.target !== undefined;
  if (byPort === byLine || (byLine && !allowLine)) {
    throw new UsageError(allowLine ? 'give --port, or --srp-host with --target' : 'give --port', '--port');
  }
  if (byPort) return { port: portName(input.port!, '--port').name };
  if (input.srpHost === undefined || input.target === undefined) throw new UsageError('--srp-host and --target go together', input.srpHost === undefined ? '--srp-host' : '--target');
  const host = srpHostName(input.srpHost, '--srp-host');
  const target = parseTargetLine(host, input.target, '--target');
  return { srpHost: srpHostDir(host), line: addTargetLine(target) };
}


export async function runSetup(system: System, config: Config, input: { uevent: boolean; port?: string; dryRun: boolean }, reporter: Reporter): Promise<void> {
  if (input.uevent === (input.port !== undefined)) throw new UsageError('give exactly one of --uevent or --port', '--port');
  let port: string;
  if (input.uevent) {
    if (!matchPortAdd(system.env)) {
      reporter.item({ hook: 'srp-setup', outcome: 'ignored', text: 'not an srp_remote_ports add event' });
      return;
    }
    port = portOfDevpath(system.env.DEVPATH ?? '', 'DEVPATH').name;
  } else {
    port = portName(input.port!, '--port').name;
  }
  if (!(await readScsiHost(system, portName(port, '--port').hostNo))) {
    if (!input.uevent) throw new UsageError(`--port: no SRP remote port ${port} (see sanhook status)`, '--port', port);
    system.log.info({ hook: 'srp-setup', port, outcome: 'gone' }, 'the port is gone already');
    reporter.item({ hook: 'srp-setup', outcome: 'gone', text: `${port}: gone already (deleted before its add event was handled)` });
    return;
  }
  await runRound(system, config, reporter, input.dryRun, 'srp-setup', { ref: { port }, trigger: input.uevent ? 'uevent' : 'manual' });
}

/** The login kept in the udev database at the scsi_host's add (rules.d/70-sanhook-srp.rules), validated like options. */
export function seenOfUevent(env: UeventEnv): SeenLogin {
  const need = (name: string) => {
    const value = env[name];
    if (value === undefined || value === '') throw new UsageError(`${name}: missing from the event (the udev database of an ib_srp scsi_host)`, name);
    return value;
  };
  const port = need('SANHOOK_SRP_IBPORT');
  if (!/^[0-9]{1,3}$/.test(port) || Number(port) < 1 || Number(port) > 255) throw new UsageError(`SANHOOK_SRP_IBPORT: must be an IB port number 1-255, got ${JSON.stringify(port.slice(0, 64))}`, 'SANHOOK_SRP_IBPORT', port);
  const ibParts = ['SANHOOK_SRP_DGID', 'SANHOOK_SRP_PKEY', 'SANHOOK_SRP_SERVICE_ID'].filter((name) => env[name]);
  const ib =
    ibParts.length === 3
      ? { dgid: gid(env.SANHOOK_SRP_DGID!, 'SANHOOK_SRP_DGID'), pkey: pkey(env.SANHOOK_SRP_PKEY!, 'SANHOOK_SRP_PKEY'), serviceId: hex64(env.SANHOOK_SRP_SERVICE_ID!, 'SANHOOK_SRP_SERVICE_ID') }
      : undefined;
  return {
    host: { ibdev: ibdevName(need('SANHOOK_SRP_IBDEV'), 'SANHOOK_SRP_IBDEV'), port: Number(port) },
    idExt: hex64(need('SANHOOK_SRP_ID_EXT'), 'SANHOOK_SRP_ID_EXT'),
    iocGuid: hex64(need('SANHOOK_SRP_IOC_GUID'), 'SANHOOK_SRP_IOC_GUID'),
    ...(ib ? { ib } : {}),
  };
}

export async function runLost(system: System, config: Config, input: { dryRun: boolean }, reporter: Reporter): Promise<void> {
  if (!matchSrpHostRemove(system.env)) {
    reporter.item({ hook: 'lost', outcome: 'ignored', text: 'not the remove event of an ib_srp scsi_host' });
    return;
  }
  await runRound(system, config, reporter, input.dryRun, 'lost', { seen: seenOfUevent(system.env), trigger: 'uevent' });
}

export async function runRef(system: System, config: Config, verb: 'srp-reconnect' | 'srp-erase' | 'srp-disconnect', input: RefInput & { dryRun: boolean }, reporter: Reporter): Promise<void> {
  const ref = loginRef(input, verb !== 'srp-disconnect');
  const trigger = runByTimerd(system) ? (verb === 'srp-erase' ? 'loss' : 'timer') : 'manual';
  await runRound(system, config, reporter, input.dryRun, verb, { ref, trigger });
}

export async function runAdd(system: System, config: Config, input: { srpHost?: string; target?: string; dryRun: boolean }, reporter: Reporter): Promise<void> {
  if (input.srpHost === undefined || input.target === undefined) throw new UsageError('give --srp-host and --target', input.srpHost === undefined ? '--srp-host' : '--target');
  const ref = loginRef({ srpHost: input.srpHost, target: input.target }, true);
  await runRound(system, config, reporter, input.dryRun, 'srp-add', { ref, trigger: 'manual' });
}
