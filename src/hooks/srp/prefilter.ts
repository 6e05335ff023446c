/**
 * Is a udev event one that `sanhook srp-setup|lost --uevent` acts on?
 *
 * Contract: pure and import-free ON PURPOSE (like nvmf/prefilter.ts): cli.ts
 * runs it before anything else loads. The same checks open runSetup and
 * runLost (hooks.ts).
 */
import type { UeventEnv, UeventPrefilter } from '../../core/fabric.js';

/** `srp-setup --uevent`: a new SRP remote port (ib_srp logged in to a target). */
export function matchPortAdd(env: UeventEnv): boolean {
  return env.SUBSYSTEM === 'srp_remote_ports' && env.ACTION === 'add' && !!env.DEVPATH;
}

/**
 * `lost --uevent`: an ib_srp SCSI host is gone. Its identity comes from the
 * udev database (SANHOOK_SRP_*, stored by the shipped rule at its add): the
 * port's own remove event carries only ACTION, DEVPATH, SUBSYSTEM, SEQNUM.
 */
export function matchSrpHostRemove(env: UeventEnv): boolean {
  return env.SUBSYSTEM === 'scsi_host' && env.ACTION === 'remove' && !!env.SANHOOK_SRP_ID_EXT;
}

export const SRP_PREFILTERS: Readonly<Record<string, UeventPrefilter>> = {
  'srp-setup': matchPortAdd,
  lost: matchSrpHostRemove,
};
