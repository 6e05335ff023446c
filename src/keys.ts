/**
 * Endpoint identities.
 *
 * Contract: `endpointKey()` is the only function that turns an endpoint into
 * its canonical key string (`nvmf:tcp:10.0.0.5:4420:nqn.x:none:none`); lock
 * files, pending markers, timer entries and log lines all use it.
 * `keyFileName()` is its one file-name encoding: reversible, no `/`, no leading
 * dot, bounded length.
 */
import { createHash } from 'node:crypto';
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

/** File names stay well under NAME_MAX (255) including lock/pending suffixes. */
const FILE_NAME_MAX = 180;

export function keyFileName(key: string): string {
  const encoded = key.replace(/[^A-Za-z0-9_.:=@+-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).replace(/^\./, '%2e');
  if (encoded.length <= FILE_NAME_MAX) return encoded;
  const digest = createHash('sha256').update(key).digest('hex').slice(0, 16);
  return `${encoded.slice(0, FILE_NAME_MAX - 17)}~${digest}`;
}
