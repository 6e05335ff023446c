/**
 * The initramfs hand-over (docs/initramfs.md): sanhook's boot connect in the
 * initramfs leaves a record of what it connected (handover-record.ts), and
 * the real root's boot connect adopts it.
 *
 * Contract:
 * - Initramfs stage (`sanhook connect --all --initramfs`): observe the
 *   controllers before the round (who else connected: the firmware's NBFT
 *   boot paths), run the round, observe again, write the record. The record
 *   is written even when a path of the round failed (the others are live).
 * - Real root (`sanhook connect --all`, the boot unit): before its round,
 *   `decideHandover()` (pure) turns the record into a plan:
 *     record missing                 → nothing
 *     record corrupt/foreign/newer   → ignored, with the reason
 *     record of another boot         → ignored (`stale`)
 *     each path                      → `adopt` under the path's lock (decideAdoptPath)
 *     discovery controller live      → kept: sanhook's discovery record written
 *                                      (timerd brings it back, disconnect --discovery
 *                                      takes it down); claimed again in the ownership
 *                                      registry unless its entry still reads as sanhook's
 *     discovery address tombstoned   → left as it is
 *     discovery controller gone      → noted: the boot round's persistent
 *                                      discovery creates it again
 *     discovery controller of another orchestrator → left alone
 *   `decideAdoptPath()` (pure), under the path's lock:
 *     disconnected on purpose        → left as it is (not managed, not disconnected)
 *     served by another's controller → left alone
 *     served (live or recovering)    → recorded as managed: `lost` brings it back;
 *                                      the controller sanhook's initramfs round created
 *                                      is claimed again in the registry unless its
 *                                      entry still reads as sanhook's
 *     gone                           → recorded as managed and timerd armed,
 *                                      as `lost` would have (its remove event
 *                                      happened before the real root's udev)
 *   Nothing here connects or disconnects anything.
 * - Firmware paths (origin `firmware`: live before sanhook's initramfs round
 *   while an NBFT table was present) are never disconnected by sanhook:
 *   `firmwareRefusals()` (pure) is the check `sanhook disconnect` runs before
 *   its own decision; `--force` overrides it.
 */
import type { Config } from '../../core/config.js';
import { executePlan } from '../../core/execute.js';
import { act, type Action, type Plan } from '../../core/plan.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';
import { servingController, type IoConnectParams } from './connect-decide.js';
import { nvmfContext, type NvmfContext } from './context.js';
import { DISCOVERY, discoveryRecord, isDisconnected, listDiscoveryRecords, listManaged, MANAGED, managedRecord } from './endpoint-state.js';
import {
  buildHandover,
  discoveryKey,
  nbftPresent,
  readBootId,
  readAdopted,
  readHandover,
  writeAdopted,
  writeHandover,
  type Handover,
  type HandoverDiscoveryController,
  type HandoverRead,
  type PathOrigin,
} from './handover-record.js';
import { ioKey } from './io-request.js';
import { armMessage } from './lost.js';
import { NONE } from './keys.js';
import { CLAIM_EFFECT, otherOwner, ownedByOther, readOwnerships, SANHOOK_OWNER, type Ownership } from './registry.js';
import { nvmfSettings, type LostPolicy } from './settings.js';
import { readControllers, type Controller } from './sysfs.js';
import { canonicalIp } from './validate.js';
import { ActionError, EnvironmentError } from '../../core/errors.js';

const HOOK = 'connect';
/** The key the adoption's own lines are reported under. */
export const HANDOVER_KEY = 'initramfs-handover';

/** One path of the record, adopted under its own lock (paths.ts verb `adopt`). */
export interface AdoptRequest {
  readonly params: IoConnectParams;
  readonly origin: PathOrigin;
  /** The controller that served it in the initramfs. */
  readonly device: string;
}

export interface HandoverFacts {
  readonly read: HandoverRead;
  /** This boot's id (undefined: unreadable, so no record can be trusted). */
  readonly bootId?: string;
  /** Controllers now. */
  readonly controllers: readonly Controller[];
  /** Registry ownership of the discovery controllers the record names. */
  readonly ownerships: ReadonlyMap<string, Ownership>;
  /** Discovery addresses of the record disconnected on purpose (`disconnect --discovery` tombstones). */
  readonly tombstoned?: ReadonlySet<string>;
  /** The boot id whose record an earlier boot connect of this boot already adopted (the marker). */
  readonly adopted?: string;
}

const subjectOf = (params: IoConnectParams) => `${params.subnqn} at ${params.transport} ${params.traddr}:${params.trsvcid}`;

/** Pure: the discovery controller of the record, if the same one is still live at its address. */
export function liveDiscoveryController(entry: HandoverDiscoveryController, controllers: readonly Controller[]): Controller | undefined {
  const { endpoint } = entry;
  return controllers.find(
    (c) =>
      c.name === entry.device &&
      c.cntrltype === 'discovery' &&
      c.state === 'live' &&
      c.transport === endpoint.transport &&
      canonicalIp(c.traddr) === canonicalIp(endpoint.traddr) &&
      c.trsvcid === endpoint.trsvcid &&
      (endpoint.hostTraddr === NONE || canonicalIp(c.hostTraddr) === canonicalIp(endpoint.hostTraddr)) &&
      (endpoint.hostIface === NONE || c.hostIface === endpoint.hostIface),
  );
}

/** Pure: the plan for one persistent discovery controller of the record. */
function decideDiscoveryController(entry: HandoverDiscoveryController, facts: HandoverFacts): Action[] {
  const key = discoveryKey(entry);
  const subject = `persistent discovery controller ${entry.device} (${key})`;
  const fields = { device: entry.device, cntrltype: 'discovery', origin: 'initramfs' };
  const live = liveDiscoveryController(entry, facts.controllers);
  if (!live) {
    return [
      act.note('gone', 'gone since the initramfs; the boot round creates a persistent discovery controller again where discovery.conf asks for one', {
        key,
        subject,
        fields: { ...fields, reason: 'gone' },
      }),
    ];
  }
  if (facts.tombstoned?.has(key)) {
    return [act.note('skipped', 'disconnected-by-admin: the address was disconnected on purpose (sanhook disconnect --discovery); the initramfs created it for boot, it is left as it is', { key, subject, fields: { ...fields, reason: 'disconnected-by-admin' } })];
  }
  const ownership = facts.ownerships.get(live.name);
  const owner = otherOwner(ownership);
  if (owner) return [ownedByOther(live.name, owner, { subject, fields })];
  // sanhook's record of the controller it created for the address (discovery-lifecycle.ts: timerd
  // brings it back, `disconnect --discovery` takes it down), as the initramfs round wrote it.
  const keep = act.record(DISCOVERY, discoveryRecord({ ...entry.options }, live.name), { key, subject, fields });
  if (ownership?.kind === 'ours') return [keep];
  // Its registry entry does not read as sanhook's any more (coldplug: docs/initramfs.md): claim it again.
  return [keep, act.effect('claim', CLAIM_EFFECT, { owner: SANHOOK_OWNER, device: live.name }, 'claimed', { key, subject, fields })];
}

/** Pure: what the real root does with the initramfs's record. */
export function decideHandover(facts: HandoverFacts): Plan {
  const plan = (...actions: Action[]): Plan => ({ hook: HOOK, key: HANDOVER_KEY, trigger: 'boot', actions });
  const ignore = (reason: string, detail: string) => plan(act.note('ignored', `initramfs hand-over record ignored: ${reason}: ${detail}`, { level: 'warn', fields: { reason } }));
  const { read } = facts;
  if (read.kind === 'missing') return plan();
  if (read.kind === 'invalid') return ignore(read.reason, read.detail);
  const record: Handover = read.record;
  if (!facts.bootId) return ignore('no-boot-id', 'this boot\'s id (/proc/sys/kernel/random/boot_id) cannot be read, so the record cannot be told from a stale one');
  if (record.bootId !== facts.bootId) return ignore('stale', `written in boot ${record.bootId}, this is boot ${facts.bootId}`);
  // Once per boot: a later `connect --all` must not re-arm (and so restart the give-up clock of) a path lost meanwhile.
  if (facts.adopted === record.bootId) return plan(act.note('nothing-to-do', 'the initramfs hand-over record of this boot was adopted already', { level: 'debug', fields: { reason: 'already-adopted' } }));
  const paths = record.paths.map((p) => {
    const request: AdoptRequest = { params: p.params, origin: p.origin, device: p.device };
    return act.locked(ioKey(p.params), 'adopt', request, { subject: subjectOf(p.params), fields: { origin: p.origin, device: p.device } });
  });
  const discovery = record.discoveryControllers.flatMap((d) => decideDiscoveryController(d, facts));
  return { ...plan(...discovery, ...paths), summary: { message: 'initramfs hand-over adopted', fields: { paths: paths.length, discovery_controllers: record.discoveryControllers.length, written_at: record.writtenAt } } };
}

export interface AdoptFacts {
  readonly controllers: readonly Controller[];
  readonly tombstoned: boolean;
  /** Ownership of the controller serving the path now, if one does. */
  readonly ownership?: Ownership;
}

/** Pure: adopt one path of the record (under its lock). */
export function decideAdoptPath(request: AdoptRequest, facts: AdoptFacts, policy: LostPolicy): Plan {
  const { params } = request;
  const key = ioKey(params);
  const subject = subjectOf(params);
  const fields = { subnqn: params.subnqn, origin: request.origin };
  const plan = (...actions: Action[]): Plan => ({ hook: HOOK, key, trigger: 'boot', actions });
  const unwritable = { text: 'not recorded as managed, so it will not be brought back if lost', failure: `${params.subnqn}: not recorded as managed` };
  if (facts.tombstoned) {
    return plan(act.note('skipped', 'disconnected-by-admin: disconnected on purpose with sanhook disconnect; the initramfs connected it for boot, it is left as it is', { subject, fields: { ...fields, reason: 'disconnected-by-admin' } }));
  }
  const serving = servingController(params, facts.controllers);
  const owner = serving && otherOwner(facts.ownership);
  if (serving && owner) return plan(ownedByOther(serving.name, owner, { subject, fields }));
  if (serving) {
    const manage = act.record(MANAGED, managedRecord(params), { subject, fields: { ...fields, device: serving.name }, unwritable });
    // The controller sanhook's initramfs round created, whose registry entry no longer reads as
    // sanhook's (udev's coldplug in the real root gives it a newer add event: the entry looks stale).
    const reclaim = request.origin === 'connected' && serving.name === request.device && facts.ownership?.kind !== 'ours';
    return plan(manage, ...(reclaim ? [act.effect('claim', CLAIM_EFFECT, { owner: SANHOOK_OWNER, device: serving.name }, 'claimed', { subject, fields: { ...fields, device: serving.name } })] : []));
  }
  // Lost between the initramfs and now: its remove event found no sanhook to arm timerd.
  return plan(act.record(MANAGED, managedRecord(params), { subject, fields: { ...fields, device: null }, unwritable, then: [act.arm(armMessage(params, policy), { subject, fields })] }));
}

/** Observe under the path's lock, then decide. */
export async function planAdopt(context: NvmfContext, request: AdoptRequest): Promise<Plan> {
  const controllers = await readControllers(context.system);
  const serving = servingController(request.params, controllers);
  const ownership = serving ? (await readOwnerships(context.system, [serving.name])).get(serving.name) : undefined;
  const tombstoned = await isDisconnected(context.system, ioKey(request.params));
  return decideAdoptPath(request, { controllers, tombstoned, ...(ownership ? { ownership } : {}) }, nvmfSettings(context.config).lost);
}

/** Observe the record and the controllers it names, then decide. */
export async function planHandover(system: System): Promise<Plan> {
  const read = await readHandover(system);
  const controllers = read.kind === 'record' ? await readControllers(system) : [];
  const discovery = read.kind === 'record' ? read.record.discoveryControllers : [];
  const tombstoned = new Set<string>();
  for (const d of discovery) if (await isDisconnected(system, discoveryKey(d))) tombstoned.add(discoveryKey(d));
  const bootId = await readBootId(system);
  const adopted = await readAdopted(system);
  const ownerships = await readOwnerships(system, discovery.map((d) => d.device));
  return decideHandover({ read, ...(bootId ? { bootId } : {}), controllers, ownerships, tombstoned, ...(adopted ? { adopted } : {}) });
}

/** Real root: adopt the initramfs's record (a dry run prints the plan); mark it adopted once every action worked. */
export async function adoptHandover(context: NvmfContext): Promise<readonly string[]> {
  const plan = await planHandover(context.system);
  const result = await executePlan(plan, context);
  const bootId = await readBootId(context.system);
  if (!context.dryRun && result.failures.length === 0 && plan.summary && bootId) await writeAdopted(context.system, bootId);
  return result.failures;
}

export type BootStage = 'initramfs' | 'root';

/**
 * The boot connect with its hand-over: `connect` is the discovery round
 * (connect.ts runConnect). Initramfs: observe, round, record. Root: adopt,
 * then the round (which finds the adopted paths already connected).
 */
export async function runBootConnect(system: System, config: Config, stage: BootStage, dryRun: boolean, reporter: Reporter, connect: () => Promise<void>): Promise<void> {
  const context = nvmfContext(system, config, reporter, dryRun);
  if (stage === 'root') {
    const failures = await adoptHandover(context);
    await connect();
    if (failures.length > 0) throw new ActionError(`initramfs hand-over: ${failures.join('; ')}`, { failures });
    return;
  }
  const bootId = await readBootId(system);
  if (!bootId) throw new EnvironmentError(`${system.paths.root}proc/sys/kernel/random/boot_id cannot be read: the initramfs hand-over record needs this boot's id (is /proc mounted?)`);
  const nbft = await nbftPresent(system);
  // A second run in the same initramfs (dracut runs its online hook per interface) is not "someone else".
  const before = notSanhooks(await readControllers(system), await readHandover(system), bootId);
  try {
    await connect();
  } finally {
    if (!dryRun) await recordInitramfsStage(system, reporter, { bootId, nbft, before });
  }
}

/**
 * Pure: the controllers live before an initramfs round, less those an
 * earlier round of this boot recorded as its own (connected paths,
 * discovery controllers): they were not there before sanhook.
 */
export function notSanhooks(before: readonly Controller[], previous: HandoverRead, bootId: string): Controller[] {
  if (previous.kind !== 'record' || previous.record.bootId !== bootId) return [...before];
  const own = new Set([...previous.record.paths.filter((p) => p.origin === 'connected').map((p) => p.device), ...previous.record.discoveryControllers.map((d) => d.device)]);
  return before.filter((c) => !own.has(c.name));
}

async function recordInitramfsStage(system: System, reporter: Reporter, seen: { bootId: string; nbft: boolean; before: readonly Controller[] }): Promise<void> {
  const after = await readControllers(system);
  const record = buildHandover({ ...seen, now: system.clock.now(), after, managed: await listManaged(system), discoveryRecords: await listDiscoveryRecords(system) });
  const file = await writeHandover(system, record);
  const fields = { paths: record.paths.length, discovery_controllers: record.discoveryControllers.length, nbft: record.nbft };
  system.log.info({ hook: HOOK, key: HANDOVER_KEY, outcome: 'recorded', file, ...fields }, 'initramfs hand-over recorded');
  reporter.item({
    hook: HOOK,
    key: HANDOVER_KEY,
    outcome: 'recorded',
    ...fields,
    text: `${file}: ${record.paths.length} path(s), ${record.discoveryControllers.length} persistent discovery controller(s) handed over to the real root`,
  });
}

/** Pure: the keys of the firmware's boot paths in a record of this boot (none if it is not one). */
export function firmwarePathKeys(read: HandoverRead, bootId: string | undefined): Set<string> {
  if (read.kind !== 'record' || !bootId || read.record.bootId !== bootId) return new Set();
  return new Set(read.record.paths.filter((p) => p.origin === 'firmware').map((p) => ioKey(p.params)));
}

/** Pure: which of `keys` `sanhook disconnect` must refuse (firmware boot paths), unless forced. */
export function firmwareRefusals(keys: Iterable<string>, firmware: ReadonlySet<string>, force: boolean): string[] {
  return force ? [] : [...keys].filter((k) => firmware.has(k));
}

/** Observation for `sanhook disconnect`: the firmware boot paths of this boot. */
export async function readFirmwarePathKeys(system: System): Promise<Set<string>> {
  return firmwarePathKeys(await readHandover(system), await readBootId(system));
}
