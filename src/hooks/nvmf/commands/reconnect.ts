/**
 * `sanhook reconnect`: one attempt to bring one path back. Linux: the I/O
 * path by its options (run by timerd). FreeBSD: a disconnected controller
 * (--device nvmeX; run by devd on the kernel's RECONNECT notification, or by
 * timerd with the address for kernels that do not keep it).
 */
import type { CommandSpec } from '../../../core/fabric.js';
import { CONTROLLER_OPTIONS, controllerRequest, runControllerReconnect } from '../controller.js';
import { runReconnect } from '../reconnect.js';
import { controllerOptions, IO_PATH_OPTIONS, ioOptions, NOT_WITH_A_CONTROLLER, strings } from './options.js';

export const reconnectLinux: CommandSpec = {
  verb: 'reconnect',
  platforms: ['linux'],
  summary: 'one attempt to bring one NVMe-oF I/O path back (run by timerd; on FreeBSD by devd: --device nvmeX)',
  options: IO_PATH_OPTIONS,
  refuses: { device: 'reconnect --device is for FreeBSD, which keeps a disconnected controller; Linux deletes it, so name the path with -t -a -s -n' },
  async run({ system, config, reporter, dryRun }, options) {
    await runReconnect(system, config, { options: ioOptions(options), dryRun }, reporter);
  },
};

export const reconnectFreeBSD: CommandSpec = {
  verb: 'reconnect',
  platforms: ['freebsd'],
  summary: reconnectLinux.summary,
  options: controllerOptions('the disconnected controller (the kernel keeps its parameters)'),
  refuses: NOT_WITH_A_CONTROLLER,
  async run({ system, config, reporter, dryRun }, options) {
    await runControllerReconnect(system, config, { request: controllerRequest(strings(options, CONTROLLER_OPTIONS)), dryRun }, reporter);
  },
};
