/**
 * FCoE, registered: fcoemon's DCB-gated create/destroy lifecycle as two
 * hooks on the core (Linux: udev, NetworkManager/networkd dispatchers, the
 * recheck timer, timerd's 0.2 s × n retries). Everything the core knows about
 * FCoE is in this object.
 */
import { FCOE_DOCTOR } from './doctor.js';
import type { Fabric } from '../../core/fabric.js';
import { FCOE_COEXIST } from './coexist.js';
import { FCOE_COMMANDS } from './commands.js';
import { FCOE_CONFIG } from './config.js';
import { FCOE_KEY_KIND } from './keys.js';
import { FCOE_COMMAND_WRITES, FCOE_LOCATIONS } from './locations.js';
import { FCOE_PREFILTERS } from './prefilter.js';
import { fcoeStatus } from './status.js';
import { FCOE_TIMER_HOOKS } from './timer-hooks.js';

export const fcoe: Fabric = {
  name: 'fcoe',
  title: 'FCoE (DCB-gated software FCoE: fcoe-utils cfg files, libfcoe)',
  keyKinds: [{ kind: FCOE_KEY_KIND, names: 'an FCoE interface: the netdev its ctlr sits on (eth0, or a VLAN such as eth0.100)' }],
  commands: FCOE_COMMANDS,
  prefilters: FCOE_PREFILTERS,
  timerHooks: FCOE_TIMER_HOOKS,
  interpreters: {},
  config: FCOE_CONFIG,
  coexist: FCOE_COEXIST,
  locations: FCOE_LOCATIONS,
  commandWrites: FCOE_COMMAND_WRITES,
  status: fcoeStatus,
  doctor: FCOE_DOCTOR,
};
