/**
 * The discovery log page as printed by `nvme discover -o json` (nvme-cli 2.x).
 *
 * Contract: `parseDiscoveryLog()` turns nvme-cli's JSON text into records,
 * keeping every record (valid or not) so the decision can report each one;
 * fields from the wire are never trusted: `checkRecord()` validates them with
 * the same validators as user input before they can reach an argv.
 */
import { ActionError, UsageError } from '../../core/errors.js';
import * as validate from './validate.js';

/**
 * nvme-cli's strings for the record subtype (libnvme nvmf_subtype_str; the
 * NVMe base spec's SUBTYPE 1, 2 and 3). Subtype 1 is a referral to another
 * discovery service: libnvme (nvme-cli 2.x) prints it "discovery subsystem
 * referral", nvme-cli 1.x printed "discovery subsystem". Subtype 3 is the
 * entry of the discovery controller that returned the log (TP 8013).
 */
export const SUBTYPE_NVME = 'nvme subsystem';
export const SUBTYPES_REFERRAL = ['discovery subsystem referral', 'discovery subsystem'];
export const SUBTYPE_CURRENT_DISCOVERY = 'current discovery subsystem';

export interface RawRecord {
  readonly trtype: string;
  readonly adrfam: string;
  readonly subtype: string;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly subnqn: string;
  readonly portid?: number;
}

export interface DiscoveryLog {
  readonly genctr: number;
  readonly records: readonly RawRecord[];
}

export function parseDiscoveryLog(stdout: string): DiscoveryLog {
  let data: unknown;
  try {
    data = JSON.parse(stdout);
  } catch (error) {
    throw new ActionError('nvme discover printed something that is not JSON', { stdout: stdout.slice(0, 200) }, { cause: error });
  }
  const object = data as { genctr?: unknown; records?: unknown };
  if (typeof object !== 'object' || object === null || !Array.isArray(object.records)) {
    throw new ActionError('nvme discover JSON has no "records" list', { stdout: stdout.slice(0, 200) });
  }
  const text = (value: unknown) => (typeof value === 'string' ? value.trim() : value === undefined || value === null ? '' : String(value));
  return {
    genctr: typeof object.genctr === 'number' ? object.genctr : Number(object.genctr ?? 0),
    records: object.records.map((entry: Record<string, unknown>) => ({
      trtype: text(entry.trtype),
      adrfam: text(entry.adrfam),
      subtype: text(entry.subtype),
      traddr: text(entry.traddr),
      trsvcid: text(entry.trsvcid),
      subnqn: text(entry.subnqn),
      ...(typeof entry.portid === 'number' ? { portid: entry.portid } : {}),
    })),
  };
}

/** A record whose fields passed validation; safe to put into an argv. */
export interface CheckedRecord {
  readonly transport: validate.Transport;
  readonly traddr: string;
  /** "none" where the transport has no service id (fc). */
  readonly trsvcid: string;
  readonly subnqn: string;
}

/** A referral record whose address passed validation: the discovery service it names. */
export interface CheckedReferral {
  readonly transport: validate.Transport;
  readonly traddr: string;
  /** "none" where the transport has no service id (fc). */
  readonly trsvcid: string;
}

/** Validates a referral's address fields (its subnqn is the well-known discovery NQN, and not used). */
export function checkReferral(record: RawRecord): CheckedReferral | { invalid: string } {
  try {
    const transport = validate.transport(record.trtype, 'referral trtype');
    const traddr = validate.transportAddress(record.traddr, transport, 'referral traddr');
    const trsvcid = transport === 'fc' || transport === 'loop' ? 'none' : validate.port(record.trsvcid, 'referral trsvcid');
    return { transport, traddr, trsvcid };
  } catch (error) {
    if (error instanceof UsageError) return { invalid: error.message };
    throw error;
  }
}

/** Validates one record's wire fields; returns why not when it cannot be used. */
export function checkRecord(record: RawRecord): CheckedRecord | { invalid: string } {
  try {
    const transport = validate.transport(record.trtype, 'record trtype');
    const traddr = validate.transportAddress(record.traddr, transport, 'record traddr');
    const trsvcid = transport === 'fc' ? 'none' : validate.port(record.trsvcid, 'record trsvcid');
    const subnqn = validate.nqn(record.subnqn, 'record subnqn');
    return { transport, traddr, trsvcid, subnqn };
  } catch (error) {
    if (error instanceof UsageError) return { invalid: error.message };
    throw error;
  }
}
