/**
 * NVMe-oF's commands, one spec per verb and platform, in the order --help
 * lists them. The program offers each verb once and picks the spec of the
 * platform it runs on (core/verbs.ts).
 */
import type { CommandSpec } from '../../../core/fabric.js';
import { connectFreeBSD, connectLinux } from './connect.js';
import { connectedLinux } from './connected.js';
import { devdFreeBSD } from './devd.js';
import { giveUpDiscoveryLinux, reconnectDiscoveryLinux } from './discovery-timers.js';
import { disconnectFreeBSD, disconnectLinux } from './disconnect.js';
import { giveUpFreeBSD, giveUpLinux } from './give-up.js';
import { lostFreeBSD, lostLinux } from './lost.js';
import { reconnectFreeBSD, reconnectLinux } from './reconnect.js';

export const NVMF_COMMANDS: readonly CommandSpec[] = [
  connectLinux,
  connectFreeBSD,
  lostLinux,
  lostFreeBSD,
  reconnectLinux,
  reconnectFreeBSD,
  giveUpLinux,
  giveUpFreeBSD,
  reconnectDiscoveryLinux,
  giveUpDiscoveryLinux,
  devdFreeBSD,
  connectedLinux,
  disconnectLinux,
  disconnectFreeBSD,
];
