/**
 * `sanhook lost`: a controller is gone, arm timerd to bring it back.
 * Linux: an I/O path, from the udev remove event (--uevent), a controller
 * that still exists (--device) or the path's options (-t -a -s -n ...).
 * FreeBSD: a controller of a kernel without reconnect timers (--device nvmeX
 * with its address), which tells devd nothing on disconnect.
 */
import { UsageError } from '../../../core/errors.js';
import type { CommandSpec } from '../../../core/fabric.js';
import { controllerRequest, runControllerLost } from '../controller.js';
import { runLost } from '../lost.js';
import { CONTROLLER_OPTIONS } from '../controller.js';
import { controllerOptions, deviceOption, IO_PATH_OPTIONS, ioOptions, NOT_WITH_A_CONTROLLER, strings, ueventOption } from './options.js';

export const lostLinux: CommandSpec = {
  verb: 'lost',
  platforms: ['linux'],
  summary: 'an NVMe-oF I/O controller is gone: arm timerd to bring it back (udev remove, or by hand)',
  options: [ueventOption('read the remove event from the udev environment (used by the shipped rules)'), deviceOption('the controller (while it still exists)'), ...IO_PATH_OPTIONS],
  // SRP provides `lost` too, for the remove event of an ib_srp scsi_host; every other call is NVMe-oF's.
  claims: (options, env) => !(options.uevent === true && env.SUBSYSTEM === 'scsi_host'),
  async run({ system, config, reporter, dryRun }, options) {
    const io = ioOptions(options);
    const uevent = options.uevent === true;
    const device = typeof options.device === 'string' ? options.device : undefined;
    if ([uevent, device !== undefined, Object.keys(io).length > 0].filter(Boolean).length !== 1) {
      throw new UsageError('give exactly one of --uevent, --device, or the endpoint options (-t -a -s -n ...)', '--uevent');
    }
    await runLost(system, config, { uevent, ...(device ? { device } : {}), options: io, dryRun }, reporter);
  },
};

export const lostFreeBSD: CommandSpec = {
  verb: 'lost',
  platforms: ['freebsd'],
  summary: 'a controller of a kernel without reconnect timers dropped: arm timerd to reconnect it (--device nvmeX -a -s)',
  options: controllerOptions('the disconnected controller'),
  refuses: { uevent: 'there are no udev events on FreeBSD; give --device nvmeX', ...NOT_WITH_A_CONTROLLER },
  async run({ system, config, reporter, dryRun }, options) {
    await runControllerLost(system, config, { request: controllerRequest(strings(options, CONTROLLER_OPTIONS)), dryRun }, reporter);
  },
};
