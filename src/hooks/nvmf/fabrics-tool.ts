/**
 * The fabrics command-line tool of a platform, behind one interface: nvme-cli
 * on Linux, nvmecontrol on FreeBSD.
 *
 * Contract: every method builds an argv (never a shell line), runs it through
 * `system.exec`, and turns the tool's exit status and first message line into
 * a result; a non-zero exit is a result, not an exception. Methods a platform
 * does not have are absent: Linux deletes a controller the kernel gave up on
 * (there is nothing to `reconnect`, sanhook connects the path anew), and
 * nvme-cli's discovery is richer (`connect` hooks use nvme-cli directly).
 */
import type { NvmfDiscoveryEndpoint } from './keys.js';
import type { Platform } from '../../core/platform.js';
import type { System } from '../../core/system.js';
import type { IoConnectParams } from './connect-decide.js';
import * as nvmeCli from './nvme-cli.js';
import * as nvmecontrol from './nvmecontrol.js';

export type ToolResult = { readonly ok: true } | { readonly ok: false; readonly exitCode: number; readonly message: string };

/** Where to reconnect a controller when the kernel did not keep its parameters (FreeBSD before reconnect timers). */
export interface ReconnectAddress {
  readonly traddr: string;
  readonly trsvcid: string;
  readonly hostnqn?: string;
  readonly reconnectDelay?: number;
  readonly ctrlLossTmo?: number;
}

export interface FabricsTool {
  readonly program: string;
  connect(system: System, params: IoConnectParams): Promise<nvmeCli.ConnectResult>;
  disconnect(system: System, device: string): Promise<ToolResult>;
  reconnect?(system: System, device: string, address?: ReconnectAddress): Promise<ToolResult>;
  connectAll?(system: System, endpoint: NvmfDiscoveryEndpoint, hostnqn?: string): Promise<ToolResult>;
}

const nvmeCliTool: FabricsTool = {
  program: nvmeCli.NVME,
  connect: nvmeCli.connect,
  disconnect: async (system, device) => {
    const result = await system.exec(nvmeCli.NVME, ['disconnect', '--device', device]);
    // nvme-cli 2.x exits 0 when it "did not find" the device.
    const message = nvmeCli.firstLine(result.stderr) || nvmeCli.firstLine(result.stdout);
    return result.exitCode === 0 && !/did not find/i.test(result.stderr) ? { ok: true } : { ok: false, exitCode: result.exitCode, message: message || `exit ${result.exitCode}` };
  },
};

const nvmecontrolTool: FabricsTool = {
  program: nvmecontrol.NVMECONTROL,
  connect: nvmecontrol.connect,
  disconnect: nvmecontrol.disconnect,
  reconnect: nvmecontrol.reconnect,
  connectAll: nvmecontrol.connectAll,
};

export function fabricsToolFor(platform: Platform): FabricsTool {
  return platform === 'freebsd' ? nvmecontrolTool : nvmeCliTool;
}
