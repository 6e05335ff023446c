/**
 * `sanhook connected`: the kernel says an NVMe-oF controller is (back) live
 * (udev change with NVME_EVENT=connected). Disarm any timer for that path,
 * under the path's lock (paths.ts).
 *
 * Contract: discovery controllers (a plain `nvme discover` creates and removes
 * one each time) and unreadable controllers are ignored; a timerd that is not
 * running means there is nothing to disarm (exit 0).
 */
import type { Config } from '../../core/config.js';
import { act, type Plan } from '../../core/plan.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';
import { nvmfContext, type NvmfContext } from './context.js';
import { ioKey, ioOptionsFromController, ioParamsFromOptions } from './io-request.js';
import { runOnPath } from './paths.js';
import { readController } from './sysfs.js';
import * as validate from './validate.js';

export interface ConnectedRequest {
  readonly key: string;
  readonly device: string;
}

/** Pure: a live path needs no timer. */
export function decideConnected(request: ConnectedRequest): Plan {
  return { hook: 'connected', key: request.key, trigger: 'uevent', actions: [act.disarm({ subject: `${request.key}: ${request.device} is live`, fields: { device: request.device } })] };
}

export async function planConnected(_context: NvmfContext, request: ConnectedRequest): Promise<Plan> {
  return decideConnected(request);
}

export async function runConnected(system: System, config: Config, device: string | undefined, reporter: Reporter): Promise<void> {
  const env = system.env;
  let name = device;
  if (name === undefined) {
    // NVME_TRTYPE: fabrics only (PCIe controllers send NVME_EVENT=connected too; the rules filter them as well)
    if (env.SUBSYSTEM !== 'nvme' || env.ACTION !== 'change' || env.NVME_EVENT !== 'connected' || !env.NVME_TRTYPE || !env.DEVPATH) return;
    name = env.DEVPATH.slice(env.DEVPATH.lastIndexOf('/') + 1);
  }
  const controller = await readController(system, validate.device(name));
  if (!controller || controller.cntrltype === 'discovery') {
    system.log.debug({ hook: 'connected', device: name, outcome: 'irrelevant' }, 'not an I/O controller');
    return;
  }
  const key = ioKey(ioParamsFromOptions(ioOptionsFromController(controller)));
  await runOnPath(nvmfContext(system, config, reporter, false), key, 'connected', { key, device: name });
}
