/**
 * FreeBSD's nvmecontrol(8), as sanhook uses it (FreeBSD 15 nvmf host).
 *
 * Contract: argv builders and output parsers are pure; the async functions
 * run one nvmecontrol command through `system.exec` and return a result.
 * Facts (sbin/nvmecontrol in freebsd-src; see docs/freebsd.md):
 * - the address is one positional word, `addr:port` (`[v6]:port`); connect
 *   and an address-form reconnect require the port, discovery defaults 8009;
 * - the subsystem NQN is the second positional word of `connect` (no -n);
 * - transport: tcp only; -q host NQN; -r reconnect delay; -l ctrl-loss
 *   timeout (seconds, 0 disables; no -1);
 * - success prints nothing (exit 0); failures are `nvmecontrol: ...` on
 *   stderr with sysexits codes (64 usage, 68 no host, 72 no device, 74 I/O);
 * - `reconnect nvmeX` with no address reuses the parameters the kernel saved
 *   at connect time (kernels with reconnect timers); with an address, the
 *   command line's options apply (older kernels need it);
 * - `devlist` shows a fabrics controller's association:
 *   ` nvme0: <model> (connected via TCP 10.0.0.5:4420)` or
 *   ` nvme0: <model> (disconnected for 12 seconds)`.
 */
import type { RunInterpreter } from '../../core/fabric.js';
import type { NvmfDiscoveryEndpoint } from './keys.js';
import type { System } from '../../core/system.js';
import type { IoConnectParams } from './connect-decide.js';
import type { ConnectResult } from './nvme-cli.js';

export type ToolResult = { readonly ok: true } | { readonly ok: false; readonly exitCode: number; readonly message: string };

/** Where to reconnect a controller when the kernel did not keep its parameters (FreeBSD before reconnect timers). */
export interface ReconnectAddress {
  readonly traddr: string;
  readonly trsvcid: string;
  readonly hostnqn?: string;
  readonly reconnectDelay?: number;
  readonly ctrlLossTmo?: number;
}

export const NVMECONTROL = 'nvmecontrol';

/** The default discovery port (NVMe-oF 7.4.9.3), which nvmecontrol also assumes. */
export const DISCOVERY_PORT = '8009';

/** nvmecontrol's single address word: IPv6 in brackets so the port separator is unambiguous. */
export function addressWord(traddr: string, trsvcid: string): string {
  return `${traddr.includes(':') ? `[${traddr}]` : traddr}:${trsvcid}`;
}

function timerArgs(options: { reconnectDelay?: number | undefined; ctrlLossTmo?: number | undefined }): string[] {
  const argv: string[] = [];
  if (options.reconnectDelay !== undefined) argv.push('--reconnect-delay', String(options.reconnectDelay));
  // nvmecontrol has no "never": -1 (nvme-cli's forever) is 0 there, which disables the loss timer.
  if (options.ctrlLossTmo !== undefined) argv.push('--ctrl-loss-tmo', String(Math.max(options.ctrlLossTmo, 0)));
  return argv;
}

export function connectArgv(params: IoConnectParams): string[] {
  return ['connect', '--transport', params.transport, ...(params.hostnqn ? ['--hostnqn', params.hostnqn] : []), ...timerArgs(params), addressWord(params.traddr, params.trsvcid), params.subnqn];
}

export function connectAllArgv(endpoint: NvmfDiscoveryEndpoint, hostnqn?: string): string[] {
  const port = endpoint.trsvcid === 'none' ? DISCOVERY_PORT : endpoint.trsvcid;
  return ['connect-all', '--transport', endpoint.transport, ...(hostnqn ? ['--hostnqn', hostnqn] : []), addressWord(endpoint.traddr, port)];
}

export function reconnectArgv(device: string, address?: ReconnectAddress): string[] {
  if (!address) return ['reconnect', device];
  return ['reconnect', '--transport', 'tcp', ...(address.hostnqn ? ['--hostnqn', address.hostnqn] : []), ...timerArgs(address), device, addressWord(address.traddr, address.trsvcid)];
}

export function disconnectArgv(device: string): string[] {
  return ['disconnect', device];
}

export type Association =
  | { readonly state: 'connected'; readonly transport: string; readonly traddr: string; readonly trsvcid: string }
  | { readonly state: 'disconnected'; readonly seconds: number }
  /** A PCIe controller, or a kernel whose devlist does not show associations. */
  | { readonly state: 'unknown' };

export interface DevlistController {
  readonly name: string;
  readonly model: string;
  readonly association: Association;
}

const CONTROLLER_LINE = /^\s*(nvme[0-9]+): (.*?)(?: \((?:connected via (\S+) (.+):([^:\s]+)|disconnected for ([0-9]+) seconds?)\))?\s*$/;

/** Controllers of `nvmecontrol devlist` (namespace lines are skipped). */
export function parseDevlist(stdout: string): DevlistController[] {
  const controllers: DevlistController[] = [];
  for (const line of stdout.split('\n')) {
    const m = CONTROLLER_LINE.exec(line);
    if (!m) continue;
    const [, name, model, transport, traddr, trsvcid, seconds] = m;
    const association: Association =
      transport !== undefined
        ? { state: 'connected', transport: transport.toLowerCase(), traddr: traddr!.replace(/^\[(.*)\]$/, '$1'), trsvcid: trsvcid! }
        : seconds !== undefined
          ? { state: 'disconnected', seconds: Number(seconds) }
          : { state: 'unknown' };
    controllers.push({ name: name!, model: model!, association });
  }
  return controllers;
}

/** First `nvmecontrol: ...` line of stderr, without the program name. */
export function toolMessage(stderr: string, stdout = ''): string {
  const line = `${stderr}\n${stdout}`.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
  return line.replace(/^nvmecontrol: /, '');
}

function result(exec: { exitCode: number; stdout: string; stderr: string }): ToolResult {
  return exec.exitCode === 0 ? { ok: true } : { ok: false, exitCode: exec.exitCode, message: toolMessage(exec.stderr, exec.stdout) || `exit ${exec.exitCode}` };
}

/** The controllers `nvmecontrol devlist` shows; none is an empty list (devlist then exits non-zero, which is not an error here). */
export async function devlist(system: System): Promise<DevlistController[]> {
  const run = await system.exec(NVMECONTROL, ['devlist']);
  return parseDevlist(run.stdout);
}

export async function reconnect(system: System, device: string, address?: ReconnectAddress): Promise<ToolResult> {
  return result(await system.exec(NVMECONTROL, reconnectArgv(device, address)));
}

export async function disconnect(system: System, device: string): Promise<ToolResult> {
  return result(await system.exec(NVMECONTROL, disconnectArgv(device)));
}

export async function connectAll(system: System, endpoint: NvmfDiscoveryEndpoint, hostnqn?: string): Promise<ToolResult> {
  return result(await system.exec(NVMECONTROL, connectAllArgv(endpoint, hostnqn)));
}

/** nvmecontrol does not name the controller it created; `devlist` afterwards does. */
export async function connect(system: System, params: IoConnectParams): Promise<ConnectResult> {
  const run = await system.exec(NVMECONTROL, connectArgv(params));
  if (run.exitCode !== 0) return { outcome: 'failed', exitCode: run.exitCode, message: toolMessage(run.stderr, run.stdout) || `exit ${run.exitCode}` };
  return { outcome: 'connected' };
}

/** How the executor reads nvmecontrol's reconnect/disconnect/connect (`interpret: 'nvmecontrol'`). */
export const readNvmecontrol: RunInterpreter = (run) =>
  run.exitCode === 0 ? { status: 'ok' } : { status: 'failed', message: toolMessage(run.stderr, run.stdout) || `exit ${run.exitCode}` };
