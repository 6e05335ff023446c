/**
 * `sanhook connected`: the kernel says an NVMe-oF controller is (back) live
 * (udev change with NVME_EVENT=connected). Disarm any timer for that path.
 *
 * Contract: discovery controllers (a plain `nvme discover` creates and removes
 * one each time) and unreadable controllers are ignored; a timerd that is not
 * running means there is nothing to disarm (exit 0).
 */
import { ioKey, ioOptionsFromController, ioParamsFromOptions } from './io-request.js';
import { readController } from './sysfs.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';
import * as validate from './validate.js';
import { disarmQuietly } from './reconnect.js';

export async function runConnected(system: System, device: string | undefined, reporter: Reporter): Promise<void> {
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
  const params = ioParamsFromOptions(ioOptionsFromController(controller));
  const key = ioKey(params);
  const existed = await disarmQuietly(system, key);
  system.log.info({ hook: 'connected', key, device: name, outcome: existed ? 'disarmed' : 'nothing-armed' }, 'controller live');
  reporter.item({ hook: 'connected', key, device: name, outcome: existed ? 'disarmed' : 'nothing-armed', text: `${key}: ${name} is live${existed ? '; its reconnect timer is disarmed' : ''}` });
}
