/**
 * What a `connect` is asked to do, from any of its three inputs: command-line
 * options, a udev event's environment, or a line of /etc/nvme/discovery.conf.
 *
 * Contract: pure functions. Every input goes through `requestFromOptions()`,
 * which runs one validator per option, so an argv word, a uevent variable and
 * a discovery.conf token are held to the same rules. A request round-trips
 * through `requestToArgv()` (used to hand work to a transient unit).
 */
import { parseArgs } from 'node:util';
import { ConfigError, UsageError } from '../../core/errors.js';
import { addressOptions, NONE, type NvmfDiscoveryEndpoint } from './keys.js';
import * as validate from './validate.js';
import { matchUevent } from './prefilter.js';

/** Why a discovery round runs: `referral` follows another log's referral record, `timer` is timerd bringing back a persistent discovery controller. */
export const TRIGGERS = ['manual', 'boot', 'aen', 'rediscover', 'fc-discovery', 'referral', 'timer'] as const;
export type Trigger = (typeof TRIGGERS)[number];

export interface ConnectRequest {
  readonly trigger: Trigger;
  readonly discovery: NvmfDiscoveryEndpoint;
  /** Re-read the log through this existing (persistent) discovery controller. */
  readonly device?: string;
  readonly hostnqn?: string;
  readonly hostid?: string;
  /** Connect only this subsystem from the log (nvme-cli's -n). */
  readonly nqn?: string;
  readonly reconnectDelay?: number;
  readonly ctrlLossTmo?: number;
  /** Keep a persistent discovery controller (for AENs). */
  readonly persistent: boolean;
  /** Set on a round that follows a referral: how it was reached (connect-decide.ts bounds it). */
  readonly referral?: ReferralChain;
}

/** The discovery addresses (keys) a referral round was reached through, first the one the event named. */
export interface ReferralChain {
  /** Referral hops from the first round: 1 for an address a configured one refers to. */
  readonly depth: number;
  readonly via: readonly string[];
}

/** The nvme-cli options sanhook's connect understands, with nvme-cli's short names. */
export const NVMF_OPTIONS = {
  transport: { short: 't', type: 'string', description: 'transport: tcp, rdma, fc or loop' },
  traddr: { short: 'a', type: 'string', description: 'discovery controller address' },
  trsvcid: { short: 's', type: 'string', description: 'discovery service id (port); tcp default 8009, rdma 4420' },
  'host-traddr': { short: 'w', type: 'string', description: 'host transport address' },
  'host-iface': { short: 'f', type: 'string', description: 'host network interface (tcp)' },
  hostnqn: { short: 'q', type: 'string', description: 'host NQN (default: /etc/nvme/hostnqn)' },
  hostid: { short: 'I', type: 'string', description: 'host ID (default: /etc/nvme/hostid)' },
  nqn: { short: 'n', type: 'string', description: 'connect only this subsystem NQN from the log' },
  'reconnect-delay': { short: 'c', type: 'string', description: 'seconds between kernel reconnect attempts' },
  'ctrl-loss-tmo': { short: 'l', type: 'string', description: 'seconds before the kernel gives up (-1 = never)' },
  persistent: { short: 'p', type: 'boolean', description: 'keep a persistent discovery controller' },
  device: { short: 'd', type: 'string', description: 're-read the log through this discovery controller (nvmeX)' },
} as const;

export type NvmfOptionName = keyof typeof NVMF_OPTIONS;
export type RawOptions = Partial<Record<NvmfOptionName, string | boolean | undefined>>;

/** IANA-assigned NVMe/TCP discovery port; RDMA discovery conventionally uses 4420. */
export const DEFAULT_DISCOVERY_PORT: Record<validate.Transport, string> = { tcp: '8009', rdma: '4420', fc: NONE, loop: NONE };

const flag = (name: NvmfOptionName) => `--${name}`;

function str(raw: RawOptions, name: NvmfOptionName): string | undefined {
  const value = raw[name];
  if (value === undefined || typeof value === 'boolean') return undefined;
  return value;
}

/** Validates raw option values into a request. `device` alone is completed later from sysfs. */
export function requestFromOptions(raw: RawOptions, trigger: Trigger): ConnectRequest | { needsDevice: string; partial: Omit<ConnectRequest, 'discovery'> } {
  const rest: Omit<ConnectRequest, 'discovery'> = {
    trigger,
    persistent: raw.persistent === true,
    ...opt(raw, 'hostnqn', (v) => ({ hostnqn: validate.nqn(v, flag('hostnqn')) })),
    ...opt(raw, 'hostid', (v) => ({ hostid: validate.hostId(v, flag('hostid')) })),
    ...opt(raw, 'nqn', (v) => ({ nqn: validate.nqn(v, flag('nqn')) })),
    ...opt(raw, 'reconnect-delay', (v) => ({ reconnectDelay: validate.reconnectDelay(v, flag('reconnect-delay')) })),
    ...opt(raw, 'ctrl-loss-tmo', (v) => ({ ctrlLossTmo: validate.ctrlLossTmo(v, flag('ctrl-loss-tmo')) })),
    ...opt(raw, 'device', (v) => ({ device: validate.device(v, flag('device')) })),
  };
  const transportRaw = str(raw, 'transport');
  if (transportRaw === undefined) {
    if (rest.device) return { needsDevice: rest.device, partial: rest };
    throw new UsageError('--transport is required (or --device, --all, or a udev event)', '--transport');
  }
  return { ...rest, discovery: discoveryEndpoint(raw, validate.transport(transportRaw, flag('transport'))) };
}

function opt<T>(raw: RawOptions, name: NvmfOptionName, make: (value: string) => T): T | Record<string, never> {
  const value = str(raw, name);
  return value === undefined ? {} : make(value);
}

function discoveryEndpoint(raw: RawOptions, transport: validate.Transport): NvmfDiscoveryEndpoint {
  const traddrRaw = str(raw, 'traddr');
  const trsvcidRaw = str(raw, 'trsvcid');
  const hostTraddrRaw = str(raw, 'host-traddr');
  const hostIfaceRaw = str(raw, 'host-iface');
  let traddr = NONE;
  if (transport !== 'loop') {
    if (traddrRaw === undefined) throw new UsageError(`--traddr is required for ${transport}`, '--traddr');
    traddr = validate.transportAddress(traddrRaw, transport, flag('traddr'));
  }
  let trsvcid = DEFAULT_DISCOVERY_PORT[transport];
  if (trsvcidRaw !== undefined && trsvcidRaw !== NONE) {
    if (transport === 'fc' || transport === 'loop') throw new UsageError(`--trsvcid is not used with ${transport}, got ${validate.showValue(trsvcidRaw)}`, '--trsvcid', trsvcidRaw);
    trsvcid = validate.port(trsvcidRaw, flag('trsvcid'));
  }
  const hostTraddr = hostTraddrRaw === undefined || hostTraddrRaw === NONE ? NONE : validate.transportAddress(hostTraddrRaw, transport, flag('host-traddr'));
  if (transport === 'fc' && hostTraddr === NONE) throw new UsageError('--host-traddr is required for fc', '--host-traddr');
  let hostIface = NONE;
  if (hostIfaceRaw !== undefined && hostIfaceRaw !== NONE) {
    if (transport !== 'tcp') throw new UsageError(`--host-iface is only used with tcp, got ${validate.showValue(hostIfaceRaw)}`, '--host-iface', hostIfaceRaw);
    hostIface = validate.hostIface(hostIfaceRaw, flag('host-iface'));
  }
  return { kind: 'nvmf-disc', transport, traddr, trsvcid, hostTraddr, hostIface };
}

export { AEN_DISCOVERY_LOG_CHANGED } from './prefilter.js';

export type UeventInput =
  | { readonly kind: 'irrelevant'; readonly why: string }
  | { readonly kind: 'device'; readonly trigger: Trigger; readonly device: string; readonly raw: RawOptions }
  | { readonly kind: 'endpoint'; readonly trigger: Trigger; readonly raw: RawOptions };

/**
 * Classifies a udev event environment (DESIGN §4). Only the variable names
 * are checked here; values are validated by `requestFromOptions()` like argv.
 */
export function classifyUevent(eventEnv: Readonly<Record<string, string | undefined>>): UeventInput {
  const env = presentOnly(eventEnv);
  const match = matchUevent(env);
  if (!match.relevant) return { kind: 'irrelevant', why: match.why };
  if (match.trigger === 'fc-discovery') {
    return { kind: 'endpoint', trigger: 'fc-discovery', raw: { transport: 'fc', traddr: env.NVMEFC_TRADDR, 'host-traddr': env.NVMEFC_HOST_TRADDR } };
  }
  const trigger: Trigger = match.trigger;
  const device = env.DEVPATH ? env.DEVPATH.slice(env.DEVPATH.lastIndexOf('/') + 1) : (env.DEVNAME ?? '');
  return {
    kind: 'device',
    trigger,
    device,
    raw: {
      device,
      ...(env.NVME_TRTYPE !== undefined ? { transport: env.NVME_TRTYPE } : {}),
      ...(env.NVME_TRADDR !== undefined ? { traddr: env.NVME_TRADDR } : {}),
      ...(env.NVME_TRSVCID !== undefined ? { trsvcid: env.NVME_TRSVCID } : {}),
      ...(env.NVME_HOST_TRADDR !== undefined ? { 'host-traddr': env.NVME_HOST_TRADDR } : {}),
      ...(env.NVME_HOST_IFACE !== undefined ? { 'host-iface': env.NVME_HOST_IFACE } : {}),
    },
  };
}

/**
 * The kernel and udev never give a property an empty value, while the rules'
 * `systemd-run --setenv=NAME` passes an absent NAME as `NAME=` (systemd's
 * passthrough): an empty value therefore means "absent".
 */
function presentOnly(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
}

export interface ConfLine {
  readonly line: number;
  readonly request: ConnectRequest;
}

/**
 * Parses nvme-cli's /etc/nvme/discovery.conf: one `nvme discover` argument
 * list per line, `#` comments, blank lines ignored. Any bad line fails the
 * whole file (validate once, up front), naming the line.
 */
export function parseDiscoveryConf(file: string, text: string): ConfLine[] {
  const result: ConfLine[] = [];
  const options = Object.fromEntries(
    Object.entries(NVMF_OPTIONS)
      .filter(([name]) => name !== 'device')
      .map(([name, o]) => [name, { short: o.short, type: o.type }]),
  ) as Record<string, { short: string; type: 'string' | 'boolean' }>;
  text.split('\n').forEach((rawLine, index) => {
    const lineNo = index + 1;
    const line = rawLine.replace(/#.*$/, '').trim();
    if (line === '') return;
    let values: RawOptions;
    try {
      const parsed = parseArgs({ args: line.split(/\s+/), options, strict: true, allowPositionals: false });
      values = parsed.values as RawOptions;
    } catch (error) {
      throw new ConfigError(file, lineNo, undefined, (error as Error).message.split('\n')[0] ?? 'cannot parse line', { cause: error });
    }
    try {
      const request = requestFromOptions(values, 'boot');
      if ('needsDevice' in request) throw new UsageError('--transport is required');
      result.push({ line: lineNo, request });
    } catch (error) {
      if (error instanceof UsageError) {
        throw new ConfigError(file, lineNo, error.option, error.message.replace(/^--[a-z-]+: /, ''), { cause: error });
      }
      throw error;
    }
  });
  return result;
}

/** Rebuilds a command line for `sanhook connect` that yields the same request. */
export function requestToArgv(request: ConnectRequest): string[] {
  const d = request.discovery;
  const argv = ['--transport', d.transport];
  if (d.traddr !== NONE) argv.push('--traddr', d.traddr);
  if (d.trsvcid !== NONE) argv.push('--trsvcid', d.trsvcid);
  if (d.hostTraddr !== NONE) argv.push('--host-traddr', d.hostTraddr);
  if (d.hostIface !== NONE) argv.push('--host-iface', d.hostIface);
  if (request.device) argv.push('--device', request.device);
  if (request.hostnqn) argv.push('--hostnqn', request.hostnqn);
  if (request.hostid) argv.push('--hostid', request.hostid);
  if (request.nqn) argv.push('--nqn', request.nqn);
  if (request.reconnectDelay !== undefined) argv.push('--reconnect-delay', String(request.reconnectDelay));
  if (request.ctrlLossTmo !== undefined) argv.push('--ctrl-loss-tmo', String(request.ctrlLossTmo));
  if (request.persistent) argv.push('--persistent');
  argv.push('--trigger', request.trigger);
  return argv;
}

/** The options that name a discovery address and how to reach it: a discovery record's and timerd's stored form. */
export const DISCOVERY_ADDRESS_OPTIONS = ['transport', 'traddr', 'trsvcid', 'host-traddr', 'host-iface', 'hostnqn', 'hostid', 'reconnect-delay', 'ctrl-loss-tmo'] as const;

/** A round's discovery address with its host identity and timers, as plain option strings (inverse: discoveryRequestFromOptions). */
export function discoveryOptions(request: ConnectRequest): Record<string, string> {
  const options: Record<string, string> = { transport: request.discovery.transport, ...addressOptions(request.discovery) };
  if (request.hostnqn) options.hostnqn = request.hostnqn;
  if (request.hostid) options.hostid = request.hostid;
  if (request.reconnectDelay !== undefined) options['reconnect-delay'] = String(request.reconnectDelay);
  if (request.ctrlLossTmo !== undefined) options['ctrl-loss-tmo'] = String(request.ctrlLossTmo);
  return options;
}

/**
 * Validates stored or given discovery-address options (a timer's, a
 * record's, `disconnect --discovery`'s) into a persistent round's request,
 * with the same validators as `connect`; `prefix` names the field in errors.
 */
export function discoveryRequestFromOptions(options: Readonly<Record<string, string | undefined>>, trigger: Trigger, prefix = '--'): ConnectRequest {
  for (const name of Object.keys(options)) {
    if (!(DISCOVERY_ADDRESS_OPTIONS as readonly string[]).includes(name)) throw new UsageError(`${prefix}${name}: unknown option`, `${prefix}${name}`);
  }
  if (options.transport === undefined) throw new UsageError(`${prefix}transport is required`, `${prefix}transport`);
  try {
    const request = requestFromOptions({ ...options, persistent: true }, trigger);
    if ('needsDevice' in request) throw new UsageError(`${prefix}transport is required`, `${prefix}transport`);
    return request;
  } catch (error) {
    if (error instanceof UsageError && prefix !== '--' && error.option?.startsWith('--')) {
      const option = `${prefix}${error.option.slice(2)}`;
      throw new UsageError(error.message.replace(error.option, option), option, error.value, { cause: error });
    }
    throw error;
  }
}
