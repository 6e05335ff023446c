/**
 * An SRP target login: what one line written to
 * /sys/class/infiniband_srp/srp-<ibdev>-<port>/add_target says, parsed,
 * validated and built back (ib_srp.c `srp_parse_options`).
 *
 * The kernel splits that line at every `,` and `\n` (strsep) and matches
 * each piece against its option table. So a value holding a comma or a
 * newline would inject another option; a value the kernel would read in
 * another base (kstrtoull base 16, match_int base 0) would name another
 * target. Each field here has one validator with the kernel's own rules,
 * narrower where the kernel is lax (no octal, no signs), and the builder
 * re-checks every value before it joins them.
 *
 * Contract: pure. `parseTargetLine()` and `targetFromFields()` return a
 * canonical `SrpTarget` or throw a UsageError naming the option and the bad
 * value; `addTargetLine()` is its inverse (canonical order, canonical
 * spelling), so a line recorded, armed and written is the same text.
 */
import { isIP } from 'node:net';
import { invalid } from '../../core/validate.js';

/**
 * sysfs hands a store at most one page; ib_srp copies the whole buffer.
 * Real lines are < 300 bytes: anything near the page is not a login line.
 */
export const ADD_TARGET_LINE_MAX = 1024;
/** IB_DEVICE_NAME_MAX (64) including the NUL. */
const IBDEV_MAX = 63;

/** One IB port of one RDMA device: where add_target lives (`srp-<ibdev>-<port>`). */
export interface SrpHost {
  readonly ibdev: string;
  readonly port: number;
}

/** The options a login may carry besides its address, by the kernel's names. */
export const TUNING_OPTIONS = [
  'max_sect',
  'max_cmd_per_lun',
  'target_can_queue',
  'io_class',
  'cmd_sg_entries',
  'allow_ext_sg',
  'sg_tablesize',
  'comp_vector',
  'tl_retry_count',
  'queue_size',
  'max_it_iu_size',
  'ch_count',
] as const;
export type TuningOption = (typeof TUNING_OPTIONS)[number];

/** How the target is reached: IB CM (a GID, P_Key and service ID) or RDMA/CM (an IP address and port). */
export type SrpAddress =
  | { readonly kind: 'ib-cm'; readonly dgid: string; readonly pkey: string; readonly serviceId: string }
  | { readonly kind: 'rdma-cm'; readonly dest: string; readonly src?: string };

/** A target login, canonical: ids are 16 lowercase hex digits without 0x. */
export interface SrpTarget {
  readonly host: SrpHost;
  readonly idExt: string;
  readonly iocGuid: string;
  /** 0 when the line gave none (the kernel's default, and srp_daemon's without -n). */
  readonly initiatorExt: string;
  readonly address: SrpAddress;
  readonly options: Readonly<Partial<Record<TuningOption, string>>>;
}

// ---------------------------------------------------------------------------
// One validator per field

/** A 64-bit id as kstrtoull(…, 16) reads it, optional 0x; canonical: 16 lowercase digits. */
export function hex64(value: string, option: string): string {
  if (!/^(0[xX])?[0-9a-fA-F]{1,16}$/.test(value)) invalid(option, value, 'must be a 64-bit hex number (up to 16 hex digits, optional 0x)');
  return value.replace(/^0[xX]/, '').toLowerCase().padStart(16, '0');
}

/** A GID: 32 hex digits (add_target's form) or the 8 colon groups sysfs shows; canonical: 32 lowercase digits. */
export function gid(value: string, option: string): string {
  const plain = /^([0-9a-fA-F]{4}:){7}[0-9a-fA-F]{4}$/.test(value) ? value.replaceAll(':', '') : value;
  if (!/^[0-9a-fA-F]{32}$/.test(plain)) invalid(option, value, 'must be a GID: 32 hex digits, or 8 groups of 4 separated by colons');
  return plain.toLowerCase();
}

/** A P_Key: up to 4 hex digits, optional 0x; canonical: 4 lowercase digits. */
export function pkey(value: string, option: string): string {
  if (!/^(0[xX])?[0-9a-fA-F]{1,4}$/.test(value)) invalid(option, value, 'must be a P_Key: up to 4 hex digits, optional 0x');
  return value.replace(/^0[xX]/, '').toLowerCase().padStart(4, '0');
}

function ipOf(value: string, option: string, why: string): string {
  const inner = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  // isIP() takes fe80::1%eth0; an interface name is not an address the builder may pass on
  if (inner.includes('%')) invalid(option, value, `${why} (no %scope)`);
  const family = isIP(inner);
  if (family === 0 || (family === 6) !== (inner !== value)) invalid(option, value, why);
  return family === 6 ? `[${inner.toLowerCase()}]` : inner;
}

/** RDMA/CM destination: `IPv4:port` or `[IPv6]:port` (srp_parse_in; no scope id). */
export function destination(value: string, option: string): string {
  const why = 'must be IPv4:port or [IPv6]:port';
  const at = value.lastIndexOf(':');
  if (at <= 0 || value.length > 64) invalid(option, value, why);
  const port = value.slice(at + 1);
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) invalid(option, value, why);
  return `${ipOf(value.slice(0, at), option, why)}:${Number(port)}`;
}

/** RDMA/CM source address: IPv4 or [IPv6]. */
export function source(value: string, option: string): string {
  if (value.length > 48) invalid(option, value, 'must be an IPv4 address or [IPv6]');
  return ipOf(value, option, 'must be an IPv4 address or [IPv6]');
}

function whole(min: number, max: number, what: string) {
  return (value: string, option: string): string => {
    if (!/^[0-9]{1,10}$/.test(value) || Number(value) < min || Number(value) > max) invalid(option, value, what);
    return String(Number(value));
  };
}

/** SRP_REV10_IB_IO_CLASS and SRP_REV16A_IB_IO_CLASS, the only two the kernel takes. */
const IO_CLASSES = ['ff00', '0100'];
function ioClass(value: string, option: string): string {
  const digits = /^(0[xX])?[0-9a-fA-F]{1,4}$/.test(value) ? value.replace(/^0[xX]/, '').toLowerCase().padStart(4, '0') : '';
  if (!IO_CLASSES.includes(digits)) invalid(option, value, 'must be ff00 (SRP rev. 10) or 0100 (rev. 16a)');
  return digits;
}

const INT_MAX = 2_147_483_647;
/** The kernel's limits for each tuning option (ib_srp.c srp_parse_options); SG_MAX_SEGMENTS is 2048. */
const TUNING: Readonly<Record<TuningOption, (value: string, option: string) => string>> = {
  max_sect: whole(1, INT_MAX, 'must be a sector count of at least 1'),
  max_cmd_per_lun: whole(1, INT_MAX, 'must be at least 1'),
  target_can_queue: whole(1, INT_MAX, 'must be at least 1'),
  io_class: ioClass,
  cmd_sg_entries: whole(1, 255, 'must be 1-255'),
  allow_ext_sg: whole(0, 1, 'must be 0 or 1'),
  sg_tablesize: whole(1, 2048, 'must be 1-2048'),
  comp_vector: whole(0, INT_MAX, 'must be 0 or more'),
  tl_retry_count: whole(2, 7, 'must be 2-7'),
  queue_size: whole(1, INT_MAX, 'must be at least 1'),
  max_it_iu_size: whole(0, INT_MAX, 'must be 0 or more'),
  ch_count: whole(1, INT_MAX, 'must be at least 1'),
};

/** An RDMA device name as ib_core allows it, never a path: letters, digits, _ . - */
export function ibdevName(value: string, option: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/.test(value) || value.length > IBDEV_MAX) invalid(option, value, 'must be an RDMA device name (letters, digits, _ . -)');
  return value;
}

/** `srp-<ibdev>-<port>`: a directory of /sys/class/infiniband_srp. */
export function srpHostName(value: string, option: string): SrpHost {
  const match = /^srp-(.+)-([0-9]{1,3})$/.exec(value);
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 255) invalid(option, value, 'must be srp-<ibdev>-<port> as in /sys/class/infiniband_srp (srp-mlx5_0-1)');
  return { ibdev: ibdevName(match[1]!, option), port: Number(match[2]) };
}

export function srpHostDir(host: SrpHost): string {
  return `srp-${host.ibdev}-${host.port}`;
}

// ---------------------------------------------------------------------------
// Lines and fields

/** The keys of a line, in the order the builder writes them. */
const ADDRESS_KEYS = ['id_ext', 'ioc_guid', 'initiator_ext', 'dgid', 'pkey', 'service_id', 'dest', 'src'] as const;
export const LINE_KEYS: readonly string[] = [...ADDRESS_KEYS, ...TUNING_OPTIONS];

/**
 * A target from named fields (the line's pieces, a timer's params, the udev
 * database): every key known, every value valid, and exactly one address
 * form complete. `where` prefixes option names in messages (`--target`).
 */
export function targetFromFields(host: SrpHost, fields: Readonly<Record<string, string>>, where: string): SrpTarget {
  const name = (key: string) => `${where}: ${key}`;
  for (const key of Object.keys(fields)) {
    if (!LINE_KEYS.includes(key)) invalid(name(key), key, `unknown add_target option (known: ${LINE_KEYS.join(', ')})`);
  }
  const need = (key: string) => {
    const value = fields[key];
    if (value === undefined) invalid(name(key), '', 'missing: a login needs id_ext, ioc_guid and either dest (RDMA/CM) or dgid, pkey and service_id (IB CM)');
    return value;
  };
  const idExt = hex64(need('id_ext'), name('id_ext'));
  const iocGuid = hex64(need('ioc_guid'), name('ioc_guid'));
  const initiatorExt = fields.initiator_ext === undefined ? '0000000000000000' : hex64(fields.initiator_ext, name('initiator_ext'));
  const ibKeys = ['dgid', 'pkey', 'service_id'].filter((key) => fields[key] !== undefined);
  let address: SrpAddress;
  if (fields.dest !== undefined) {
    if (ibKeys.length > 0) invalid(name(ibKeys[0]!), fields[ibKeys[0]!]!, 'not with dest: a login is either RDMA/CM (dest) or IB CM (dgid, pkey, service_id)');
    address = { kind: 'rdma-cm', dest: destination(fields.dest, name('dest')), ...(fields.src !== undefined ? { src: source(fields.src, name('src')) } : {}) };
  } else {
    if (fields.src !== undefined) invalid(name('src'), fields.src, 'only with dest (RDMA/CM)');
    address = { kind: 'ib-cm', dgid: gid(need('dgid'), name('dgid')), pkey: pkey(need('pkey'), name('pkey')), serviceId: hex64(need('service_id'), name('service_id')) };
  }
  const options: Partial<Record<TuningOption, string>> = {};
  for (const option of TUNING_OPTIONS) {
    const value = fields[option];
    if (value !== undefined) options[option] = TUNING[option](value, name(option));
  }
  return { host, idExt, iocGuid, initiatorExt, address, options };
}

/**
 * A line as an admin writes it to add_target (`id_ext=…,ioc_guid=…,dest=…`):
 * split where the kernel splits it (`,` and newline), each piece one
 * `key=value`, no key twice.
 */
export function parseTargetLine(host: SrpHost, line: string, option: string): SrpTarget {
  if (line.length > ADD_TARGET_LINE_MAX) invalid(option, line, `must be at most ${ADD_TARGET_LINE_MAX} characters`);
  if (/[^\x21-\x7e\n]/.test(line.replace(/\n$/, ''))) invalid(option, line, 'must be printable ASCII without spaces');
  // No prototype: a piece named __proto__ must reach the unknown-key check, not vanish.
  const fields = Object.create(null) as Record<string, string>;
  for (const piece of line.split(/[,\n]/)) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    if (eq <= 0) invalid(option, piece, 'each option must be key=value');
    const key = piece.slice(0, eq);
    if (Object.hasOwn(fields, key)) invalid(`${option}: ${key}`, piece, 'given twice');
    fields[key] = piece.slice(eq + 1);
  }
  return targetFromFields(host, fields, option);
}

/** The target's fields by the kernel's names, canonical (what a timer stores, what the line says). */
export function targetFields(target: SrpTarget): Record<string, string> {
  const a = target.address;
  return {
    id_ext: target.idExt,
    ioc_guid: target.iocGuid,
    initiator_ext: target.initiatorExt,
    ...(a.kind === 'ib-cm' ? { dgid: a.dgid, pkey: a.pkey, service_id: a.serviceId } : { dest: a.dest, ...(a.src !== undefined ? { src: a.src } : {}) }),
    ...target.options,
  };
}

/**
 * The line to write to add_target. Every value is re-checked against the
 * characters its validator allows, so no path that builds an SrpTarget by
 * hand can smuggle a separator into the kernel's parser.
 */
export function addTargetLine(target: SrpTarget): string {
  const pieces = Object.entries(targetFields(target)).map(([key, value]) => {
    if (!LINE_KEYS.includes(key) || !/^[0-9a-zA-Z.:[\]]+$/.test(value)) throw new Error(`addTargetLine: refusing ${key}=${JSON.stringify(value)}`);
    return `${key}=${value}`;
  });
  return pieces.join(',');
}
