/**
 * The lock of one NVMe-oF discovery address (`nvmf-disc:...`) and every hook
 * that changes what sanhook does there: a discovery round (`connect`, also
 * when it follows a referral), the loss of the persistent discovery
 * controller sanhook created there (`lost`), timerd's attempts to bring it
 * back (`reconnect-discovery`, `give-up-discovery`) and the admin's
 * `disconnect --discovery`.
 *
 * Contract: `runOnDiscovery()` runs one verb's round for one address under
 * its lock; a live holder of the lock runs it instead (reported `queued`), so
 * a referral to an address whose round is running queues there instead of
 * recursing, and a loss event never interleaves with a round that is
 * creating the address's controller.
 */
import { reportQueued, runLocked, type LockedResult, type Planner } from '../../core/hook-runner.js';
import type { NvmfContext } from './context.js';
import type { ConnectRequest } from './connect-request.js';
import { planConnect } from './connect.js';
import { planDisconnectDiscovery, planDiscoveryLost, planGiveUpDiscovery, planReconnectDiscovery, type DisconnectDiscoveryRequest, type DiscoveryLostRequest } from './discovery-lifecycle.js';

export interface DiscoveryRequests {
  connect: ConnectRequest;
  lost: DiscoveryLostRequest;
  'reconnect-discovery': ConnectRequest;
  'give-up-discovery': ConnectRequest;
  disconnect: DisconnectDiscoveryRequest;
}

function discoveryPlanners(context: NvmfContext, key: string): Readonly<Record<keyof DiscoveryRequests, Planner<never>>> {
  const planners: { [V in keyof DiscoveryRequests]: Planner<DiscoveryRequests[V]> } = {
    connect: (request, mode) => planConnect(context, key, request, mode),
    lost: (request) => planDiscoveryLost(context, key, request),
    'reconnect-discovery': (request, mode) => planReconnectDiscovery(context, key, request, mode),
    'give-up-discovery': (request) => planGiveUpDiscovery(context, key, request),
    disconnect: (request) => planDisconnectDiscovery(context, key, request),
  };
  return planners as Readonly<Record<keyof DiscoveryRequests, Planner<never>>>;
}

export async function runOnDiscovery<V extends keyof DiscoveryRequests>(context: NvmfContext, key: string, verb: V, request: DiscoveryRequests[V], queuedText?: string): Promise<LockedResult> {
  const run = await runLocked(context, { key, verb, request, planners: discoveryPlanners(context, key) });
  if (run.queued && queuedText !== '') reportQueued(context, verb, key, queuedText ?? `another hook holds this discovery address; it runs this ${verb} next`);
  return run;
}
