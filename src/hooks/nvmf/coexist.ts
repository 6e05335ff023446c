/**
 * nvme-cli's own autoconnect, which must not run next to sanhook (docs/udev.md).
 *
 * Debian's nvme-cli ships /lib/udev/rules.d/70-nvmf-autoconnect.rules, which
 * starts `nvmf-connect@<args>.service` (`nvme connect-all`) on the very events
 * sanhook handles, and nvmf-autoconnect.service, which runs `nvme connect-all`
 * at boot like sanhook-connect-boot.service.
 *
 * The rule is left running where nvme-cli honours discovery-controller
 * ownership (nvme-cli 3.0, libnvme/REGISTRY.md "connect-all / discover
 * --device behavior": `nvme connect-all --device nvmeX` and `discover
 * --device nvmeX` skip a discovery controller another orchestrator owns).
 * The rule's AEN (NVME_AEN=0x70f002) and `rediscover` events run exactly
 * that `connect-all --device=$kernel`, and sanhook owns the persistent
 * discovery controllers it creates (connect.ts, registry.ts): nvme-cli then
 * keeps handling the discovery controllers it or the admin created, and
 * skips sanhook's. Two things still race even so, and decide the rest:
 * - the same rule's FC events (SUBSYSTEM=fc, FC_EVENT=nvmediscovery) run
 *   `connect-all --device=none --transport=fc ...`: a new discovery
 *   controller nobody owns, every record connected by nvme-cli next to
 *   sanhook's own FC discovery hook. With nvme_fc loaded (its
 *   /sys/class/fc/fc_udev_device is what emits those events,
 *   drivers/nvme/host/fc.c) the rule is masked as before;
 * - nvmf-autoconnect.service runs `connect-all` from discovery.conf at boot,
 *   creating discovery controllers no one owns yet, as
 *   sanhook-connect-boot.service does: nothing for ownership to skip, so it
 *   is always masked (REGISTRY.md gives boot connect-all no ownership rule
 *   other than `--nbft`).
 *
 * Contract: declarations and the rule's ownership probe (`honour`: asks
 * `nvme connect-all --help` through System.exec, reads sysfs; the verdict
 * is the pure `autoconnectHonour()`); `sanhook coexist mask|unmask|status`
 * masks through core/coexist.ts. `maskWhat` is the text file-system errors show.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { CoexistTarget, OwnershipHonour } from '../../core/coexist.js';
import type { System } from '../../core/system.js';
import { detectCapabilities, type NvmeCliCapabilities } from './nvme-cli.js';

/** nvme_fc's class device, present while the module is loaded: the source of FC_EVENT=nvmediscovery uevents. */
export const FC_UDEV_DEVICE = ['class', 'fc', 'fc_udev_device'] as const;

/** What decides whether nvme-cli's autoconnect rule may run next to sanhook. */
export interface AutoconnectFacts {
  /** `nvme connect-all` (what the rule runs) and its registry support. */
  readonly connectAll: NvmeCliCapabilities;
  /** nvme_fc is loaded: FC discovery events reach the rule. */
  readonly fcNvme: boolean;
}

/** Pure: does nvme-cli's autoconnect rule leave sanhook's discovery controllers alone here, and why (one report line). */
export function autoconnectHonour(facts: AutoconnectFacts): OwnershipHonour {
  const { connectAll, fcNvme } = facts;
  const which = connectAll.version ? `nvme-cli ${connectAll.version}` : 'the installed nvme-cli';
  const how = connectAll.from === 'help' ? '`nvme connect-all --help`' : connectAll.from === 'version' ? '`nvme version`' : 'no answer from nvme';
  if (!connectAll.registry) {
    return { honoured: false, reason: `${which} has no controller ownership registry (${how}): its connect-all would act on sanhook's discovery controllers` };
  }
  if (fcNvme) {
    return {
      honoured: false,
      reason: `${which} skips discovery controllers sanhook owns (${how}), but nvme_fc is loaded: the rule's FC nvmediscovery events run connect-all on a new discovery controller nobody owns`,
    };
  }
  return { honoured: true, reason: `${which} skips discovery controllers another orchestrator owns (${how}); sanhook owns the persistent ones it creates` };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Observation for the rule's `honour`: nvme-cli's connect-all and the FC transport. */
export async function observeAutoconnect(system: System): Promise<AutoconnectFacts> {
  return { connectAll: await detectCapabilities(system, 'connect-all'), fcNvme: await exists(path.join(system.paths.sysfs, ...FC_UDEV_DEVICE)) };
}

export const NVMF_AUTOCONNECT_RULES: CoexistTarget = {
  description: 'nvme-cli udev rule',
  owner: 'nvme-cli',
  file: '70-nvmf-autoconnect.rules',
  manager: 'udev',
  maskWhat: "udev rules directory for the mask of nvme-cli's autoconnect rule",
  honour: async (system) => autoconnectHonour(await observeAutoconnect(system)),
};

/** Masked as `systemctl mask` does, offline; always (see above: boot connect-all creates controllers no one owns). */
export const NVMF_AUTOCONNECT_SERVICE: CoexistTarget = {
  description: 'nvme-cli boot service',
  owner: 'nvme-cli',
  file: 'nvmf-autoconnect.service',
  manager: 'systemd',
  maskWhat: "systemd unit directory for the mask of nvme-cli's nvmf-autoconnect.service",
};

export const NVMF_COEXIST: readonly CoexistTarget[] = [NVMF_AUTOCONNECT_RULES, NVMF_AUTOCONNECT_SERVICE];
