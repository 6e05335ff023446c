/**
 * One NVMe-oF I/O controller path, as the `reconnect`, `give-up` and
 * `disconnect` hooks and timerd's entries name it.
 *
 * Contract: `ioParamsFromOptions()` validates nvme-cli-named options (the same
 * validators as everywhere) into IoConnectParams; `ioParamsToOptions()` is its
 * inverse, so a timer entry stores plain option strings and timerd can rebuild
 * an argv without ever holding a command.
 */
import { UsageError } from '../../core/errors.js';
import { addressOptions, endpointKey, NONE, type NvmfEndpoint } from './keys.js';
import * as validate from './validate.js';
import type { IoConnectParams } from './connect-decide.js';
import type { Controller } from './sysfs.js';

export const IO_OPTIONS = ['transport', 'traddr', 'trsvcid', 'nqn', 'host-traddr', 'host-iface', 'hostnqn', 'hostid', 'reconnect-delay', 'ctrl-loss-tmo'] as const;
export type IoOption = (typeof IO_OPTIONS)[number];
export type IoOptions = Partial<Record<IoOption, string>>;

/** NVMe/TCP and RDMA I/O queues default to the IANA NVMe-oF port. */
export const DEFAULT_IO_PORT = '4420';

export function ioParamsFromOptions(options: Readonly<Record<string, string | undefined>>, prefix = '--'): IoConnectParams {
  for (const name of Object.keys(options)) {
    if (!(IO_OPTIONS as readonly string[]).includes(name)) throw new UsageError(`${prefix}${name}: unknown option`, `${prefix}${name}`);
  }
  const get = (name: IoOption) => options[name];
  const need = (name: IoOption) => {
    const value = get(name);
    if (value === undefined) throw new UsageError(`${prefix}${name} is required`, `${prefix}${name}`);
    return value;
  };
  const transport = validate.transport(need('transport'), `${prefix}transport`);
  const traddr = transport === 'loop' ? NONE : validate.transportAddress(need('traddr'), transport, `${prefix}traddr`);
  const trsvcidRaw = get('trsvcid');
  const trsvcid = transport === 'fc' || transport === 'loop' ? NONE : trsvcidRaw === undefined ? DEFAULT_IO_PORT : validate.port(trsvcidRaw, `${prefix}trsvcid`);
  const hostTraddrRaw = get('host-traddr');
  const hostTraddr = hostTraddrRaw === undefined || hostTraddrRaw === NONE ? NONE : validate.transportAddress(hostTraddrRaw, transport, `${prefix}host-traddr`);
  const hostIfaceRaw = get('host-iface');
  const hostIface = hostIfaceRaw === undefined || hostIfaceRaw === NONE ? NONE : validate.hostIface(hostIfaceRaw, `${prefix}host-iface`);
  const hostnqn = get('hostnqn');
  const hostid = get('hostid');
  const reconnectDelay = get('reconnect-delay');
  const ctrlLossTmo = get('ctrl-loss-tmo');
  return {
    transport,
    traddr,
    trsvcid,
    subnqn: validate.nqn(need('nqn'), `${prefix}nqn`),
    hostTraddr,
    hostIface,
    ...(hostnqn !== undefined ? { hostnqn: validate.nqn(hostnqn, `${prefix}hostnqn`) } : {}),
    ...(hostid !== undefined ? { hostid: validate.hostId(hostid, `${prefix}hostid`) } : {}),
    ...(reconnectDelay !== undefined ? { reconnectDelay: validate.reconnectDelay(reconnectDelay, `${prefix}reconnect-delay`) } : {}),
    ...(ctrlLossTmo !== undefined ? { ctrlLossTmo: validate.ctrlLossTmo(ctrlLossTmo, `${prefix}ctrl-loss-tmo`) } : {}),
  };
}

export function ioParamsToOptions(params: IoConnectParams): Record<string, string> {
  const options: Record<string, string> = { transport: params.transport, nqn: params.subnqn, ...addressOptions(params) };
  if (params.hostnqn) options.hostnqn = params.hostnqn;
  if (params.hostid) options.hostid = params.hostid;
  if (params.reconnectDelay !== undefined) options['reconnect-delay'] = String(params.reconnectDelay);
  if (params.ctrlLossTmo !== undefined) options['ctrl-loss-tmo'] = String(params.ctrlLossTmo);
  return options;
}

export function ioEndpoint(params: IoConnectParams): NvmfEndpoint {
  return { kind: 'nvmf', transport: params.transport, traddr: params.traddr, trsvcid: params.trsvcid, subnqn: params.subnqn, hostTraddr: params.hostTraddr, hostIface: params.hostIface };
}

export function ioKey(params: IoConnectParams): string {
  return endpointKey(ioEndpoint(params));
}

/** The I/O path a controller in sysfs stands for, as options (unvalidated: sysfs is data too). */
export function ioOptionsFromController(controller: Controller, withHostIdentity = false): IoOptions {
  return {
    transport: controller.transport,
    traddr: controller.traddr,
    ...(controller.trsvcid !== NONE ? { trsvcid: controller.trsvcid } : {}),
    ...(controller.hostTraddr !== NONE ? { 'host-traddr': controller.hostTraddr } : {}),
    ...(controller.hostIface !== NONE ? { 'host-iface': controller.hostIface } : {}),
    nqn: controller.subsysnqn,
    ...(withHostIdentity && controller.hostnqn ? { hostnqn: controller.hostnqn } : {}),
  };
}
