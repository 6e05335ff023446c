/**
 * fcoe-utils' fcoemon, which must not run next to sanhook: it creates and
 * destroys the same ctlrs on its own DCB state machine. Debian's fcoe-utils
 * ships fcoe.service (fcoemon) and fcoemon.socket (fcoeadm's control socket,
 * which starts fcoemon on demand).
 *
 * Contract: declarations only; `sanhook coexist mask|unmask|status` masks
 * them through core/coexist.ts.
 */
import type { CoexistTarget } from '../../core/coexist.js';

export const FCOE_SERVICE: CoexistTarget = {
  description: 'fcoe-utils fcoemon service',
  owner: 'fcoe-utils',
  file: 'fcoe.service',
  manager: 'systemd',
  maskWhat: "systemd unit directory for the mask of fcoe-utils' fcoe.service",
};

export const FCOEMON_SOCKET: CoexistTarget = {
  description: 'fcoe-utils fcoemon socket',
  owner: 'fcoe-utils',
  file: 'fcoemon.socket',
  manager: 'systemd',
  maskWhat: "systemd unit directory for the mask of fcoe-utils' fcoemon.socket",
};

export const FCOE_COEXIST: readonly CoexistTarget[] = [FCOE_SERVICE, FCOEMON_SOCKET];
