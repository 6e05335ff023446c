/**
 * `sanhook disconnect` (admin): disconnect and keep disconnected. Linux: the
 * I/O paths a filter matches (--device, or --nqn with -t -a -s). FreeBSD: one
 * controller (--device nvmeX).
 */
import { UsageError } from '../../../core/errors.js';
import type { CommandSpec, OptionSpec } from '../../../core/fabric.js';
import { runControllerDisconnect } from '../controller.js';
import { runDisconnect, validateFilter } from '../disconnect.js';
import { DISCOVERY_ADDRESS_OPTIONS } from '../connect-request.js';
import { runDisconnectDiscovery } from '../discovery-lifecycle.js';
import { deviceOption, strings } from './options.js';

const FILTER = ['device', 'nqn', 'transport', 'traddr', 'trsvcid'] as const;
const FILTER_OPTIONS: readonly OptionSpec[] = [
  deviceOption('this controller'),
  { name: 'nqn', short: 'n', value: 'nqn', description: 'every path to this subsystem' },
  { name: 'transport', short: 't', value: 'transport', description: 'only paths on this transport' },
  { name: 'traddr', short: 'a', value: 'address', description: 'only paths to this address' },
  { name: 'trsvcid', short: 's', value: 'port', description: 'only paths to this port' },
];
/** `--discovery`: the discovery address given with -t -a -s (-w -f), and whether to --keep its controller. */
const DISCOVERY_FORM: readonly OptionSpec[] = [
  { name: 'discovery', description: 'the discovery address given with -t -a -s [--host-traddr --host-iface]: disconnect the persistent discovery controller sanhook created there and stop bringing it back' },
  { name: 'keep', description: 'with --discovery: leave the discovery controller connected, only stop managing it' },
  { name: 'host-traddr', short: 'w', value: 'address', description: 'with --discovery: the host transport address' },
  { name: 'host-iface', short: 'f', value: 'iface', description: 'with --discovery: the host interface (tcp)' },
];
const FREEBSD_TAKES = 'on FreeBSD, disconnect takes --device nvmeX only';

export const disconnectLinux: CommandSpec = {
  verb: 'disconnect',
  platforms: ['linux'],
  summary: 'disconnect NVMe-oF I/O controllers (or, with --discovery, the discovery controller sanhook created) and keep them disconnected',
  options: [...FILTER_OPTIONS, ...DISCOVERY_FORM, { name: 'force', description: 'also the firmware\'s boot paths (NBFT), which sanhook otherwise refuses to disconnect (docs/initramfs.md)' }],
  async run({ system, config, reporter, dryRun }, options) {
    if (options.discovery === true) {
      for (const name of ['device', 'nqn', 'force'] as const) {
        if (options[name] !== undefined) throw new UsageError(`--${name} cannot be combined with --discovery (it names an address: -t -a -s)`, `--${name}`);
      }
      await runDisconnectDiscovery(system, config, strings(options, DISCOVERY_ADDRESS_OPTIONS), options.keep === true, dryRun, reporter);
      return;
    }
    for (const name of ['keep', 'host-traddr', 'host-iface'] as const) {
      if (options[name] !== undefined) throw new UsageError(`--${name} is only used with --discovery`, `--${name}`);
    }
    await runDisconnect(system, config, validateFilter(strings(options, FILTER)), dryRun, reporter, { force: options.force === true });
  },
};

export const disconnectFreeBSD: CommandSpec = {
  verb: 'disconnect',
  platforms: ['freebsd'],
  summary: disconnectLinux.summary,
  options: [deviceOption('this controller')],
  refuses: { ...Object.fromEntries(FILTER.filter((name) => name !== 'device').map((name) => [name, FREEBSD_TAKES])), force: 'there are no firmware boot paths to protect on FreeBSD' },
  async run({ system, config, reporter, dryRun }, options) {
    if (typeof options.device !== 'string') throw new UsageError(`--device: ${FREEBSD_TAKES}`, '--device');
    await runControllerDisconnect(system, config, options.device, dryRun, reporter);
  },
};
