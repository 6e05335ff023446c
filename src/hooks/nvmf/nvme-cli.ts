/**
 * The Linux NVMe-oF adapter: nvme-cli.
 *
 * Contract: builds nvme-cli argv arrays from validated values only (so no
 * value can be mistaken for an option), runs them through `System.exec`, and
 * turns their output into typed results. A failed discovery is an ActionError;
 * a failed connect is a result (the caller reports every record's outcome).
 */
import type { RunInterpreter } from '../../core/fabric.js';
import { ActionError } from '../../core/errors.js';
import { NONE, type NvmfDiscoveryEndpoint } from './keys.js';
import type { System } from '../../core/system.js';
import { parseDiscoveryLog, type DiscoveryLog } from './discovery-log.js';
import type { IoConnectParams } from './connect-decide.js';

export const NVME = 'nvme';

export interface DiscoverOptions {
  readonly device?: string;
  readonly hostnqn?: string;
  readonly hostid?: string;
  readonly persistent: boolean;
  /**
   * Register the persistent discovery controller this creates as owned by
   * this name (`--owner`, nvme-cli 3.0; only when it has the option: 2.x
   * rejects unknown options). Ignored without `persistent`.
   */
  readonly owner?: string;
  /** The kernel timers of the persistent discovery controller this creates (`-c`, `-l`); ignored without `persistent`. */
  readonly reconnectDelay?: number;
  readonly ctrlLossTmo?: number;
}

export type ConnectResult =
  | { readonly outcome: 'connected'; readonly device?: string }
  | { readonly outcome: 'already-connected' }
  | { readonly outcome: 'failed'; readonly exitCode: number; readonly message: string };

function hostArgs(endpoint: { transport: string; traddr: string; trsvcid: string; hostTraddr: string; hostIface: string }): string[] {
  const argv = ['--transport', endpoint.transport];
  if (endpoint.traddr !== NONE) argv.push('--traddr', endpoint.traddr);
  if (endpoint.trsvcid !== NONE) argv.push('--trsvcid', endpoint.trsvcid);
  if (endpoint.hostTraddr !== NONE) argv.push('--host-traddr', endpoint.hostTraddr);
  if (endpoint.hostIface !== NONE) argv.push('--host-iface', endpoint.hostIface);
  return argv;
}

export function discoverArgv(endpoint: NvmfDiscoveryEndpoint, options: DiscoverOptions): string[] {
  const argv = ['discover', ...hostArgs(endpoint)];
  if (options.device) argv.push('--device', options.device);
  if (options.hostnqn) argv.push('--hostnqn', options.hostnqn);
  if (options.hostid) argv.push('--hostid', options.hostid);
  if (options.persistent && !options.device) {
    argv.push('--persistent');
    // Only a new persistent discovery controller is registered (nvme-cli 3.0, REGISTRY.md "Setting an owner").
    if (options.owner) argv.push('--owner', options.owner);
    if (options.reconnectDelay !== undefined) argv.push('--reconnect-delay', String(options.reconnectDelay));
    if (options.ctrlLossTmo !== undefined) argv.push('--ctrl-loss-tmo', String(options.ctrlLossTmo));
  }
  argv.push('--output-format', 'json');
  return argv;
}

/**
 * `nvme connect` for one I/O controller. `owner`: nvme-cli registers the new
 * controller in the ownership registry itself (`--owner`, nvme-cli 3.0;
 * only when it has the option: 2.x rejects unknown options).
 */
export function connectArgv(params: IoConnectParams, owner?: string): string[] {
  const argv = ['connect', ...hostArgs(params), '--nqn', params.subnqn];
  if (owner) argv.push('--owner', owner);
  if (params.hostnqn) argv.push('--hostnqn', params.hostnqn);
  if (params.hostid) argv.push('--hostid', params.hostid);
  if (params.reconnectDelay !== undefined) argv.push('--reconnect-delay', String(params.reconnectDelay));
  if (params.ctrlLossTmo !== undefined) argv.push('--ctrl-loss-tmo', String(params.ctrlLossTmo));
  argv.push('--output-format', 'json');
  return argv;
}

/** First non-empty line of a tool's stderr: enough for a one-line report. */
export function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
}

/**
 * Re-enables discovery-log-change AENs on a persistent discovery controller
 * before its log is read. The target masks that AEN once sent until the host
 * reads the log page with RAE=0. On Debian 12 (Linux 6.1 nvmet, nvme-cli 2.3 /
 * libnvme 1.3), `nvme discover` leaves it masked as soon as the log is longer
 * than 4096 bytes (4 or more records): the controller then never raises
 * another AEN. Reading the 1 KiB header with RAE=0 unmasks it. Done before the
 * discovery, a change after this read raises a new AEN and a change before it
 * is in the log read next, so no change is missed.
 */
export async function rearmDiscoveryAen(system: System, device: string): Promise<boolean> {
  const result = await system.exec(NVME, ['get-log', `/dev/${device}`, '--log-id=0x70', '--log-len=1024', '--raw-binary']);
  return result.exitCode === 0;
}

export async function discover(system: System, endpoint: NvmfDiscoveryEndpoint, options: DiscoverOptions): Promise<DiscoveryLog> {
  const result = await system.exec(NVME, discoverArgv(endpoint, options));
  if (result.exitCode !== 0) {
    throw new ActionError(`nvme discover failed (exit ${result.exitCode}): ${firstLine(result.stderr) || firstLine(result.stdout) || 'no message'}`, {
      argv: result.argv,
      exitCode: result.exitCode,
    });
  }
  if (result.stdout.trim() === '') return { genctr: 0, records: [] };
  return parseDiscoveryLog(result.stdout);
}

export async function connect(system: System, params: IoConnectParams): Promise<ConnectResult> {
  const result = await system.exec(NVME, connectArgv(params));
  const message = firstLine(result.stderr) || firstLine(result.stdout);
  if (/already connected/i.test(result.stderr) || /already connected/i.test(result.stdout)) return { outcome: 'already-connected' };
  if (result.exitCode !== 0) return { outcome: 'failed', exitCode: result.exitCode, message: message || 'no message' };
  try {
    const data = JSON.parse(result.stdout) as { device?: unknown };
    return typeof data.device === 'string' ? { outcome: 'connected', device: data.device } : { outcome: 'connected' };
  } catch {
    const device = /\bnvme[0-9]+\b/.exec(result.stdout)?.[0];
    return device ? { outcome: 'connected', device } : { outcome: 'connected' };
  }
}

/** How the executor reads `nvme connect` (a plan's `interpret: 'nvme-connect'`): "already connected" is not a failure. */
export const readConnect: RunInterpreter = (result) => {
  const message = firstLine(result.stderr) || firstLine(result.stdout);
  if (/already connected/i.test(result.stderr) || /already connected/i.test(result.stdout)) return { status: 'already' };
  if (result.exitCode !== 0) return { status: 'failed', message: message || 'no message' };
  let device: string | undefined;
  try {
    const data = JSON.parse(result.stdout) as { device?: unknown };
    device = typeof data.device === 'string' ? data.device : undefined;
  } catch {
    device = /\bnvme[0-9]+\b/.exec(result.stdout)?.[0];
  }
  return device ? { status: 'ok', fields: { device } } : { status: 'ok' };
};

/** `nvme disconnect`: nvme-cli 2.x exits 0 when it "did not find" the device, which is a failure here. */
export const readDisconnect: RunInterpreter = (result) =>
  result.exitCode === 0 && !/did not find/i.test(result.stderr)
    ? { status: 'ok' }
    : { status: 'failed', message: firstLine(result.stderr) || firstLine(result.stdout) || `exit ${result.exitCode}` };

/** What the installed nvme-cli can do about the ownership registry (libnvme/REGISTRY.md). */
export interface NvmeCliCapabilities {
  /**
   * nvme-cli 3.0+: `connect --owner NAME` registers the controller, and
   * `connect-all --device`/`discover --device` skip a discovery controller
   * another orchestrator owns (both arrive with the registry).
   */
  readonly registry: boolean;
  /** How it was decided, for logs and `coexist status`: `connect --help`, `version`, or `none`. */
  readonly from: 'help' | 'version' | 'none';
  /** `nvme version`'s number when it was read ("2.3"). */
  readonly version?: string;
}

/**
 * Pure: does `nvme connect --help` list `--owner`? nvme-cli's argconfig
 * prints each option as `  [  --owner=<STR>, -O <STR> ] --- ...` (on
 * stderr); undefined when the text is not a help page at all (no option
 * listed), so the caller falls back to the version.
 */
export function helpListsOwner(text: string): boolean | undefined {
  if (!/(^|[\s[])--transport\b/m.test(text)) return undefined;
  return /(^|[\s[])--owner(?=[=\s,\]]|$)/m.test(text);
}

/** Pure: the number of `nvme version`'s first line ("nvme version 2.3 (git 2.3)"). */
export function parseNvmeVersion(text: string): { readonly text: string; readonly major: number; readonly minor: number } | undefined {
  const match = /^nvme version v?([0-9]+)\.([0-9]+)/m.exec(text);
  return match ? { text: `${match[1]}.${match[2]}`, major: Number(match[1]), minor: Number(match[2]) } : undefined;
}

/** The first nvme-cli release with the ownership registry (NEWS "Changes in 3.0"). */
export const REGISTRY_SINCE = { major: 3, minor: 0 } as const;

/** Pure: capabilities from `nvme connect --help` (preferred) and `nvme version` output. */
export function capabilitiesFrom(helpText: string, versionText: string | undefined): NvmeCliCapabilities {
  const listed = helpListsOwner(helpText);
  const version = versionText === undefined ? undefined : parseNvmeVersion(versionText);
  const known = version ? { version: version.text } : {};
  if (listed !== undefined) return { registry: listed, from: 'help', ...known };
  if (version) return { registry: version.major > REGISTRY_SINCE.major || (version.major === REGISTRY_SINCE.major && version.minor >= REGISTRY_SINCE.minor), from: 'version', ...known };
  return { registry: false, from: 'none' };
}

/**
 * The nvme-cli commands sanhook asks about `--owner`: `connect` (its I/O
 * controllers), `discover` (its persistent discovery controllers) and
 * `connect-all` (what nvme-cli's own autoconnect runs: with the registry it
 * skips a discovery controller another orchestrator owns, REGISTRY.md
 * "connect-all / discover --device behavior"). All three gain `--owner` with
 * the registry in nvme-cli 3.0.
 */
export type OwnerCommand = 'connect' | 'discover' | 'connect-all';

/**
 * Asks the installed nvme-cli (`nvme <command> --help` first; its version
 * only if the help is unreadable). No nvme: no registry support.
 */
export async function detectCapabilities(system: System, command: OwnerCommand = 'connect'): Promise<NvmeCliCapabilities> {
  const help = await system.exec(NVME, [command, '--help']).catch(() => undefined);
  const helpText = help ? `${help.stdout}\n${help.stderr}` : '';
  if (helpListsOwner(helpText) !== undefined) return capabilitiesFrom(helpText, undefined);
  const version = await system.exec(NVME, ['version']).catch(() => undefined);
  return capabilitiesFrom(helpText, version && version.exitCode === 0 ? version.stdout : undefined);
}
