/**
 * Where FCoE's commands write (Linux), as core/fs-errors.ts describes places:
 * the kernel's FCoE control files. FCoE keeps no records of its own: what
 * exists is read back from sysfs, and the retry schedule is timerd's.
 *
 * Contract: as nvmf/locations.ts — every place only FCoE writes, and per
 * command every place it writes (the shipped units are checked against it).
 */
import { LOCATIONS, type CommandWrites, type Location } from '../../core/fs-errors.js';

export const FCOE_LOCATIONS = {
  fcoeBus: { base: 'sys', sub: ['bus', 'fcoe', 'ctlr_create'], what: 'FCoE ctlr creation and destruction (ctlr_create, ctlr_destroy, ctlr attributes)' },
  newCtlr: { base: 'sys', sub: ['class', 'net', '*', 'ctlr_0', 'enabled'], what: "a new FCoE ctlr's mode and enabled" },
  libfcoe: { base: 'sys', sub: ['module', 'libfcoe', 'parameters', 'create'], what: "libfcoe's legacy create/destroy parameters" },
} as const satisfies Record<string, Location>;

const { runDir, locks, pending } = LOCATIONS;
const { fcoeBus, newCtlr, libfcoe } = FCOE_LOCATIONS;

export const FCOE_COMMAND_WRITES: CommandWrites = {
  // both take the interface's lock; dcb-check creates (and destroys on a DCB verdict), fcoe-destroy destroys
  'dcb-check': [runDir, locks, pending, fcoeBus, newCtlr, libfcoe],
  'fcoe-destroy': [runDir, locks, pending, fcoeBus, libfcoe],
};
