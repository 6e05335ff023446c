/**
 * Pure tables of issue 14's discovery work (no processes):
 * - referral handling in decideConnect(): a new address is followed as its
 *   own round, an address already known is not, a loop stops, and the depth
 *   and fan-out bounds hold;
 * - chooseDiscoveryController(): at most one persistent discovery controller
 *   per address (reuse, create, wait for a recovering one);
 * - the life of the one sanhook created: its loss arms timerd, timerd's
 *   attempt, and `disconnect --discovery [--keep]`.
 */
import { describe, expect, it } from 'vitest';
import { chooseDiscoveryController, decideConnect, type ConnectObservation, type DiscoveryControllerFacts, type ReferralBounds } from '../../src/hooks/nvmf/connect-decide.js';
import type { ConnectRequest } from '../../src/hooks/nvmf/connect-request.js';
import type { RawRecord } from '../../src/hooks/nvmf/discovery-log.js';
import { controllerFromAttributes, type Controller } from '../../src/hooks/nvmf/sysfs.js';
import { decideDisconnectDiscovery, decideDiscoveryLost, decideReconnectDiscovery, type DiscoveryLostFacts } from '../../src/hooks/nvmf/discovery-lifecycle.js';
import { DEFAULT_LOST_POLICY } from '../../src/hooks/nvmf/config.js';
import { connectPlan } from '../../src/hooks/nvmf/connect.js';

const DISC_NQN = 'nqn.2014-08.org.nvmexpress.discovery';
const S1 = 'nqn.2026-11.io.sanhook:subsys1';
const A = 'nvmf-disc:tcp:127.0.0.1:4420:none:none';
const B = 'nvmf-disc:tcp:127.0.0.1:4421:none:none';
const C = 'nvmf-disc:tcp:127.0.0.1:4422:none:none';
const BOUNDS: ReferralBounds = { follow: true, maxDepth: 4, maxPerLog: 16 };

const request = (extra: Partial<ConnectRequest> = {}): ConnectRequest => ({
  trigger: 'aen',
  persistent: true,
  discovery: { kind: 'nvmf-disc', transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', hostTraddr: 'none', hostIface: 'none' },
  ...extra,
});
const referral = (trsvcid: string, over: Partial<RawRecord> = {}): RawRecord => ({ trtype: 'tcp', adrfam: 'ipv4', subtype: 'discovery subsystem referral', traddr: '127.0.0.1', trsvcid, subnqn: DISC_NQN, ...over });
const subsystem: RawRecord = { trtype: 'tcp', adrfam: 'ipv4', subtype: 'nvme subsystem', traddr: '127.0.0.1', trsvcid: '4420', subnqn: S1 };
const dc = (name: string, trsvcid: string, state = 'live'): Controller =>
  controllerFromAttributes(name, { transport: 'tcp', address: `traddr=127.0.0.1,trsvcid=${trsvcid}`, subsysnqn: DISC_NQN, cntrltype: 'discovery', state })!;

const observe = (records: RawRecord[], controllers: Controller[] = [], roundsRun: string[] = []): ConnectObservation => ({
  log: { genctr: 1, records },
  controllers,
  roundsRun: new Set(roundsRun),
});
const verdicts = (obs: ConnectObservation, req = request(), bounds: ReferralBounds = BOUNDS) =>
  decideConnect(obs, req, { exclude: [], referrals: bounds }).decisions.map((d) => (d.action === 'skip' ? `skip:${d.reason}` : d.action === 'follow' ? `follow:${d.key}` : d.action));

describe('referrals: new address, already known, loop, over the bound', () => {
  it.each([
    ['a new address is followed', [referral('4421')], [], [], request(), BOUNDS, [`follow:${B}`]],
    ['next to a subsystem of the same log', [subsystem, referral('4421')], [], [], request(), BOUNDS, ['connect', `follow:${B}`]],
    ['known: it has a live (persistent) discovery controller, whose AENs drive it', [referral('4421')], [dc('nvme3', '4421')], [], request(), BOUNDS, ['skip:referral-known']],
    ['a discovery controller there that is reconnecting does not count as known', [referral('4421')], [dc('nvme3', '4421', 'connecting')], [], request(), BOUNDS, [`follow:${B}`]],
    ['known: its round already ran in this invocation', [referral('4421')], [], [B], request(), BOUNDS, ['skip:referral-known']],
    ['a loop: B refers back to A, which the chain came from', [referral('4420')], [], [], request({ discovery: { ...request().discovery, trsvcid: '4421' }, referral: { depth: 1, via: [A] } }), BOUNDS, ['skip:referral-loop']],
    ['a log that refers to itself', [referral('4420')], [], [], request(), BOUNDS, ['skip:referral-loop']],
    ['a longer loop: C refers to A through B', [referral('4420')], [], [], request({ discovery: { ...request().discovery, trsvcid: '4422' }, referral: { depth: 2, via: [A, B] } }), BOUNDS, ['skip:referral-loop']],
    ['over the depth bound', [referral('4422')], [], [], request({ discovery: { ...request().discovery, trsvcid: '4421' }, referral: { depth: 1, via: [A] } }), { ...BOUNDS, maxDepth: 1 }, ['skip:referral-depth']],
    ['at the depth bound', [referral('4422')], [], [], request({ discovery: { ...request().discovery, trsvcid: '4421' }, referral: { depth: 1, via: [A] } }), { ...BOUNDS, maxDepth: 2 }, [`follow:${C}`]],
    ['over the fan-out bound: the rest are reported', [referral('4421'), referral('4422'), referral('4423')], [], [], request(), { ...BOUNDS, maxPerLog: 2 }, [`follow:${B}`, `follow:${C}`, 'skip:referral-fanout']],
    ['the same referral twice in one log', [referral('4421'), referral('4421')], [], [], request(), BOUNDS, [`follow:${B}`, 'skip:duplicate-record']],
    ['referrals off', [referral('4421')], [], [], request(), { ...BOUNDS, follow: false }, ['skip:referrals-off']],
    ['a hostile address from the wire', [referral('4421', { traddr: '127.0.0.1;reboot' })], [], [], request(), BOUNDS, ['skip:invalid-record']],
    ['a port that is not one', [referral('99999')], [], [], request(), BOUNDS, ['skip:invalid-record']],
  ] as const)('%s', (_name, records, controllers, rounds, req, bounds, expected) => {
    expect(verdicts(observe([...records], [...controllers], [...rounds]), req, bounds)).toEqual(expected);
  });

  it('the followed round carries the chain, the host identity, the timers and --persistent; the host side only on the same transport', () => {
    const req = request({ hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:h', reconnectDelay: 2, ctrlLossTmo: 30, discovery: { ...request().discovery, hostIface: 'eth0' } });
    const [tcp, rdma] = decideConnect(observe([referral('4421'), referral('4420', { trtype: 'rdma', traddr: '10.9.0.1' })]), req, { exclude: [], referrals: BOUNDS }).decisions;
    expect(tcp).toMatchObject({
      action: 'follow',
      key: 'nvmf-disc:tcp:127.0.0.1:4421:none:eth0',
      request: { trigger: 'referral', persistent: true, hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:h', reconnectDelay: 2, ctrlLossTmo: 30, referral: { depth: 1, via: ['nvmf-disc:tcp:127.0.0.1:4420:none:eth0'] } },
    });
    expect(rdma).toMatchObject({ action: 'follow', key: 'nvmf-disc:rdma:10.9.0.1:4420:none:none' });
  });

  it('an exclude rule matching the referred address stops it', () => {
    const d = decideConnect(observe([referral('4421')]), request(), { exclude: [{ trsvcid: '4421' }], referrals: BOUNDS }).decisions;
    expect(d.map((x) => (x.action === 'skip' ? x.reason : x.action))).toEqual(['excluded']);
  });

  it("the round's plan runs a followed referral as a `locked` connect on the referred address (its lock, its own round)", () => {
    const plan = connectPlan(A, request(), decideConnect(observe([referral('4421')]), request(), { exclude: [], referrals: BOUNDS }));
    expect(plan.actions).toEqual([expect.objectContaining({ kind: 'locked', key: B, verb: 'connect', request: expect.objectContaining({ trigger: 'referral' }) })]);
  });
});

describe('one persistent discovery controller per address: reuse and creation', () => {
  const facts = (over: Partial<DiscoveryControllerFacts> = {}): DiscoveryControllerFacts => ({
    endpoint: request().discovery,
    controllers: [],
    ownedByOther: new Set(),
    persistent: true,
    readOnly: false,
    ...over,
  });
  it.each([
    ['none there, persistent: create one', facts(), { via: 'create' }],
    ['none there, not persistent: a transient one (nvme discover)', facts({ persistent: false }), { via: 'transient', reason: 'not-persistent' }],
    ['a live one: reuse it, never a second', facts({ controllers: [dc('nvme2', '4420')] }), { via: 'device', device: 'nvme2', reason: 'reuse' }],
    ['a live one, not persistent asked: still read through it', facts({ persistent: false, controllers: [dc('nvme2', '4420')] }), { via: 'device', device: 'nvme2', reason: 'reuse' }],
    ['two live ones (made elsewhere): the lowest instance', facts({ controllers: [dc('nvme12', '4420'), dc('nvme3', '4420')] }), { via: 'device', device: 'nvme3', reason: 'reuse' }],
    ['one at another port only: create', facts({ controllers: [dc('nvme2', '4421')] }), { via: 'create' }],
    ['one the kernel is reconnecting: wait for it (transient read), no second', facts({ controllers: [dc('nvme2', '4420', 'connecting')] }), { via: 'transient', reason: 'recovering', detail: 'nvme2 connecting' }],
    ['one being deleted: create', facts({ controllers: [dc('nvme2', '4420', 'deleting')] }), { via: 'create' }],
    ["one another orchestrator owns: not sanhook's to read through, and no second", facts({ controllers: [dc('nvme2', '4420')], ownedByOther: new Set(['nvme2']) }), { via: 'transient', reason: 'owned-by-other', detail: 'nvme2' }],
    ['the event named a controller: that one', facts({ eventDevice: 'nvme7', controllers: [dc('nvme2', '4420')] }), { via: 'device', device: 'nvme7', reason: 'event' }],
    ['a dry run creates nothing', facts({ readOnly: true }), { via: 'transient', reason: 'dry-run' }],
  ] as const)('%s', (_name, given, expected) => {
    expect(chooseDiscoveryController(given)).toEqual(expected);
  });
});

describe("the persistent discovery controller sanhook created: lost, brought back, disconnected", () => {
  const record = { options: { transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', 'ctrl-loss-tmo': '3' }, device: 'nvme2' };
  const lost = (over: Partial<DiscoveryLostFacts> = {}): DiscoveryLostFacts => ({ key: A, device: 'nvme2', record, tombstoned: false, live: [], trigger: 'uevent', ...over });
  const outcome = (plan: ReturnType<typeof decideDiscoveryLost>) => plan.actions.map((a) => (a.kind === 'note' ? `${a.outcome}:${String(a.fields?.reason)}` : a.kind));
  it.each([
    ['its own controller is gone: arm timerd', lost(), ['arm']],
    ['no record: transient or not sanhook’s', lost({ record: undefined }), ['ignored:discovery-controller']],
    ['another controller at the address (a transient `nvme discover`)', lost({ device: 'nvme5' }), ['ignored:other-controller']],
    ['disconnected on purpose', lost({ tombstoned: true }), ['ignored:disconnected-by-admin']],
    ['another live one still serves the address', lost({ live: ['nvme4'] }), ['ignored:still-served']],
  ] as const)('%s', (_name, facts, expected) => {
    expect(outcome(decideDiscoveryLost(facts, DEFAULT_LOST_POLICY))).toEqual(expected);
  });
  it('arms reconnect-discovery / give-up-discovery with the recorded options and the nvmf.lost policy', () => {
    const [arm] = decideDiscoveryLost(lost(), { ...DEFAULT_LOST_POLICY, reconnectDelay: 2, ctrlLossTmo: 60 }).actions;
    expect(arm).toMatchObject({ kind: 'arm', request: { op: 'arm', hook: 'reconnect-discovery', lossHook: 'give-up-discovery', params: record.options, delayMs: 2000, lossMs: 60_000 } });
  });
  it.each([
    ['gone, timerd: a round', { tombstoned: false, live: [], fromTimerd: true }, 'round'],
    ['live again: nothing (timerd disarms on exit 0)', { tombstoned: false, live: ['nvme2'], fromTimerd: true }, ['note:already-live']],
    ['live again, by hand: also disarms', { tombstoned: false, live: ['nvme2'], fromTimerd: false }, ['note:already-live', 'disarm']],
    ['disconnected on purpose', { tombstoned: true, live: [], fromTimerd: true }, ['note:disconnected-by-admin']],
  ] as const)('reconnect-discovery: %s', (_name, facts, expected) => {
    const plan = decideReconnectDiscovery({ key: A, trigger: 'timer', ...facts });
    expect(plan === 'round' ? plan : plan.actions.map((a) => (a.kind === 'note' ? `note:${a.outcome}` : a.kind))).toEqual(expected);
  });

  const flat = (plan: ReturnType<typeof decideDisconnectDiscovery>): string[] =>
    plan.actions.flatMap((a) => [a, ...('then' in a && a.then ? a.then : [])]).map((a) => (a.kind === 'run' ? `run:${a.argv.join(' ')}` : a.kind === 'note' ? `note:${a.outcome}` : `${a.kind}${'store' in a ? `:${a.store}` : ''}`));
  it.each([
    ["sanhook's: tombstone, forget, disarm, disconnect it", { record, present: [dc('nvme2', '4420')], keep: false }, ['record:disconnected', 'forget:discovery', 'disarm', 'run:nvme disconnect --device nvme2']],
    ["only sanhook's: the admin's own at the same address stays", { record, present: [dc('nvme2', '4420'), dc('nvme4', '4420')], keep: false }, ['record:disconnected', 'forget:discovery', 'disarm', 'run:nvme disconnect --device nvme2', 'note:not-sanhooks']],
    ['none of sanhook’s: nothing disconnected, still no automatic round creates one', { present: [dc('nvme4', '4420')], keep: false }, ['record:disconnected', 'forget:discovery', 'disarm', 'note:disconnected', 'note:not-sanhooks']],
    ['--keep: stays connected, sanhook only stops managing it', { record, present: [dc('nvme2', '4420')], keep: true }, ['forget:discovery', 'disarm', 'note:kept']],
  ] as const)('disconnect --discovery: %s', (_name, facts, expected) => {
    expect(flat(decideDisconnectDiscovery({ key: A, owners: new Map(), ...facts, present: [...facts.present] }))).toEqual(expected);
  });
  it("disconnect --discovery: another orchestrator's controller is named as theirs", () => {
    expect(flat(decideDisconnectDiscovery({ key: A, keep: false, present: [dc('nvme4', '4420')], owners: new Map([['nvme4', 'nvme-stas']]) }))).toContain('note:owned-by-other');
  });
});
