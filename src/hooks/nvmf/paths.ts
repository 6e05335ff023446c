/**
 * The lock of one NVMe-oF I/O path (`nvmf:...`) and every hook that changes
 * it: reconnect, give-up, lost, connected and disconnect all run under it
 * (core/hook-runner.ts), so none of them acts on facts another is changing —
 * e.g. a timerd `reconnect` that decided to connect cannot run `nvme
 * connect` after `sanhook disconnect` wrote the path's tombstone: the
 * disconnect waits for (or is queued behind) the attempt, then observes the
 * controller it created and disconnects that too.
 *
 * Contract: `runOnPath()` runs one verb's round for one path; a live holder
 * of the path's lock runs it instead (reported as `queued`). `connect`'s
 * per-path work (attach.ts) is one of these verbs, so a discovery round and a
 * path's hooks never interleave on the path.
 */
import { reportQueued, runLocked, type LockedResult, type Planner } from '../../core/hook-runner.js';
import type { IoConnectParams } from './connect-decide.js';
import type { NvmfContext } from './context.js';
import { planAttach, type AttachRequest } from './attach.js';
import { planAdopt, type AdoptRequest } from './handover.js';
import { planConnected, type ConnectedRequest } from './connected.js';
import { planDisconnect, type DisconnectRequest } from './disconnect.js';
import { planLost, type LostRequest } from './lost.js';
import { planGiveUp, planReconnect } from './reconnect.js';

export interface PathRequests {
  reconnect: IoConnectParams;
  'give-up': IoConnectParams;
  lost: LostRequest;
  connected: ConnectedRequest;
  disconnect: DisconnectRequest;
  /** A discovery round's per-path work (attach.ts): connect or adopt the path. */
  attach: AttachRequest;
  /** The real root adopting a path the initramfs connected (handover.ts). */
  adopt: AdoptRequest;
}

function pathPlanners(context: NvmfContext): Readonly<Record<keyof PathRequests, Planner<never>>> {
  const planners: { [V in keyof PathRequests]: Planner<PathRequests[V]> } = {
    reconnect: (params) => planReconnect(context, params),
    'give-up': (params) => planGiveUp(context, params),
    lost: (request) => planLost(context, request),
    connected: (request) => planConnected(context, request),
    disconnect: (request) => planDisconnect(context, request),
    attach: (request) => planAttach(context, request),
    adopt: (request) => planAdopt(context, request),
  };
  return planners as Readonly<Record<keyof PathRequests, Planner<never>>>;
}

export async function runOnPath<V extends keyof PathRequests>(context: NvmfContext, key: string, verb: V, request: PathRequests[V]): Promise<LockedResult> {
  const run = await runLocked(context, { key, verb, request, planners: pathPlanners(context) });
  if (run.queued) reportQueued(context, verb, key, `another hook holds this path; it runs this ${verb} next`);
  return run;
}
