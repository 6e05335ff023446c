/**
 * What SRP needs on a host, for `sanhook doctor` (core/requirements.ts).
 *
 * SRP is in use when sanhook has logged in to a target (`srp-add` records
 * one in its state directory) or the kernel has SRP remote ports
 * (/sys/class/srp_remote_ports, made by srp_daemon's or anyone's add_target):
 * then ib_srp is blocking. sanhook runs no program for SRP (everything is
 * sysfs), so there is no tool to check.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { CommandContext } from '../../core/fabric.js';
import type { FabricDoctor, ModuleNeed, Usage } from '../../core/requirements.js';
import { listRecords } from '../../core/state.js';
import { SRP_STORES } from './locations.js';

const MODULES: readonly ModuleNeed[] = [{ module: 'ib_srp', platform: 'linux', purpose: 'SRP initiator (/sys/class/infiniband_srp)', neededFor: 'srp', evidence: ['class/infiniband_srp'] }];

async function usage(context: CommandContext): Promise<Usage> {
  const { system } = context;
  const logins = await listRecords(system, SRP_STORES.targets);
  if (logins.length > 0) return new Map([['srp', `sanhook has ${logins.length} SRP login(s) recorded (srp-add)`]]);
  const ports = await readdir(path.join(system.paths.sysfs, 'class', 'srp_remote_ports')).catch(() => [] as string[]);
  if (ports.length > 0) return new Map([['srp', `the kernel has ${ports.length} SRP remote port(s)`]]);
  return new Map();
}

export const SRP_DOCTOR: FabricDoctor = { modules: MODULES, tools: [], usage };
