/**
 * Is a udev event one that `sanhook connect --uevent` acts on? (DESIGN §4)
 *
 * Contract: pure, and dependency-free ON PURPOSE — no imports at all, not even
 * `node:` built-ins — because cli.ts runs it before anything else loads, for
 * every event the udev rules hand us; an irrelevant event must cost little more
 * than starting node (bench/hook-start.mjs). Only variable NAMES and the fixed
 * values that select an event are checked; values are validated later by
 * `requestFromOptions()` like argv. `classifyUevent()` (nvme/connect-request.ts)
 * is the full version and must agree with `matchUevent()` on every env
 * (test/unit/uevent-filter.test.ts).
 */

/** The discovery-log-changed AEN (NVMe-oF: Notice, Discovery Log Page Change). */
export const AEN_DISCOVERY_LOG_CHANGED = '0x70f002';

/** Why an event is relevant; each is also a connect trigger (connect-request.ts TRIGGERS). */
export type UeventTrigger = 'fc-discovery' | 'aen' | 'rediscover';

export type UeventMatch =
  | { readonly relevant: false; readonly why: string }
  | { readonly relevant: true; readonly trigger: UeventTrigger };

export function matchUevent(env: Readonly<Record<string, string | undefined>>): UeventMatch {
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
