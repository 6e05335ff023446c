/**
 * Is a udev event one that `sanhook connect|lost|connected --uevent` acts on? (DESIGN §4)
 *
 * Contract: pure, and dependency-free ON PURPOSE — no imports at all, not even
 * `node:` built-ins (type imports vanish) — because cli.ts runs these, through
 * src/hooks/prefilters.ts, before anything else loads, for every event the udev
 * rules hand us; an irrelevant event must cost little more than starting node
 * (bench/hook-start.mjs). Only variable NAMES and the fixed values that select
 * an event are checked; values are validated later like argv. Each is exact:
 * it agrees with its hook's full classifier on every env
 * (test/unit/uevent-filter.test.ts): `classifyUevent()`
 * (connect-request.ts) for connect, `classifyLostUevent()` (lost.ts) for lost,
 * and the check at the top of `runConnected()` (connected.ts) for connected.
 */
import type { UeventEnv, UeventPrefilter } from '../../core/fabric.js';

/** The discovery-log-changed AEN (NVMe-oF: Notice, Discovery Log Page Change). */
export const AEN_DISCOVERY_LOG_CHANGED = '0x70f002';

/** Why an event is relevant; each is also a connect trigger (connect-request.ts TRIGGERS). */
export type UeventTrigger = 'fc-discovery' | 'aen' | 'rediscover';

export type UeventMatch =
  | { readonly relevant: false; readonly why: string }
  | { readonly relevant: true; readonly trigger: UeventTrigger };

export function matchUevent(env: UeventEnv): UeventMatch {
  const subsystem = env.SUBSYSTEM;
  if (subsystem === 'fc' && env.FC_EVENT === 'nvmediscovery') {
    if (env.NVMEFC_TRADDR === undefined || env.NVMEFC_HOST_TRADDR === undefined) {
      return { relevant: false, why: 'fc nvmediscovery event without NVMEFC_TRADDR/NVMEFC_HOST_TRADDR' };
    }
    return { relevant: true, trigger: 'fc-discovery' };
  }
  if (subsystem !== 'nvme') return { relevant: false, why: `subsystem ${subsystem ?? '(unset)'}` };
  if (env.ACTION !== 'change') return { relevant: false, why: `action ${env.ACTION ?? '(unset)'}` };
  if (env.NVME_AEN === AEN_DISCOVERY_LOG_CHANGED) return { relevant: true, trigger: 'aen' };
  if (env.NVME_EVENT === 'rediscover') return { relevant: true, trigger: 'rediscover' };
  return { relevant: false, why: 'not a discovery-log-changed AEN or rediscover event' };
}

/** `lost --uevent`: the remove event of a fabrics controller (NVME_TRTYPE is on every uevent of one, never on PCIe's). */
export function matchLostUevent(env: UeventEnv): boolean {
  return env.SUBSYSTEM === 'nvme' && env.ACTION === 'remove' && env.NVME_TRTYPE !== undefined;
}

/** `connected --uevent`: a fabrics controller is live (PCIe controllers send NVME_EVENT=connected too). */
export function matchConnectedUevent(env: UeventEnv): boolean {
  return env.SUBSYSTEM === 'nvme' && env.ACTION === 'change' && env.NVME_EVENT === 'connected' && !!env.NVME_TRTYPE && !!env.DEVPATH;
}

/** NVMe-oF's prefilters by verb: the Fabric's `prefilters` and src/hooks/prefilters.ts. */
export const NVMF_PREFILTERS: Readonly<Record<string, UeventPrefilter>> = {
  connect: (env) => matchUevent(env).relevant,
  lost: matchLostUevent,
  connected: matchConnectedUevent,
};
