/**
 * NVMe-oF's validators: one per nvme-cli option, built on the shared ones in
 * core/validate.ts (same contract: raw string in, normalised value or a
 * UsageError naming the option and the bad value out).
 */
import { integer, interfaceName, invalid, ipAddress, port as anyPort } from '../../core/validate.js';

export { canonicalIp, showValue } from '../../core/validate.js';

export const TRANSPORTS = ['tcp', 'rdma', 'fc', 'loop'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** NVMe Base Spec: an NQN is at most 223 bytes. */
export const NQN_MAX_BYTES = 223;
/** NVMe-oF well-known discovery subsystem NQN. */
export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

export function transport(value: string, option = '--transport'): Transport {
  if ((TRANSPORTS as readonly string[]).includes(value)) return value as Transport;
  return invalid(option, value, `must be one of ${TRANSPORTS.join(', ')}`);
}

const FC_ADDRESS = /^nn-0x[0-9a-fA-F]{16}:pn-0x[0-9a-fA-F]{16}$/;

/** An IP address for tcp/rdma, an `nn-0x…:pn-0x…` WWN pair for fc. Lower-cased. */
export function transportAddress(value: string, kind: Transport, option: string): string {
  if (kind === 'fc') {
    if (FC_ADDRESS.test(value)) return value.toLowerCase();
    return invalid(option, value, 'must be an FC address nn-0x<16 hex>:pn-0x<16 hex>');
  }
  if (kind === 'loop') return invalid(option, value, 'is not used with the loop transport');
  return ipAddress(value, option, `must be an IPv4 or IPv6 address for ${kind}`);
}

export function port(value: string, option = '--trsvcid'): string {
  return anyPort(value, option);
}

export function hostIface(value: string, option = '--host-iface'): string {
  return interfaceName(value, option);
}

const NQN = /^nqn\.[0-9]{4}-[0-9]{2}\.[A-Za-z0-9][A-Za-z0-9.-]*(:[A-Za-z0-9._:+@=-]+)?$/;

export function nqn(value: string, option = '--nqn'): string {
  if (Buffer.byteLength(value) > NQN_MAX_BYTES) return invalid(option, value, `must be at most ${NQN_MAX_BYTES} bytes`);
  if (NQN.test(value)) return value;
  return invalid(option, value, 'must be an NQN like nqn.2014-08.org.example:name (letters, digits, . : - _ + @ =)');
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function hostId(value: string, option = '--hostid'): string {
  if (UUID.test(value)) return value.toLowerCase();
  return invalid(option, value, 'must be a UUID');
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
  return invalid(option, value, 'must be an NVMe controller name like nvme0');
}
