/**
 * `sanhook give-up`: the loss event of one path (run by timerd at the loss
 * deadline). Linux: the I/O path by its options. FreeBSD: detach the
 * controller, as newer kernels do at ctrl-loss.
 */
import { runControllerGiveUp } from '../controller.js';
import { runGiveUp } from '../reconnect.js';
import { pathVerb } from './options.js';

export const [giveUpLinux, giveUpFreeBSD] = pathVerb({
  verb: 'give-up',
  summary: 'the loss event for one NVMe-oF I/O path (run by timerd)',
  device: 'the controller to detach',
  linux: ({ system, config, reporter, dryRun }, options) => runGiveUp(system, config, { options, dryRun }, reporter),
  freebsd: ({ system, config, reporter, dryRun }, request) => runControllerGiveUp(system, config, { request, dryRun }, reporter),
});
