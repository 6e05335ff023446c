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

/** nvme-cli's strings for the record subtype (libnvme nvmf_subtype_str). */
export const SUBTYPE_NVME = 'nvme subsystem';
export const SUBTYPES_DISCOVERY = ['discovery subsystem', 'current discovery subsystem'];
export const SUBTYPE_REFERRAL = 'referral';

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
