/**
 * NVMe over Fabrics, registered: Linux (udev, nvme-cli, /sys/class/nvme) and
 * FreeBSD (devd, nvmecontrol). Everything the core knows about NVMe-oF is
 * in this object.
 */
import { NVMF_COMMANDS } from './commands/index.js';
import { NVMF_PREFILTERS } from './prefilter.js';
import type { Fabric } from '../../core/fabric.js';
import { NVMF_TIMER_HOOKS } from './timer-hooks.js';
import { NVMF_COEXIST } from './coexist.js';
import { NVMF_DOCTOR } from './doctor.js';
import { NVMF_CONFIG } from './config.js';
import { NVMF_COMMAND_WRITES, NVMF_LOCATIONS } from './locations.js';
import { nvmfStatus } from './status.js';

export const nvmf: Fabric = {
  name: 'nvmf',
  title: 'NVMe over Fabrics (TCP, RDMA, FC)',
  keyKinds: [
    { kind: 'nvmf-disc', names: 'a discovery controller address (transport, traddr, trsvcid, host-traddr, host-iface)' },
    { kind: 'nvmf', names: 'one I/O controller path (the discovery address fields plus the subsystem NQN)' },
    { kind: 'nvmf-ctrl', names: 'a FreeBSD controller by name (nvmeX), which the kernel keeps while disconnected' },
  ],
  commands: NVMF_COMMANDS,
  prefilters: NVMF_PREFILTERS,
  timerHooks: NVMF_TIMER_HOOKS,
  interpreters: {},
  config: NVMF_CONFIG,
  coexist: NVMF_COEXIST,
  locations: NVMF_LOCATIONS,
  commandWrites: NVMF_COMMAND_WRITES,
  status: nvmfStatus,
  doctor: NVMF_DOCTOR,
};
