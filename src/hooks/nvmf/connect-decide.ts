/**
 * The connect decision: which discovery-log records to connect.
 *
 * Contract: `decideConnect()` is pure (observation + request + config → plan)
 * and decides every record exactly once: connect it, or skip it with a reason.
 * A record is never connected twice: not if a live-or-recovering controller
 * already serves that path, and not if the log lists it twice.
 */
import type { ExcludeRule } from './settings.js';
import { NONE } from './keys.js';
import { canonicalIp, type Transport } from './validate.js';
import { checkRecord, SUBTYPE_NVME, SUBTYPE_REFERRAL, SUBTYPES_DISCOVERY, type DiscoveryLog, type RawRecord } from './discovery-log.js';
import type { ConnectRequest } from './connect-request.js';
import type { Controller } from './sysfs.js';
import { ioKey } from './io-request.js';
import type { NvmfEndpoint } from './keys.js';

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
  | 'referral'
  | 'unknown-subtype'
  | 'invalid-record'
  | 'duplicate-record'
  | 'disconnected-by-admin';

export type RecordDecision =
  | { readonly action: 'connect'; readonly record: RawRecord; readonly params: IoConnectParams }
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
}

export interface ConnectSettings {
  readonly exclude: readonly ExcludeRule[];
  readonly reconnectDelay?: number;
  readonly ctrlLossTmo?: number;
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

function excludedBy(rules: readonly ExcludeRule[], params: IoConnectParams): ExcludeRule | undefined {
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
  const decisions = observation.log.records.map((record): RecordDecision => {
    const skip = (reason: SkipReason, detail: string): RecordDecision => ({ action: 'skip', record, reason, detail });
    if (SUBTYPES_DISCOVERY.includes(record.subtype)) return skip('discovery-entry', 'a discovery controller entry, not an NVM subsystem');
    if (record.subtype === SUBTYPE_REFERRAL) return skip('referral', `referral to ${record.traddr}:${record.trsvcid} (run connect for that address to follow it)`);
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
    if (serving) return { ...skip('already-connected', `${serving.name} (${serving.state})`), params };
    return { action: 'connect', record, params };
  });
  return { genctr: observation.log.genctr, decisions };
}
