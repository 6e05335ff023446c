/**
 * The connect decision: which discovery-log records to connect, which
 * referrals to follow, and which discovery controller a round reads through.
 *
 * Contract: pure functions (observation + request + config → verdicts).
 * - `decideConnect()` decides every record exactly once: connect it, follow
 *   it (a referral), or skip it with a reason. A record is never connected
 *   twice: not if a live-or-recovering controller already serves that path,
 *   and not if the log lists it twice.
 * - A referral is followed as a new discovery round keyed on the address it
 *   names (connect.ts runs it under that address's lock, so a round already
 *   running there queues it instead of recursing). Following is bounded: no
 *   address twice in one chain (a loop), at most `maxDepth` hops from the
 *   first round, at most `maxPerLog` referrals per log, and never an address
 *   already covered (its round ran in this run, or it has a live discovery
 *   controller whose AENs and rediscover events drive its own rounds).
 * - `chooseDiscoveryController()` gives every discovery address at most one
 *   persistent discovery controller: an existing one is reused (never a
 *   second created), one the kernel is reconnecting is waited for.
 */
import type { ExcludeRule } from './settings.js';
import { NONE } from './keys.js';
import { canonicalIp, type Transport } from './validate.js';
import { checkRecord, checkReferral, SUBTYPE_CURRENT_DISCOVERY, SUBTYPE_NVME, SUBTYPES_REFERRAL, type DiscoveryLog, type RawRecord } from './discovery-log.js';
import type { ConnectRequest } from './connect-request.js';
import type { Controller } from './sysfs.js';
import { ioKey } from './io-request.js';
import { endpointKey, type NvmfDiscoveryEndpoint, type NvmfEndpoint } from './keys.js';

/** Everything `nvme connect` needs for one I/O controller: the endpoint plus host identity and kernel timers. */
export interface IoConnectParams extends Omit<NvmfEndpoint, 'kind'> {
  readonly hostnqn?: string;
  readonly hostid?: string;
  readonly reconnectDelay?: number;
  readonly ctrlLossTmo?: number;
}

export type SkipReason =
  | 'already-connected'
  | 'excluded'
  | 'not-requested'
  | 'discovery-entry'
  | 'referrals-off'
  | 'referral-loop'
  | 'referral-depth'
  | 'referral-fanout'
  | 'referral-known'
  | 'unknown-subtype'
  | 'invalid-record'
  | 'duplicate-record'
  | 'disconnected-by-admin';

export type RecordDecision =
  | { readonly action: 'connect'; readonly record: RawRecord; readonly params: IoConnectParams }
  /** A referral to follow: a discovery round for `request`, under the lock of `key` (its address). */
  | { readonly action: 'follow'; readonly record: RawRecord; readonly key: string; readonly request: ConnectRequest }
  | { readonly action: 'skip'; readonly record: RawRecord; readonly reason: SkipReason; readonly detail: string; readonly params?: IoConnectParams };

export interface ConnectPlan {
  readonly genctr: number;
  readonly decisions: readonly RecordDecision[];
}

export interface ConnectObservation {
  readonly log: DiscoveryLog;
  readonly controllers: readonly Controller[];
  /** Host identity in effect: the request's, else /etc/nvme/hostnqn|hostid. */
  readonly hostnqn?: string;
  readonly hostid?: string;
  /** Keys of I/O endpoints disconnected on purpose (`sanhook disconnect`). */
  readonly disconnected?: ReadonlySet<string>;
  /** Discovery addresses (keys) whose round already ran in this invocation. */
  readonly roundsRun?: ReadonlySet<string>;
}

/** How far referrals are followed (config `nvmf.referrals`). */
export interface ReferralBounds {
  readonly follow: boolean;
  /** Hops from the first round: a referral found at this depth is not followed. */
  readonly maxDepth: number;
  /** Referrals followed per discovery log; the rest are reported. */
  readonly maxPerLog: number;
}

export interface ConnectSettings {
  readonly exclude: readonly ExcludeRule[];
  readonly reconnectDelay?: number;
  readonly ctrlLossTmo?: number;
  /** Absent: referrals are reported, not followed. */
  readonly referrals?: ReferralBounds;
}

/** Controllers in these states are on their way out: a new connect is right. */
const GONE_STATES = new Set(['deleting', 'deleting (no IO)', 'dead']);

const sameAddress = (a: string, b: string) => canonicalIp(a) === canonicalIp(b);

export function servingController(params: IoConnectParams, controllers: readonly Controller[]): Controller | undefined {
  return controllers.find(
    (c) =>
      c.cntrltype !== 'discovery' &&
      !GONE_STATES.has(c.state) &&
      c.transport === params.transport &&
      sameAddress(c.traddr, params.traddr) &&
      (params.transport === 'fc' || c.trsvcid === params.trsvcid) &&
      c.subsysnqn === params.subnqn &&
      (params.hostTraddr === NONE || sameAddress(c.hostTraddr, params.hostTraddr)) &&
      (params.hostIface === NONE || c.hostIface === params.hostIface) &&
      (!params.hostnqn || !c.hostnqn || c.hostnqn === params.hostnqn),
  );
}

function excludedBy(rules: readonly ExcludeRule[], params: Pick<IoConnectParams, 'subnqn' | 'traddr' | 'trsvcid' | 'transport'>): ExcludeRule | undefined {
  return rules.find(
    (r) =>
      (r.subnqn === undefined || r.subnqn === params.subnqn) &&
      (r.traddr === undefined || sameAddress(r.traddr, params.traddr)) &&
      (r.trsvcid === undefined || r.trsvcid === params.trsvcid) &&
      (r.transport === undefined || r.transport === params.transport),
  );
}

export function decideConnect(observation: ConnectObservation, request: ConnectRequest, settings: ConnectSettings): ConnectPlan {
  const seen = new Set<string>();
  const hostnqn = request.hostnqn ?? observation.hostnqn;
  const hostid = request.hostid ?? observation.hostid;
  const reconnectDelay = request.reconnectDelay ?? settings.reconnectDelay;
  const ctrlLossTmo = request.ctrlLossTmo ?? settings.ctrlLossTmo;
  const referrals = { seen: new Set<string>(), followed: 0 };
  const decisions = observation.log.records.map((record): RecordDecision => {
    const skip = (reason: SkipReason, detail: string): RecordDecision => ({ action: 'skip', record, reason, detail });
    if (record.subtype === SUBTYPE_CURRENT_DISCOVERY) return skip('discovery-entry', 'the entry of the discovery controller that returned this log');
    if (SUBTYPES_REFERRAL.includes(record.subtype)) return decideReferral(record, observation, request, settings, referrals);
    if (record.subtype !== SUBTYPE_NVME) return skip('unknown-subtype', `subtype ${JSON.stringify(record.subtype)}`);
    const checked = checkRecord(record);
    if ('invalid' in checked) return skip('invalid-record', checked.invalid);
    // The host side of the discovery path carries over to I/O paths on the same transport.
    const sameTransport = checked.transport === request.discovery.transport;
    const params: IoConnectParams = {
      ...checked,
      hostTraddr: sameTransport ? request.discovery.hostTraddr : NONE,
      hostIface: sameTransport ? request.discovery.hostIface : NONE,
      ...(hostnqn ? { hostnqn } : {}),
      ...(hostid ? { hostid } : {}),
      ...(reconnectDelay !== undefined ? { reconnectDelay } : {}),
      ...(ctrlLossTmo !== undefined ? { ctrlLossTmo } : {}),
    };
    const identity = [params.transport, canonicalIp(params.traddr), params.trsvcid, params.subnqn].join(' ');
    if (seen.has(identity)) return skip('duplicate-record', 'listed earlier in the same log');
    seen.add(identity);
    if (request.nqn && request.nqn !== params.subnqn) return skip('not-requested', `only ${request.nqn} was asked for`);
    const rule = excludedBy(settings.exclude, params);
    if (rule) return skip('excluded', `excluded by config rule ${JSON.stringify(rule)}`);
    if (observation.disconnected?.has(ioKey(params)) && !(request.trigger === 'manual' && request.nqn === params.subnqn)) {
      return skip('disconnected-by-admin', `disconnected by sanhook disconnect; run sanhook connect --nqn ${params.subnqn} to bring it back`);
    }
    const serving = servingController(params, observation.controllers);
    if (serving) return { action: 'skip', record, reason: 'already-connected', detail: `${serving.name} (${serving.state})`, params };
    return { action: 'connect', record, params };
  });
  return { genctr: observation.log.genctr, decisions };
}

/** Live discovery controllers at this discovery address (and `device`, if given). */
export function persistentDiscoveryControllers(controllers: readonly Controller[], endpoint: NvmfDiscoveryEndpoint, device: string | undefined): string[] {
  return discoveryControllersAt(controllers, endpoint)
    .filter((c) => c.state === 'live')
    .map((c) => c.name)
    .concat(controllers.filter((c) => c.name === device && c.cntrltype === 'discovery' && c.state === 'live' && !atAddress(c, endpoint)).map((c) => c.name));
}

function atAddress(c: Controller, endpoint: NvmfDiscoveryEndpoint): boolean {
  return (
    c.transport === endpoint.transport &&
    sameAddress(c.traddr, endpoint.traddr) &&
    (endpoint.transport === 'fc' || c.trsvcid === endpoint.trsvcid) &&
    (endpoint.hostTraddr === NONE || sameAddress(c.hostTraddr, endpoint.hostTraddr)) &&
    (endpoint.hostIface === NONE || c.hostIface === endpoint.hostIface)
  );
}

/** Discovery controllers at this address that are not on their way out, lowest instance first. */
export function discoveryControllersAt(controllers: readonly Controller[], endpoint: NvmfDiscoveryEndpoint): Controller[] {
  const instance = (name: string) => Number(/[0-9]+$/.exec(name)?.[0] ?? Number.MAX_SAFE_INTEGER);
  return controllers.filter((c) => c.cntrltype === 'discovery' && !GONE_STATES.has(c.state) && atAddress(c, endpoint)).sort((a, b) => instance(a.name) - instance(b.name));
}

/** The discovery address a referral names; the host side carries over on the same transport. */
export function referredEndpoint(referral: { transport: Transport; traddr: string; trsvcid: string }, from: NvmfDiscoveryEndpoint): NvmfDiscoveryEndpoint {
  const sameTransport = referral.transport === from.transport;
  return {
    kind: 'nvmf-disc',
    transport: referral.transport,
    traddr: referral.traddr,
    trsvcid: referral.trsvcid,
    hostTraddr: sameTransport ? from.hostTraddr : NONE,
    hostIface: sameTransport ? from.hostIface : NONE,
  };
}

/** Pure: follow one referral record, or say why not (see the module's contract for the bounds). */
function decideReferral(
  record: RawRecord,
  observation: ConnectObservation,
  request: ConnectRequest,
  settings: ConnectSettings,
  referrals: { seen: Set<string>; followed: number },
): RecordDecision {
  const skip = (reason: SkipReason, detail: string): RecordDecision => ({ action: 'skip', record, reason, detail });
  const named = `${record.trtype} ${record.traddr}:${record.trsvcid}`;
  if (!settings.referrals?.follow) return skip('referrals-off', `referral to ${named} (nvmf.referrals.follow is false: run connect for that address to follow it)`);
  const checked = checkReferral(record);
  if ('invalid' in checked) return skip('invalid-record', checked.invalid);
  const endpoint = referredEndpoint(checked, request.discovery);
  const key = endpointKey(endpoint);
  const chain = [...(request.referral?.via ?? []), endpointKey(request.discovery)];
  if (chain.includes(key)) return skip('referral-loop', `referral back to ${key}: ${[...chain, key].join(' -> ')}`);
  if (referrals.seen.has(key)) return skip('duplicate-record', `referral to ${key} listed earlier in the same log`);
  referrals.seen.add(key);
  const rule = excludedBy(settings.exclude, { transport: checked.transport, traddr: checked.traddr, trsvcid: checked.trsvcid, subnqn: record.subnqn });
  if (rule) return skip('excluded', `excluded by config rule ${JSON.stringify(rule)}`);
  if (observation.roundsRun?.has(key)) return skip('referral-known', `${key} was discovered earlier in this run`);
  const live = persistentDiscoveryControllers(observation.controllers, endpoint, undefined);
  if (live.length > 0) return skip('referral-known', `${key} has the persistent discovery controller ${live.join(', ')}: its own AENs drive its rounds`);
  const depth = (request.referral?.depth ?? 0) + 1;
  if (depth > settings.referrals.maxDepth) {
    return skip('referral-depth', `referral to ${key} is ${depth} hops from ${chain[0]}; nvmf.referrals.max-depth is ${settings.referrals.maxDepth}`);
  }
  if (referrals.followed >= settings.referrals.maxPerLog) {
    return skip('referral-fanout', `referral to ${key}: this log already had ${referrals.followed} followed (nvmf.referrals.max-per-log)`);
  }
  referrals.followed += 1;
  const followed: ConnectRequest = {
    trigger: 'referral',
    discovery: endpoint,
    persistent: request.persistent,
    ...(request.hostnqn ? { hostnqn: request.hostnqn } : {}),
    ...(request.hostid ? { hostid: request.hostid } : {}),
    ...(request.nqn ? { nqn: request.nqn } : {}),
    ...(request.reconnectDelay !== undefined ? { reconnectDelay: request.reconnectDelay } : {}),
    ...(request.ctrlLossTmo !== undefined ? { ctrlLossTmo: request.ctrlLossTmo } : {}),
    referral: { depth, via: chain },
  };
  return { action: 'follow', record, key, request: followed };
}

/** Which discovery controller one round reads the log through (see the module's contract). */
export type DiscoveryControllerChoice =
  | { readonly via: 'device'; readonly device: string; readonly reason: 'event' | 'reuse' }
  | { readonly via: 'create' }
  | { readonly via: 'transient'; readonly reason: 'not-persistent' | 'recovering' | 'owned-by-other' | 'dry-run'; readonly detail?: string };

export interface DiscoveryControllerFacts {
  readonly endpoint: NvmfDiscoveryEndpoint;
  /** The controller the event named, if it is still there. */
  readonly eventDevice?: string;
  readonly controllers: readonly Controller[];
  /** Discovery controllers another orchestrator owns (nvme-cli's registry), by name. */
  readonly ownedByOther: ReadonlySet<string>;
  /** The round should leave a persistent discovery controller (request or config). */
  readonly persistent: boolean;
  /** A dry run: nothing may be created. */
  readonly readOnly: boolean;
}

/** Pure: the discovery controller of one round: at most one persistent one per address, ever. */
export function chooseDiscoveryController(facts: DiscoveryControllerFacts): DiscoveryControllerChoice {
  if (facts.eventDevice) return { via: 'device', device: facts.eventDevice, reason: 'event' };
  const present = discoveryControllersAt(facts.controllers, facts.endpoint);
  const reusable = present.find((c) => c.state === 'live' && !facts.ownedByOther.has(c.name));
  if (reusable) return { via: 'device', device: reusable.name, reason: 'reuse' };
  if (!facts.persistent) return { via: 'transient', reason: 'not-persistent' };
  const others = present.filter((c) => facts.ownedByOther.has(c.name));
  if (others.length > 0) return { via: 'transient', reason: 'owned-by-other', detail: others.map((c) => c.name).join(', ') };
  const recovering = present.filter((c) => c.state !== 'live');
  if (recovering.length > 0) return { via: 'transient', reason: 'recovering', detail: recovering.map((c) => `${c.name} ${c.state}`).join(', ') };
  if (facts.readOnly) return { via: 'transient', reason: 'dry-run' };
  return { via: 'create' };
}
