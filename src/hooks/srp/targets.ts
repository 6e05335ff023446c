/**
 * Which login a port or an event is, as completely as sanhook can know it:
 * the targets recorded by `srp-add` (the line as given: address, initiator
 * extension, options) first, then what sysfs or the udev database shows.
 *
 * What can be brought back after the kernel deleted a port:
 *   * any target added with `sanhook srp-add` (its line is recorded);
 *   * an IB CM login added some other way (srp_daemon, echo) when its
 *     initiator_ext was 0 — srp_daemon's default — because sysfs shows its
 *     orig_dgid, pkey and service_id but not initiator_ext or the options;
 *   * not an RDMA/CM login added some other way: no dest in sysfs at all.
 *
 * Contract: reads the `targets` store only. A recorded line that no longer
 * parses is skipped with a warning (it was valid when recorded; it cannot
 * be written now).
 */
import { listRecords } from '../../core/state.js';
import type { System } from '../../core/system.js';
import { ActionError } from '../../core/errors.js';
import { parseTargetLine, srpHostName, type SrpHost, type SrpTarget } from './identity.js';
import { srpKey, targetKey } from './keys.js';
import { SRP_STORES } from './locations.js';

/** What a port or an event shows of a login. */
export interface SeenLogin {
  readonly host: SrpHost;
  readonly idExt: string;
  readonly iocGuid: string;
  readonly ib?: { readonly dgid: string; readonly pkey: string; readonly serviceId: string };
}

export interface ResolvedLogin {
  readonly key: string;
  /** Complete enough to write to add_target again; absent: `why` says what is missing. */
  readonly target?: SrpTarget;
  readonly why?: string;
  readonly source: 'srp-add' | 'sysfs';
}

export const ZERO_EXT = '0000000000000000';

/** The targets srp-add recorded, parsed (a record that does not parse is left out, with a warning). */
export async function recordedTargets(system: System): Promise<SrpTarget[]> {
  const targets: SrpTarget[] = [];
  for (const record of await listRecords(system, SRP_STORES.targets)) {
    try {
      targets.push(parseTargetLine(srpHostName(String(record.srpHost), 'srpHost'), String(record.line), 'line'));
    } catch (error) {
      system.log.warn({ hook: 'srp', key: String(record.key), err: (error as Error).message }, 'a recorded SRP target no longer parses; ignored');
    }
  }
  return targets;
}

export function sameHost(a: SrpHost, b: SrpHost): boolean {
  return a.ibdev === b.ibdev && a.port === b.port;
}

export async function resolveLogin(system: System, seen: SeenLogin): Promise<ResolvedLogin> {
  const recorded = (await recordedTargets(system)).filter((t) => sameHost(t.host, seen.host) && t.idExt === seen.idExt && t.iocGuid === seen.iocGuid);
  if (recorded.length > 1) {
    throw new ActionError(
      `several targets recorded with srp-add match ${seen.host.ibdev}-${seen.host.port} id_ext ${seen.idExt} ioc_guid ${seen.iocGuid} (initiator_ext ${recorded.map((t) => t.initiatorExt).join(', ')}): sysfs does not show which one this port is`,
    );
  }
  if (recorded.length === 1) return { key: targetKey(recorded[0]!), target: recorded[0]!, source: 'srp-add' };
  const key = srpKey({ host: seen.host, idExt: seen.idExt, iocGuid: seen.iocGuid, initiatorExt: ZERO_EXT });
  if (seen.ib) {
    const target: SrpTarget = { host: seen.host, idExt: seen.idExt, iocGuid: seen.iocGuid, initiatorExt: ZERO_EXT, address: { kind: 'ib-cm', ...seen.ib }, options: {} };
    return { key, target, source: 'sysfs' };
  }
  return { key, source: 'sysfs', why: 'an RDMA/CM login not added with `sanhook srp-add`: the kernel shows no dest for it, so sanhook cannot write it to add_target again' };
}
