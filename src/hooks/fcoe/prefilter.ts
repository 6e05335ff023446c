/**
 * Is a udev event one that `sanhook dcb-check|fcoe-destroy --uevent` acts on?
 *
 * Contract: pure and import-free ON PURPOSE (like nvmf/prefilter.ts): cli.ts
 * runs it before anything else loads. The shipped rule already starts no
 * process for an interface without /etc/fcoe/cfg-<ifname> (its TEST); this
 * is the same event check the hooks make (check.ts `ueventInterface`), so a
 * hand-written rule that calls sanhook for every net event costs a node
 * start, not a run.
 */
import type { UeventEnv, UeventPrefilter } from '../../core/fabric.js';

/** `dcb-check --uevent`: a netdev appeared (driver load, VLAN created). */
export function matchNetAdd(env: UeventEnv): boolean {
  return env.SUBSYSTEM === 'net' && env.ACTION === 'add' && !!env.INTERFACE;
}

/** `fcoe-destroy --uevent`: a netdev is gone (driver unload, VLAN deleted). */
export function matchNetRemove(env: UeventEnv): boolean {
  return env.SUBSYSTEM === 'net' && env.ACTION === 'remove' && !!env.INTERFACE;
}

export const FCOE_PREFILTERS: Readonly<Record<string, UeventPrefilter>> = {
  'dcb-check': matchNetAdd,
  'fcoe-destroy': matchNetRemove,
};
