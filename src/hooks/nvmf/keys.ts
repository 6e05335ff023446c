/**
 * NVMe-oF's key kinds (registered in ./index.ts):
 *   nvmf-disc:<transport>:<traddr>:<trsvcid>:<host-traddr>:<host-iface>   a discovery address
 *   nvmf:<transport>:<traddr>:<trsvcid>:<subnqn>:<host-traddr>:<host-iface>  one I/O controller path
 *   nvmf-ctrl:<nvmeX>   a FreeBSD controller by name
 * Contract: `endpointKey()` is the only function that builds them; "none"
 * stands for an absent field, as the kernel prints it in uevents.
 */
import type { Transport } from './validate.js';
/** Placeholder for an absent field, as the kernel prints it in uevents. */
export const NONE = 'none';

/** A discovery transport address: what one discovery run talks to. */
export interface NvmfDiscoveryEndpoint {
  readonly kind: 'nvmf-disc';
  readonly transport: Transport;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly hostTraddr: string;
  readonly hostIface: string;
}

/** One NVMe-oF I/O controller path. */
export interface NvmfEndpoint {
  readonly kind: 'nvmf';
  readonly transport: Transport;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly subnqn: string;
  readonly hostTraddr: string;
  readonly hostIface: string;
}

/**
 * A FreeBSD NVMe-oF controller by name: the kernel keeps a disconnected
 * controller (nvmeX) and its connection parameters until ctrl-loss, so the
 * controller itself is what is reconnected, and what hooks serialise on.
 */
export interface NvmfControllerEndpoint {
  readonly kind: 'nvmf-ctrl';
  readonly device: string;
}

export type Endpoint = NvmfDiscoveryEndpoint | NvmfEndpoint | NvmfControllerEndpoint;

/** IPv6 addresses are bracketed so the key's ':' separators stay unambiguous. */
function addr(value: string): string {
  return value.includes(':') && !value.startsWith('nn-') ? `[${value}]` : value;
}

export function endpointKey(endpoint: Endpoint): string {
  switch (endpoint.kind) {
    case 'nvmf-disc':
      return ['nvmf-disc', endpoint.transport, addr(endpoint.traddr), endpoint.trsvcid, addr(endpoint.hostTraddr), endpoint.hostIface].join(':');
    case 'nvmf':
      return ['nvmf', endpoint.transport, addr(endpoint.traddr), endpoint.trsvcid, endpoint.subnqn, addr(endpoint.hostTraddr), endpoint.hostIface].join(':');
    case 'nvmf-ctrl':
      return ['nvmf-ctrl', endpoint.device].join(':');
  }
}


/**
 * The address fields of a discovery address or an I/O path as nvme-cli option
 * names (their stored form: timerd's entries, sanhook's records), absent ones
 * ("none") left out.
 */
export function addressOptions(endpoint: Omit<NvmfDiscoveryEndpoint, 'kind' | 'transport'>): Record<string, string> {
  const options: Record<string, string> = {};
  if (endpoint.traddr !== NONE) options.traddr = endpoint.traddr;
  if (endpoint.trsvcid !== NONE) options.trsvcid = endpoint.trsvcid;
  if (endpoint.hostTraddr !== NONE) options['host-traddr'] = endpoint.hostTraddr;
  if (endpoint.hostIface !== NONE) options['host-iface'] = endpoint.hostIface;
  return options;
}
