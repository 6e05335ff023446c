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
import * as nvmeCli from './nvme-cli.js';
import { readControllers, type Controller } from './sysfs.js';

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

/** Pure: connect the path, adopt the controller that serves it, or leave a path disconnected on purpose alone. */
export function decideAttach(request: AttachRequest, controllers: readonly Controller[], tombstoned: boolean): Plan {
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
  // Found connected at an address sanhook is responsible for: bring it back if it is lost.
  if (serving) return plan(skip('already-connected', `${serving.name} (${serving.state})`), manage);
  return plan(
    act.run('connect', ['nvme', ...nvmeCli.connectArgv(params)], 'connected', {
      interpret: 'nvme-connect',
      already: 'already-connected',
      failure: `${params.subnqn}: connect failed`,
      subject,
      fields,
      then: [manage],
    }),
  );
}

/** Observe under the path's lock, then decide. */
export async function planAttach(context: NvmfContext, request: AttachRequest): Promise<Plan> {
  return decideAttach(request, await readControllers(context.system), await isDisconnected(context.system, ioKey(request.params)));
}
