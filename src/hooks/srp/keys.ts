/**
 * SRP's key kind: `srp:<ibdev>-<port>:<id_ext>:<ioc_guid>:<initiator_ext>`,
 * one login to one target through one local IB port — exactly what the
 * kernel keeps unique (ib_srp.c `srp_conn_unique`: same SRP host, id_ext,
 * ioc_guid and initiator_ext is "already connected"). Two paths to one
 * target through two HCA ports are two keys.
 *
 * Contract: the parts are canonical (identity.ts), so the key is the same
 * whether it comes from sysfs, the udev database, a timer or srp-add.
 */
import type { SrpHost, SrpTarget } from './identity.js';

export const SRP_KEY_KIND = 'srp';

export interface KeyParts {
  readonly host: SrpHost;
  readonly idExt: string;
  readonly iocGuid: string;
  readonly initiatorExt: string;
}

export function srpKey(parts: KeyParts): string {
  return `${SRP_KEY_KIND}:${parts.host.ibdev}-${parts.host.port}:${parts.idExt}:${parts.iocGuid}:${parts.initiatorExt}`;
}

export function targetKey(target: SrpTarget): string {
  return srpKey(target);
}
