/**
 * One validator per input option.
 *
 * Contract: each validator takes the raw string exactly as received (argv word,
 * uevent variable, discovery.conf token) and returns a normalised value or
 * throws a UsageError that names the option and shows the bad value safely.
 * Values that pass contain no whitespace, shell metacharacters or path
 * separators, so they are safe as argv words, in keys and in log lines.
 */
import { isIP } from 'node:net';
import { UsageError } from './errors.js';

export const TRANSPORTS = ['tcp', 'rdma', 'fc', 'loop'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** NVMe Base Spec: an NQN is at most 223 bytes. */
export const NQN_MAX_BYTES = 223;
/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const IFNAME_MAX = 15;
/** NVMe-oF well-known discovery subsystem NQN. */
export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';
/** Longest value we ever echo back in an error, so a hostile value cannot flood the log. */
const SHOWN_MAX = 64;

/** Render a bad value for a one-line message: quoted, control characters escaped, truncated. */
export function showValue(value: string): string {
  const cut = value.length > SHOWN_MAX ? `${value.slice(0, SHOWN_MAX)}…` : value;
  return JSON.stringify(cut) + (value.length > SHOWN_MAX ? ` (${value.length} characters)` : '');
}

function bad(option: string, value: string, why: string): never {
  throw new UsageError(`${option}: ${why}, got ${showValue(value)}`, option, value);
}

export function transport(value: string, option = '--transport'): Transport {
  if ((TRANSPORTS as readonly string[]).includes(value)) return value as Transport;
  return bad(option, value, `must be one of ${TRANSPORTS.join(', ')}`);
}

const FC_ADDRESS = /^nn-0x[0-9a-fA-F]{16}:pn-0x[0-9a-fA-F]{16}$/;

/** An IP address for tcp/rdma, an `nn-0x…:pn-0x…` WWN pair for fc. Lower-cased. */
export function transportAddress(value: string, kind: Transport, option: string): string {
  if (kind === 'fc') {
    if (FC_ADDRESS.test(value)) return value.toLowerCase();
    return bad(option, value, 'must be an FC address nn-0x<16 hex>:pn-0x<16 hex>');
  }
  if (kind === 'loop') return bad(option, value, 'is not used with the loop transport');
  if (isIP(value) !== 0) return canonicalIp(value);
  return bad(option, value, `must be an IPv4 or IPv6 address for ${kind}`);
}

/** One spelling per address (IPv6 compressed, lower case) so comparisons with sysfs hold. */
export function canonicalIp(value: string): string {
  if (isIP(value) !== 6) return value.toLowerCase();
  try {
    return new URL(`http://[${value}]/`).hostname.slice(1, -1);
  } catch {
    return value.toLowerCase();
  }
}

export function port(value: string, option = '--trsvcid'): string {
  if (/^[0-9]{1,5}$/.test(value)) {
    const n = Number(value);
    if (n >= 1 && n <= 65535) return String(n);
  }
  return bad(option, value, 'must be a port number 1-65535');
}

export function hostIface(value: string, option = '--host-iface'): string {
  if (value.length > IFNAME_MAX) return bad(option, value, `must be an interface name of at most ${IFNAME_MAX} characters`);
  if (/^[A-Za-z0-9_][A-Za-z0-9_.@-]*$/.test(value) && value !== '.' && value !== '..') return value;
  return bad(option, value, 'must be an interface name (letters, digits, _ . @ -)');
}

const NQN = /^nqn\.[0-9]{4}-[0-9]{2}\.[A-Za-z0-9][A-Za-z0-9.-]*(:[A-Za-z0-9._:+@=-]+)?$/;

export function nqn(value: string, option = '--nqn'): string {
  if (Buffer.byteLength(value) > NQN_MAX_BYTES) return bad(option, value, `must be at most ${NQN_MAX_BYTES} bytes`);
  if (NQN.test(value)) return value;
  return bad(option, value, 'must be an NQN like nqn.2014-08.org.example:name (letters, digits, . : - _ + @ =)');
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function hostId(value: string, option = '--hostid'): string {
  if (UUID.test(value)) return value.toLowerCase();
  return bad(option, value, 'must be a UUID');
}

function integer(value: string, option: string, min: number, max: number, what: string): number {
  if (/^-?[0-9]{1,10}$/.test(value)) {
    const n = Number(value);
    if (n >= min && n <= max) return n;
  }
  return bad(option, value, what);
}

/** Seconds between reconnect attempts; the kernel requires at least 1. */
export function reconnectDelay(value: string, option = '--reconnect-delay'): number {
  return integer(value, option, 1, 86_400, 'must be whole seconds 1-86400');
}

/** Seconds before the kernel gives up on a lost controller; -1 means never, 0 at once. */
export function ctrlLossTmo(value: string, option = '--ctrl-loss-tmo'): number {
  return integer(value, option, -1, 31_536_000, 'must be -1 (never) or whole seconds 0-31536000');
}

export function device(value: string, option = '--device'): string {
  const name = value.startsWith('/dev/') ? value.slice('/dev/'.length) : value;
  if (/^nvme[0-9]{1,6}$/.test(name)) return name;
  return bad(option, value, 'must be an NVMe controller name like nvme0');
}
