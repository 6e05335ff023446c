/**
 * timerd's hooks for a persistent discovery controller sanhook created
 * (discovery-lifecycle.ts): `reconnect-discovery` (one attempt: a
 * persistent discovery round for the address; exit 0 once it has a live
 * discovery controller) and `give-up-discovery` (the loss event). Linux only:
 * FreeBSD's discovery is nvmecontrol's.
 */
import type { CommandSpec } from '../../../core/fabric.js';
import { DISCOVERY_ADDRESS_OPTIONS } from '../connect-request.js';
import { GIVE_UP_DISCOVERY, RECONNECT_DISCOVERY, runGiveUpDiscovery, runReconnectDiscovery } from '../discovery-lifecycle.js';
import { DISCOVERY_ADDRESS_OPTION_SPECS, strings } from './options.js';

export const reconnectDiscoveryLinux: CommandSpec = {
  verb: RECONNECT_DISCOVERY,
  platforms: ['linux'],
  summary: "one attempt to bring back the persistent discovery controller sanhook created for a discovery address (run by timerd)",
  options: DISCOVERY_ADDRESS_OPTION_SPECS,
  run: ({ system, config, reporter, dryRun }, options) => runReconnectDiscovery(system, config, strings(options, DISCOVERY_ADDRESS_OPTIONS), dryRun, reporter),
};

export const giveUpDiscoveryLinux: CommandSpec = {
  verb: GIVE_UP_DISCOVERY,
  platforms: ['linux'],
  summary: 'the loss event of a persistent discovery controller sanhook created (run by timerd)',
  options: DISCOVERY_ADDRESS_OPTION_SPECS,
  run: ({ system, config, reporter, dryRun }, options) => runGiveUpDiscovery(system, config, strings(options, DISCOVERY_ADDRESS_OPTIONS), dryRun, reporter),
};
