/**
 * Where NVMe-oF's commands write (Linux), as core/fs-errors.ts describes
 * places: sanhook's records of the paths it manages, and what nvme-cli writes
 * on sanhook's behalf.
 *
 * Contract: `NVMF_LOCATIONS` names every place only NVMe-oF writes (names are
 * unique across fabrics and the core: core/registry.ts `locations()`), and
 * `NVMF_COMMAND_WRITES` lists, per command, every place it writes, the core's
 * included. The shipped systemd units are checked against it
 * (test/unit/units.test.ts). `what` is the text file-system errors show.
 */
import { LOCATIONS, type CommandWrites, type Location } from '../../core/fs-errors.js';

export const NVMF_LOCATIONS = {
  managed: { base: 'state', sub: ['nvmf', 'managed'], what: 'state directory for managed NVMe-oF paths' },
  disconnected: { base: 'state', sub: ['nvmf', 'disconnected'], what: 'state directory for NVMe-oF paths disconnected on purpose' },
  discovery: { base: 'state', sub: ['nvmf', 'discovery'], what: 'state directory for the persistent discovery controllers sanhook created' },
  fabricsDevice: { base: 'dev', sub: ['nvme-fabrics'], what: 'NVMe-oF controller creation', by: 'nvme-cli' },
  deleteController: { base: 'sys', sub: ['class', 'nvme', '*', 'delete_controller'], what: 'NVMe controller deletion', by: 'nvme-cli' },
  // nvme-cli/libnvme's ownership registry (registry.ts): sanhook records the controllers it connects.
  registry: { base: 'root', sub: ['run', 'nvme', 'registry'], what: 'NVMe controller ownership registry' },
} as const satisfies Record<string, Location>;

const { runDir, locks, pending } = LOCATIONS;
const { managed, disconnected, discovery, fabricsDevice, deleteController, registry } = NVMF_LOCATIONS;

export const NVMF_COMMAND_WRITES: CommandWrites = {
  // locks + pending markers; managed records, tombstones cleared by `connect --nqn`;
  // nvme-cli creates controllers and deletes its temporary discovery controller.
  // ... and record the controllers they create as sanhook's in the ownership registry.
  // ... and the persistent discovery controllers they create (discovery records).
  connect: [runDir, locks, pending, managed, disconnected, discovery, fabricsDevice, deleteController, registry],
  reconnect: [runDir, locks, pending, managed, fabricsDevice, registry],
  // every hook that changes a path's state takes its lock (paths.ts)
  'give-up': [runDir, locks, pending],
  lost: [runDir, locks, pending],
  connected: [runDir, locks, pending],
  disconnect: [runDir, locks, pending, managed, disconnected, discovery, deleteController],
  // timerd's hooks of a persistent discovery controller sanhook created (discovery-lifecycle.ts)
  'reconnect-discovery': [runDir, locks, pending, managed, disconnected, discovery, fabricsDevice, deleteController, registry],
  'give-up-discovery': [runDir, locks, pending],
};
