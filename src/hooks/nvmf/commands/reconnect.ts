/**
 * `sanhook reconnect`: one attempt to bring one path back. Linux: the I/O
 * path by its options (run by timerd). FreeBSD: a disconnected controller
 * (--device nvmeX; run by devd on the kernel's RECONNECT notification, or by
 * timerd with the address for kernels that do not keep it).
 */
import { runControllerReconnect } from '../controller.js';
import { runReconnect } from '../reconnect.js';
import { pathVerb } from './options.js';

export const [reconnectLinux, reconnectFreeBSD] = pathVerb({
  verb: 'reconnect',
  summary: 'one attempt to bring one NVMe-oF I/O path back (run by timerd; on FreeBSD by devd: --device nvmeX)',
  device: 'the disconnected controller (the kernel keeps its parameters)',
  linux: ({ system, config, reporter, dryRun }, options) => runReconnect(system, config, { options, dryRun }, reporter),
  freebsd: ({ system, config, reporter, dryRun }, request) => runControllerReconnect(system, config, { request, dryRun }, reporter),
});
