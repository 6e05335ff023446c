/** `sanhook connected` (Linux): a controller is live again (udev NVME_EVENT=connected): disarm its timer. */
import { UsageError } from '../../../core/errors.js';
import type { CommandSpec } from '../../../core/fabric.js';
import { runConnected } from '../connected.js';
import { deviceOption, ueventOption } from './options.js';

export const connectedLinux: CommandSpec = {
  verb: 'connected',
  platforms: ['linux'],
  summary: 'an NVMe-oF controller is live again: disarm its timer (udev NVME_EVENT=connected)',
  options: [ueventOption('read the event from the udev environment'), deviceOption('the controller')],
  async run({ system, config, reporter }, options) {
    const device = typeof options.device === 'string' ? options.device : undefined;
    if ((options.uevent === true) === (device !== undefined)) throw new UsageError('give exactly one of --uevent or --device', '--device');
    await runConnected(system, config, device, reporter);
  },
};
