/**
 * The per-path part of a discovery round (`sanhook connect`): connect one
 * I/O path the discovery log lists, or adopt it as managed if a controller
 * already serves it, under the path's own lock (paths.ts). It observes again
 * under the lock, so a `sanhook disconnect` that tombstoned the path after
 * the round read the log wins: the path is not connected, and its tombstone
 * is not cleared, unless the admin named the subsystem (`connect --nqn`).
 */
import { act, type Action, type Plan } from '../../core/plan.js';
import { servingController, type IoConnectParams } from './connect-decide.js';
import type { NvmfContext } from './context.js';
import { DISCONNECTED, isDisconnected, MANAGED, managedRecord } from './endpoint-state.js';
import { ioKey } from './io-request.js';
import { readControllers, type Controller } from './sysfs.js';
import { connectAndClaim, NO_OWNERSHIP, otherOwner, ownedByOther, readOwnerships, type OwnershipFacts } from './registry.js';

export interface AttachRequest {
  readonly params: IoConnectParams;
  /** The admin named this subsystem: connect it even if disconnected on purpose, and clear that. */
  readonly explicit: boolean;
  /** `<subnqn> at <transport> <traddr>:<trsvcid>`, as the round's report names the record. */
  readonly subject: string;
  readonly fields: Readonly<Record<string, string>>;
  readonly trigger: string;
  /** The discovery address of the round: what its log lines and report items are keyed by. */
  readonly roundKey: string;
}

/**
 * Pure: connect the path (and record it as sanhook's in the ownership
 * registry), adopt the controller that serves it, or leave alone a path
 * disconnected on purpose or served by a controller another orchestrator owns.
 */
export function decideAttach(request: AttachRequest, controllers: readonly Controller[], tombstoned: boolean, ownership: OwnershipFacts = NO_OWNERSHIP): Plan {
  const { params, subject, fields } = request;
  // Reported under the round's key, as the round's own lines are; the records name the path's key.
  const key = ioKey(params);
  const plan = (...actions: Action[]): Plan => ({ hook: 'connect', key: request.roundKey, trigger: request.trigger, actions });
  // A state dir that cannot be written fails this record only: the path is connected (issue 9).
  const unwritable = { text: 'not recorded as managed, so it will not be brought back if lost', failure: `${params.subnqn}: not recorded as managed` };
  const skip = (reason: string, detail: string) => act.note('skipped', `${reason}: ${detail}`, { subject, fields: { ...fields, reason } });
  if (tombstoned && !request.explicit) return plan(skip('disconnected-by-admin', 'disconnected on purpose with sanhook disconnect (connect --nqn brings it back)'));
  const serving = servingController(params, controllers);
  const manage = act.record(MANAGED, managedRecord(params), {
    key,
    subject,
    fields,
    unwritable,
    then: request.explicit && tombstoned ? [act.forget(DISCONNECTED, { key, subject, fields, unwritable })] : [],
  });
  // Another orchestrator's controller: not adopted, so sanhook never reconnects or gives it up.
  const owner = serving && otherOwner(ownership.owners.get(serving.name));
  if (serving && owner) return plan(ownedByOther(serving.name, owner, { subject, fields }));
  // Found connected at an address sanhook is responsible for: bring it back if it is lost.
  if (serving) return plan(skip('already-connected', `${serving.name} (${serving.state})`), manage);
  return plan(
    connectAndClaim(params, ownership, 'connected', {
      interpret: 'nvme-connect',
      already: 'already-connected',
      failure: `${params.subnqn}: connect failed`,
      subject,
      fields,
      then: [manage],
    }),
  );
}

/** Observe under the path's lock (controllers, tombstone, their registry entries, nvme-cli's --owner), then decide. */
export async function planAttach(context: NvmfContext, request: AttachRequest): Promise<Plan> {
  const controllers = await readControllers(context.system);
  const tombstoned = await isDisconnected(context.system, ioKey(request.params));
  return decideAttach(request, controllers, tombstoned, await observeOwnership(context, controllers, !servingController(request.params, controllers)));
}

/** The ownership facts of these controllers; nvme-cli is asked (once per run) only when a connect may follow. */
export async function observeOwnership(context: NvmfContext, controllers: readonly Controller[], mayConnect = true): Promise<OwnershipFacts> {
  const owners = await readOwnerships(context.system, controllers.map((c) => c.name));
  return { owners, cliRecordsOwner: mayConnect ? (await context.nvmeCli()).registry : false };
}
