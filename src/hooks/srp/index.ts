/**
 * SRP, registered: timer policy for every new srp_remote_ports device, and
 * keeping a target whose port the kernel deleted (re-add through
 * add_target on timerd's schedule), with deliberate disconnect, reconnect
 * and erase. Everything the core knows about SRP is in this object.
 *
 * No coexist targets: rdma-core's srp_daemon only adds targets, which is
 * complementary (docs/srp.md); the one place they would fight, an erased
 * target srp_daemon adds again, is settled by `srp.erased: enforce`.
 */
import { SRP_DOCTOR } from './doctor.js';
import type { Fabric } from '../../core/fabric.js';
import { SRP_COMMANDS } from './commands.js';
import { SRP_CONFIG } from './config.js';
import { SRP_KEY_KIND } from './keys.js';
import { SRP_COMMAND_WRITES, SRP_LOCATIONS } from './locations.js';
import { SRP_PREFILTERS } from './prefilter.js';
import { srpStatus } from './status.js';
import { SRP_TIMER_HOOKS } from './timer-hooks.js';

export const srp: Fabric = {
  name: 'srp',
  title: 'SRP (ib_srp remote ports: timer policy, re-add after deletion, disconnect/reconnect/erase)',
  keyKinds: [{ kind: SRP_KEY_KIND, names: 'one SRP login: local IB port, target id_ext, ioc_guid and initiator_ext (srp:mlx5_0-1:<id_ext>:<ioc_guid>:<initiator_ext>)' }],
  commands: SRP_COMMANDS,
  prefilters: SRP_PREFILTERS,
  timerHooks: SRP_TIMER_HOOKS,
  interpreters: {},
  config: SRP_CONFIG,
  coexist: [],
  locations: SRP_LOCATIONS,
  commandWrites: SRP_COMMAND_WRITES,
  status: srpStatus,
  doctor: SRP_DOCTOR,
};
