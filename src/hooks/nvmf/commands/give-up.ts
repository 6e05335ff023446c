/**
 * `sanhook give-up`: the loss event of one path (run by timerd at the loss
 * deadline). Linux: the I/O path by its options. FreeBSD: detach the
 * controller, as newer kernels do at ctrl-loss.
 */
import type { CommandSpec } from '../../../core/fabric.js';
import { CONTROLLER_OPTIONS, controllerRequest, runControllerGiveUp } from '../controller.js';
import { runGiveUp } from '../reconnect.js';
import { controllerOptions, IO_PATH_OPTIONS, ioOptions, NOT_WITH_A_CONTROLLER, strings } from './options.js';

export const giveUpLinux: CommandSpec = {
  verb: 'give-up',
  platforms: ['linux'],
  summary: 'the loss event for one NVMe-oF I/O path (run by timerd)',
  options: IO_PATH_OPTIONS,
  refuses: { device: 'give-up --device is for FreeBSD, which keeps a disconnected controller; Linux deletes it, so name the path with -t -a -s -n' },
  async run({ system, config, reporter, dryRun }, options) {
    await runGiveUp(system, config, { options: ioOptions(options), dryRun }, reporter);
  },
};

export const giveUpFreeBSD: CommandSpec = {
  verb: 'give-up',
  platforms: ['freebsd'],
  summary: giveUpLinux.summary,
  options: controllerOptions('the controller to detach'),
  refuses: NOT_WITH_A_CONTROLLER,
  async run({ system, config, reporter, dryRun }, options) {
    await runControllerGiveUp(system, config, { request: controllerRequest(strings(options, CONTROLLER_OPTIONS)), dryRun }, reporter);
  },
};
