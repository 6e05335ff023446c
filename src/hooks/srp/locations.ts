/**
 * Where SRP's commands write (Linux), as core/fs-errors.ts describes places:
 * the kernel's SRP files and SRP's three record stores.
 *
 *   targets       the add_target line of every target added with srp-add:
 *                 the only durable source of an RDMA/CM target's address
 *                 (sysfs shows none) and of the options a login was made with
 *   erased        tombstones: targets erased on purpose; nothing in sanhook
 *                 re-adds one until it is added again
 *   disconnected  ports whose SCSI devices srp-disconnect took offline
 *
 * Contract: as nvmf/locations.ts — every place only SRP writes, and per
 * command every place it writes (the shipped units are checked against it).
 */
import { LOCATIONS, type CommandWrites, type Location } from '../../core/fs-errors.js';

export const SRP_LOCATIONS = {
  srpTargets: { base: 'state', sub: ['srp', 'targets'], what: 'state directory for SRP targets added with srp-add' },
  srpErased: { base: 'state', sub: ['srp', 'erased'], what: 'state directory for SRP targets erased on purpose' },
  srpDisconnected: { base: 'state', sub: ['srp', 'disconnected'], what: 'state directory for SRP ports disconnected on purpose' },
  srpRemotePorts: { base: 'sys', sub: ['class', 'srp_remote_ports', '*', 'dev_loss_tmo'], what: "an SRP remote port's timers and delete" },
  srpAddTarget: { base: 'sys', sub: ['class', 'infiniband_srp', '*', 'add_target'], what: "ib_srp's add_target" },
  scsiDeviceState: { base: 'sys', sub: ['class', 'scsi_device', '*', 'device', 'state'], what: "a SCSI device's state (running / offline)" },
} as const satisfies Record<string, Location>;

/** The record stores, by the names plans use (`record` / `forget` actions). */
export const SRP_STORES = {
  targets: SRP_LOCATIONS.srpTargets,
  erased: SRP_LOCATIONS.srpErased,
  disconnected: SRP_LOCATIONS.srpDisconnected,
} as const satisfies Record<string, Location>;

const { runDir, locks, pending, timerdSocket } = LOCATIONS;
const { srpTargets, srpErased, srpDisconnected, srpRemotePorts, srpAddTarget, scsiDeviceState } = SRP_LOCATIONS;

export const SRP_COMMAND_WRITES: CommandWrites = {
  // every SRP hook takes the key's lock and may run another's queued event (they are each other's planners)
  'srp-setup': [runDir, locks, pending, srpRemotePorts, srpErased, srpTargets, srpDisconnected, srpAddTarget, scsiDeviceState],
  'srp-reconnect': [runDir, locks, pending, srpRemotePorts, srpErased, srpTargets, srpDisconnected, srpAddTarget, scsiDeviceState],
  'srp-erase': [runDir, locks, pending, srpRemotePorts, srpErased, srpTargets, srpDisconnected, srpAddTarget, scsiDeviceState],
  'srp-disconnect': [runDir, locks, pending, srpRemotePorts, srpErased, srpTargets, srpDisconnected, srpAddTarget, scsiDeviceState],
  'srp-add': [runDir, locks, pending, srpRemotePorts, srpErased, srpTargets, srpDisconnected, srpAddTarget, scsiDeviceState],
  lost: [runDir, locks, pending, timerdSocket, srpRemotePorts, srpErased, srpTargets, srpDisconnected, srpAddTarget, scsiDeviceState],
};
