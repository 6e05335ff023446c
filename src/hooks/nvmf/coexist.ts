/**
 * nvme-cli's own autoconnect, which must not run next to sanhook (docs/udev.md).
 *
 * Debian's nvme-cli ships /lib/udev/rules.d/70-nvmf-autoconnect.rules, which
 * starts `nvmf-connect@<args>.service` (`nvme connect-all`) on the very events
 * sanhook handles, and nvmf-autoconnect.service, which runs `nvme connect-all`
 * at boot like sanhook-connect-boot.service.
 *
 * Contract: declarations only; `sanhook coexist mask|unmask|status` masks
 * them through core/coexist.ts. `maskWhat` is the text file-system errors show.
 */
import type { CoexistTarget } from '../../core/coexist.js';

export const NVMF_AUTOCONNECT_RULES: CoexistTarget = {
  description: 'nvme-cli udev rule',
  owner: 'nvme-cli',
  file: '70-nvmf-autoconnect.rules',
  manager: 'udev',
  maskWhat: "udev rules directory for the mask of nvme-cli's autoconnect rule",
};

/** Masked as `systemctl mask` does, offline. */
export const NVMF_AUTOCONNECT_SERVICE: CoexistTarget = {
  description: 'nvme-cli boot service',
  owner: 'nvme-cli',
  file: 'nvmf-autoconnect.service',
  manager: 'systemd',
  maskWhat: "systemd unit directory for the mask of nvme-cli's nvmf-autoconnect.service",
};

export const NVMF_COEXIST: readonly CoexistTarget[] = [NVMF_AUTOCONNECT_RULES, NVMF_AUTOCONNECT_SERVICE];
