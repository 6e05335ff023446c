/**
 * `sanhook disconnect` (admin): disconnect and keep disconnected. Linux: the
 * I/O paths a filter matches (--device, or --nqn with -t -a -s). FreeBSD: one
 * controller (--device nvmeX).
 */
import { UsageError } from '../../../core/errors.js';
import type { CommandSpec, OptionSpec } from '../../../core/fabric.js';
import { runControllerDisconnect } from '../controller.js';
import { runDisconnect, validateFilter } from '../disconnect.js';
import { deviceOption, strings } from './options.js';

const FILTER = ['device', 'nqn', 'transport', 'traddr', 'trsvcid'] as const;
const FILTER_OPTIONS: readonly OptionSpec[] = [
  deviceOption('this controller'),
  { name: 'nqn', short: 'n', value: 'nqn', description: 'every path to this subsystem' },
  { name: 'transport', short: 't', value: 'transport', description: 'only paths on this transport' },
  { name: 'traddr', short: 'a', value: 'address', description: 'only paths to this address' },
  { name: 'trsvcid', short: 's', value: 'port', description: 'only paths to this port' },
];
const FREEBSD_TAKES = 'on FreeBSD, disconnect takes --device nvmeX only';

export const disconnectLinux: CommandSpec = {
  verb: 'disconnect',
  platforms: ['linux'],
  summary: 'disconnect NVMe-oF I/O controllers and keep them disconnected (no timer, no autoconnect)',
  options: FILTER_OPTIONS,
  async run({ system, config, reporter, dryRun }, options) {
    await runDisconnect(system, config, validateFilter(strings(options, FILTER)), dryRun, reporter);
  },
};

export const disconnectFreeBSD: CommandSpec = {
  verb: 'disconnect',
  platforms: ['freebsd'],
  summary: disconnectLinux.summary,
  options: [deviceOption('this controller')],
  refuses: Object.fromEntries(FILTER.filter((name) => name !== 'device').map((name) => [name, FREEBSD_TAKES])),
  async run({ system, config, reporter, dryRun }, options) {
    if (typeof options.device !== 'string') throw new UsageError(`--device: ${FREEBSD_TAKES}`, '--device');
    await runControllerDisconnect(system, config, options.device, dryRun, reporter);
  },
};
