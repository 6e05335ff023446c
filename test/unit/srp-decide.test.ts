/**
 * SRP's decision tables (hooks/srp/decide.ts), without processes: ports
 * built by hand in the shape sysfs.ts reads them, and the plan each verb
 * makes of them — actions, files, values, order, `then` chains, `fails` and
 * outcome words.
 */
import { describe, expect, it } from 'vitest';
import type { Action, Plan, WriteAction } from '../../src/core/plan.js';
import type { ReAddPolicy, TargetPolicy } from '../../src/hooks/srp/config.js';
import {
  decideAdd,
  decideDisconnect,
  decideErase,
  decideLost,
  decideReconnect,
  decideSetup,
  reAddArmRequest,
  timerParams,
  type LostFacts,
  type ReconnectObservation,
  type SetupObservation,
} from '../../src/hooks/srp/decide.js';
import { addTargetLine, parseTargetLine, srpHostName, type SrpTarget } from '../../src/hooks/srp/identity.js';
import { targetKey } from '../../src/hooks/srp/keys.js';
import { policyProblem, type TimerPolicy, type Tmo } from '../../src/hooks/srp/policy.js';
import type { PortState, PortView, ScsiDevice } from '../../src/hooks/srp/sysfs.js';

const HOST = { ibdev: 'mlx5_0', port: 1 };
const TARGET: SrpTarget = parseTargetLine(HOST, 'id_ext=0002c90300a0b1c2,ioc_guid=0002c90300a0b1c9,dest=10.91.0.1:5555,src=10.91.0.2', '--target');
const IB_TARGET: SrpTarget = parseTargetLine(HOST, 'id_ext=1,ioc_guid=2,dgid=fe800000000000000002c90300a0b1c3,pkey=ffff,service_id=3', '--target');
const KEY = targetKey(TARGET);
const LINE = addTargetLine(TARGET);
const PORT = 'port-7:1';
const PORT_DIR = `class/srp_remote_ports/${PORT}`;
const ADD_TARGET = 'class/infiniband_srp/srp-mlx5_0-1/add_target';
const state = (device: string) => `class/scsi_device/${device}/device/state`;

const T = (reconnectDelay: Tmo, fastIoFail: Tmo, devLoss: Tmo): TimerPolicy => ({ reconnectDelay, fastIoFail, devLoss });
const KERNEL_DEFAULTS = T(10, 15, 600);
const SANHOOK_DEFAULTS = T(5, 5, 600);
const policy = (timers: TimerPolicy = SANHOOK_DEFAULTS, more: Partial<TargetPolicy> = {}): TargetPolicy => ({ timers, reAdd: true, ...more });
const RE_ADD: ReAddPolicy = { delayMs: 10_000, growth: 'fixed', giveUpMs: 86_400_000 };

const dev = (name: string, devState = 'running'): ScsiDevice => ({ name, state: devState });
/** A port as readPort returns it: ib_srp's host7, two LUNs. */
const port = (over: Partial<PortView> & { state?: PortState } = {}): PortView => ({
  name: PORT,
  state: 'running',
  timers: SANHOOK_DEFAULTS,
  failedReconnects: 0,
  scsiHost: { hostNo: 7, host: HOST, idExt: TARGET.idExt, iocGuid: TARGET.iocGuid },
  devices: [dev('7:0:0:1'), dev('7:0:0:2')],
  ...over,
});

/** The plan as rows, `then` chains flattened in order with one `>` per level. */
function rows(plan: Plan): unknown[][] {
  const out: unknown[][] = [];
  const walk = (action: Action, depth: number) => {
    const pad = '>'.repeat(depth);
    switch (action.kind) {
      case 'write':
        out.push([`${pad}write`, action.verb, action.file, action.value, action.done]);
        break;
      case 'note':
        out.push([`${pad}note`, action.outcome, action.level, action.fails === true]);
        break;
      case 'record':
      case 'forget':
        out.push([`${pad}${action.kind}`, action.store]);
        break;
      case 'arm':
        out.push([`${pad}arm`, action.request.hook]);
        break;
      default:
        out.push([`${pad}${action.kind}`]);
    }
    for (const next of 'then' in action ? (action.then ?? []) : []) walk(next, depth + 1);
  };
  for (const action of plan.actions) walk(action, 0);
  return out;
}

/** Every write of a plan, `then` chains included, in order. */
function writes(plan: Plan): WriteAction[] {
  const out: WriteAction[] = [];
  const walk = (action: Action) => {
    if (action.kind === 'write') out.push(action);
    for (const next of 'then' in action ? (action.then ?? []) : []) walk(next);
  };
  plan.actions.forEach(walk);
  return out;
}

const note = (outcome: string, level = 'info', fails = false) => ['note', outcome, level, fails];
const timer = (attr: string, value: string) => ['write', 'set', `${PORT_DIR}/${attr}`, value, 'set'];
const kick = (value: string) => ['write', 'kick', `${PORT_DIR}/reconnect_delay`, value, 'written'];

// ----------------------------------------------------------------- setup ----

describe('decideSetup: the policy on a new port', () => {
  const setup = (over: Partial<SetupObservation> = {}): Plan =>
    decideSetup({ key: KEY, port: port({ timers: KERNEL_DEFAULTS }), policy: policy(), erased: false, enforceErased: false, trigger: 'uevent', ...over });

  it.each<[string, Partial<SetupObservation>, unknown[][]]>([
    ["kernel defaults → sanhook's: only the two that change, reconnect first", {}, [timer('reconnect_delay', '5'), timer('fast_io_fail_tmo', '5'), ['disarm']]],
    ['already as wanted: unchanged, still a disarm', { port: port({ timers: SANHOOK_DEFAULTS }) }, [note('unchanged'), ['disarm']]],
    ['lowering both: fast_io_fail_tmo before dev_loss_tmo', { port: port({ timers: T(5, 5, 600) }), policy: policy(T(5, 2, 3)) }, [timer('fast_io_fail_tmo', '2'), timer('dev_loss_tmo', '3'), ['disarm']]],
    ['raising both: dev_loss_tmo before fast_io_fail_tmo', { port: port({ timers: T(5, 5, 10) }), policy: policy(T(5, 20, 30)) }, [timer('dev_loss_tmo', '30'), timer('fast_io_fail_tmo', '20'), ['disarm']]],
    ['off is written as off', { policy: policy(T(10, 15, 'off')) }, [timer('dev_loss_tmo', 'off'), ['disarm']]],
    ['a blocked port gets the policy too', { port: port({ state: 'blocked', timers: KERNEL_DEFAULTS }) }, [timer('reconnect_delay', '5'), timer('fast_io_fail_tmo', '5'), ['disarm']]],
    ['a policy the kernel refuses (config load stops it first): refused (fails), still a disarm', { port: port({ timers: T(5, 'off', 20) }), policy: policy(T(5, 30, 20)) }, [note('refused', 'error', true), ['disarm']]],
    ['a port in state lost: ignored, nothing else', { port: port({ state: 'lost', timers: KERNEL_DEFAULTS }) }, [note('ignored')]],
    ['lost wins over an erased tombstone under enforce', { port: port({ state: 'lost' }), erased: true, enforceErased: true }, [note('ignored')]],
    [
      'erased, until-added: the policy, the tombstone forgotten, a note, a disarm',
      { erased: true },
      [timer('reconnect_delay', '5'), timer('fast_io_fail_tmo', '5'), ['forget', 'erased'], note('added-again'), ['disarm']],
    ],
    ['erased, until-added, already as wanted', { port: port(), erased: true }, [note('unchanged'), ['forget', 'erased'], note('added-again'), ['disarm']]],
    ['erased, enforce: deleted again, no policy, the tombstone kept', { erased: true, enforceErased: true }, [note('erased-again', 'warn'), ['write', 'delete', `${PORT_DIR}/delete`, '1', 'deleted']]],
    ['enforce without a tombstone: the policy as usual', { enforceErased: true }, [timer('reconnect_delay', '5'), timer('fast_io_fail_tmo', '5'), ['disarm']]],
  ])('%s', (_name, over, expected) => {
    const plan = setup(over);
    expect(plan).toMatchObject({ hook: 'srp-setup', key: KEY, trigger: 'uevent' });
    expect(rows(plan)).toEqual(expected);
  });

  it('each timer write names the key, the port, the attribute and the value', () => {
    const [first] = writes(setup());
    expect(first).toMatchObject({ key: KEY, subject: `${KEY} ${PORT} reconnect_delay=5`, fields: { port: PORT, attr: 'reconnect_delay', value: '5' } });
  });

  it('every intermediate state of the written order passes the kernel rules', () => {
    const cases: [TimerPolicy, TimerPolicy][] = [
      [KERNEL_DEFAULTS, SANHOOK_DEFAULTS],
      [T(5, 5, 600), T(5, 2, 3)],
      [T(5, 5, 10), T(5, 20, 30)],
      [T(5, 'off', 'off'), T('off', 5, 10)],
      [T(5, 5, 900), T(5, 'off', 300)],
    ];
    for (const [current, wanted] of cases) {
      let s: TimerPolicy = current;
      const field = { reconnect_delay: 'reconnectDelay', fast_io_fail_tmo: 'fastIoFail', dev_loss_tmo: 'devLoss' } as const;
      for (const w of writes(setup({ port: port({ timers: current }), policy: policy(wanted) }))) {
        const attr = w.file.split('/').at(-1) as keyof typeof field;
        s = { ...s, [field[attr]]: w.value === 'off' ? 'off' : Number(w.value) };
        expect(policyProblem(s), `${JSON.stringify(current)} → ${JSON.stringify(wanted)} at ${attr}`).toBeUndefined();
      }
      expect(s).toEqual(wanted);
    }
  });

  it('the refusal names the rule that decided', () => {
    const plan = setup({ port: port({ timers: T(5, 'off', 20) }), policy: policy(T(5, 30, 20), { rule: 3 }) });
    expect(plan.actions[0]).toMatchObject({ kind: 'note', text: expect.stringMatching(/^not applying rule srp\.targets\[3\]: fast-io-fail must be less than dev-loss/) });
  });
});

// ------------------------------------------------------------------ lost ----

describe('decideLost: arm a re-add, or say why not', () => {
  const lost = (over: Partial<LostFacts> = {}): Plan => decideLost({ key: KEY, target: TARGET, policy: policy(), reAdd: RE_ADD, erased: false, trigger: 'uevent', ...over });

  it.each<[string, Partial<LostFacts>, unknown[][]]>([
    ['erased: no arm', { erased: true }, [note('erased')]],
    ['a port for it is there again: no arm', { present: 'port-8:1' }, [note('present')]],
    ['re-add: no', { policy: policy(SANHOOK_DEFAULTS, { reAdd: false, rule: 0 }) }, [note('not-re-added')]],
    ['no complete target (an RDMA/CM login not added with srp-add): warn', { target: undefined, why: 'no dest' }, [note('cannot-re-add', 'warn')]],
    ['erased wins over present, re-add no and no target', { erased: true, present: 'port-8:1', policy: policy(SANHOOK_DEFAULTS, { reAdd: false }), target: undefined }, [note('erased')]],
    ['present wins over re-add no', { present: 'port-8:1', policy: policy(SANHOOK_DEFAULTS, { reAdd: false }) }, [note('present')]],
    ['re-add no wins over no target', { policy: policy(SANHOOK_DEFAULTS, { reAdd: false }), target: undefined }, [note('not-re-added')]],
    ['otherwise: an arm', {}, [['arm', 'srp-reconnect']]],
  ])('%s', (_name, over, expected) => {
    const plan = lost(over);
    expect(plan).toMatchObject({ hook: 'lost', key: KEY, trigger: 'uevent' });
    expect(rows(plan)).toEqual(expected);
  });

  it('cannot-re-add says why (or that the identity is incomplete)', () => {
    const { target: _t, ...facts } = { key: KEY, target: TARGET, policy: policy(), reAdd: RE_ADD, erased: false, trigger: 'uevent' };
    expect(decideLost({ ...facts, why: 'the kernel shows no dest' }).actions[0]).toMatchObject({ text: 'not armed: the kernel shows no dest' });
    expect(decideLost(facts).actions[0]).toMatchObject({ text: 'not armed: its identity is incomplete' });
  });

  it('the arm request: srp-reconnect on the re-add schedule, srp-erase at give-up', () => {
    const [action] = lost().actions;
    expect(action).toMatchObject({ kind: 'arm', fields: { srp_host: 'srp-mlx5_0-1' } });
    expect(action?.kind === 'arm' ? action.request : undefined).toStrictEqual({
      op: 'arm',
      hook: 'srp-reconnect',
      lossHook: 'srp-erase',
      params: { 'srp-host': 'srp-mlx5_0-1', target: LINE },
      delayMs: 10_000,
      growth: 'fixed',
      lossMs: 86_400_000,
    });
  });

  it.each<[string, ReAddPolicy, number]>([
    ['give-up off: lossMs -1 (never)', { delayMs: 2500, growth: 'linear', giveUpMs: 0 }, -1],
    ['give-up 1 s', { delayMs: 100, growth: 'fixed', giveUpMs: 1000 }, 1000],
  ])('%s', (_name, reAdd, lossMs) => {
    expect(reAddArmRequest(TARGET, reAdd)).toMatchObject({ delayMs: reAdd.delayMs, growth: reAdd.growth, lossMs });
  });

  it("the timer's params give back the same target (srp-reconnect --srp-host H --target LINE)", () => {
    for (const target of [TARGET, IB_TARGET]) {
      const params = timerParams(target);
      expect(parseTargetLine(srpHostName(params['srp-host']!, '--srp-host'), params.target!, '--target')).toEqual(target);
    }
  });
});

// ------------------------------------------------------------- reconnect ----

describe('decideReconnect', () => {
  const reconnect = (over: Partial<ReconnectObservation> = {}): Plan =>
    decideReconnect({ key: KEY, target: TARGET, port: port(), policy: policy(), erased: false, disconnected: false, srpHostPresent: true, byTimer: false, trigger: 'manual', ...over });
  /** Without the port: deleted by the kernel. */
  const withoutPort = (over: Partial<ReconnectObservation> = {}): Plan => {
    const { port: _p, ...rest } = { key: KEY, target: TARGET, port: port(), policy: policy(), erased: false, disconnected: false, srpHostPresent: true, byTimer: true, trigger: 'timer', ...over };
    return decideReconnect(rest);
  };

  it.each<[string, Partial<ReconnectObservation>, unknown[][]]>([
    ['erased: a note and a disarm', { erased: true }, [note('erased'), ['disarm']]],
    ['erased wins over a blocked port', { erased: true, port: port({ state: 'blocked' }) }, [note('erased'), ['disarm']]],
    ['running: already connected, disarm', {}, [note('running'), ['disarm']]],
    ['running, by timer: still done', { byTimer: true }, [note('running'), ['disarm']]],
    ['blocked: reconnect_delay off, 1, then its value; kicked', { port: port({ state: 'blocked' }) }, [kick('off'), kick('1'), kick('5'), note('kicked')]],
    ['fail-fast: the same kick', { port: port({ state: 'fail-fast', timers: T(10, 15, 600) }) }, [kick('off'), kick('1'), kick('10'), note('kicked')]],
    ['blocked, reconnect_delay off: just 1 (off again would cancel the work it queues)', { port: port({ state: 'blocked', timers: T('off', 5, 600) }) }, [kick('1'), note('kicked')]],
    ['blocked, reconnect_delay 1: off, 1', { port: port({ state: 'blocked', timers: T(1, 5, 600) }) }, [kick('off'), kick('1'), note('kicked')]],
    ['blocked, by timer: the kick, and the note fails (not confirmed yet)', { port: port({ state: 'blocked' }), byTimer: true }, [kick('off'), kick('1'), kick('5'), note('kicked', 'info', true)]],
    ['blocked with fast-io-fail and dev-loss off: reconnect_delay may not go off, refused', { port: port({ state: 'blocked', timers: T(5, 'off', 'off') }) }, [note('refused', 'error', true)]],
    ['lost: being deleted, fails so the schedule goes on', { port: port({ state: 'lost' }) }, [note('being-deleted', 'warn', true)]],
    [
      'disconnected: the record forgotten, offline devices back to running, disarm',
      { disconnected: true, port: port({ devices: [dev('7:0:0:1', 'offline'), dev('7:0:0:2', 'running'), dev('7:0:0:3', 'offline')] }) },
      [['forget', 'disconnected'], ['write', 'online', state('7:0:0:1'), 'running\n', 'running'], ['write', 'online', state('7:0:0:3'), 'running\n', 'running'], ['disarm']],
    ],
    ['disconnected, nothing offline any more', { disconnected: true }, [['forget', 'disconnected'], note('reconnected'), ['disarm']]],
    ['erased wins over disconnected', { disconnected: true, erased: true }, [note('erased'), ['disarm']]],
  ])('%s', (_name, over, expected) => {
    const plan = reconnect(over);
    expect(plan).toMatchObject({ hook: 'srp-reconnect', key: KEY });
    expect(rows(plan)).toEqual(expected);
  });

  it.each<[string, Partial<ReconnectObservation>, unknown[][]]>([
    ['no port, no complete target: fails', { target: undefined, why: 'an RDMA/CM login not added with srp-add' }, [note('cannot-re-add', 'error', true)]],
    ['no port, no srp host (HCA port gone, ib_srp not loaded): fails', { srpHostPresent: false }, [note('no-srp-host', 'warn', true)]],
    ['no port: add_target, then a disarm', {}, [['write', 'add', ADD_TARGET, LINE, 'added'], ['>disarm']]],
    ['no port, erased: a note and a disarm, no add', { erased: true }, [note('erased'), ['disarm']]],
  ])('%s', (_name, over, expected) => {
    const plan = withoutPort(over);
    expect(plan).toMatchObject({ hook: 'srp-reconnect', key: KEY, trigger: 'timer' });
    expect(rows(plan)).toEqual(expected);
  });

  it('the add_target write: EEXIST means already connected, and its then disarms', () => {
    const [write] = withoutPort().actions;
    expect(write).toMatchObject({ kind: 'write', file: ADD_TARGET, value: LINE, already: { codes: ['EEXIST'], outcome: 'already-connected' }, then: [{ kind: 'disarm' }], fields: { srp_host: 'srp-mlx5_0-1' } });
    // the line written is the canonical one, and names this very target
    expect(parseTargetLine(HOST, (write as WriteAction).value, 'add_target')).toEqual(TARGET);
  });

  it('by timer, the kicked note fails with a failure naming the port and its state', () => {
    const plan = reconnect({ port: port({ state: 'fail-fast' }), byTimer: true });
    expect(plan.actions.at(-1)).toMatchObject({ kind: 'note', outcome: 'kicked', fails: true, failure: `${PORT} was fail-fast: reconnect queued, not yet confirmed` });
    expect(reconnect({ port: port({ state: 'fail-fast' }) }).actions.at(-1)).not.toHaveProperty('fails');
  });

  it('kick writes carry the key, the port and the value', () => {
    const [first] = writes(reconnect({ port: port({ state: 'blocked' }) }));
    expect(first).toMatchObject({ key: KEY, subject: `${KEY} ${PORT} reconnect_delay=off`, fields: { port: PORT, value: 'off' } });
  });
});

// ----------------------------------------------------------------- erase ----

describe('decideErase: the tombstone first, then the delete', () => {
  it('a port and a target: record erased → (delete, forget disconnected), then disarm', () => {
    const plan = decideErase({ key: KEY, target: TARGET, port: port(), trigger: 'loss' });
    expect(plan).toMatchObject({ hook: 'srp-erase', key: KEY, trigger: 'loss' });
    expect(rows(plan)).toEqual([['record', 'erased'], ['>write', 'delete', `${PORT_DIR}/delete`, '1', 'deleted'], ['>forget', 'disconnected'], ['disarm']]);
    expect(plan.actions[0]).toMatchObject({ kind: 'record', data: { srpHost: 'srp-mlx5_0-1', line: LINE, port: PORT, reason: 'loss' } });
  });

  it('no port: a note instead of the delete; it stays erased', () => {
    const plan = decideErase({ key: KEY, target: TARGET, trigger: 'loss' });
    expect(rows(plan)).toEqual([['record', 'erased'], ['>note', 'erased', 'info', false], ['>forget', 'disconnected'], ['disarm']]);
    expect(plan.actions[0]).toMatchObject({ data: { srpHost: 'srp-mlx5_0-1', line: LINE, reason: 'loss' } });
    expect((plan.actions[0] as { data: object }).data).not.toHaveProperty('port');
  });

  it('no complete target (by hand, --port): the tombstone holds the port and the reason only', () => {
    const plan = decideErase({ key: KEY, port: port(), trigger: 'manual' });
    expect(rows(plan)).toEqual([['record', 'erased'], ['>write', 'delete', `${PORT_DIR}/delete`, '1', 'deleted'], ['>forget', 'disconnected'], ['disarm']]);
    expect((plan.actions[0] as { data: object }).data).toStrictEqual({ port: PORT, reason: 'manual' });
  });
});

// ------------------------------------------------------------ disconnect ----

describe('decideDisconnect: running devices offline, after a record', () => {
  it.each<[string, ScsiDevice[], unknown[][]]>([
    [
      'two running, one offline already',
      [dev('7:0:0:1'), dev('7:0:0:2', 'offline'), dev('7:0:0:3')],
      [['record', 'disconnected'], ['>write', 'offline', state('7:0:0:1'), 'offline\n', 'offline'], ['>write', 'offline', state('7:0:0:3'), 'offline\n', 'offline']],
    ],
    ['blocked devices are not running: left alone', [dev('7:0:0:1', 'blocked'), dev('7:0:0:2')], [['record', 'disconnected'], ['>write', 'offline', state('7:0:0:2'), 'offline\n', 'offline']]],
    ['nothing running', [dev('7:0:0:1', 'offline'), dev('7:0:0:2', 'transport-offline')], [note('nothing-running')]],
    ['no devices at all', [], [note('nothing-running')]],
  ])('%s', (_name, devices, expected) => {
    const plan = decideDisconnect({ key: KEY, port: port({ devices }), trigger: 'manual' });
    expect(plan).toMatchObject({ hook: 'srp-disconnect', key: KEY, trigger: 'manual' });
    expect(rows(plan)).toEqual(expected);
  });

  it('the record names the port; nothing-running lists the devices', () => {
    expect(decideDisconnect({ key: KEY, port: port(), trigger: 'manual' }).actions[0]).toMatchObject({ kind: 'record', store: 'disconnected', data: { port: PORT } });
    expect(decideDisconnect({ key: KEY, port: port({ devices: [dev('7:0:0:1', 'offline')] }), trigger: 'manual' }).actions[0]).toMatchObject({ text: `${PORT} has no running SCSI device (7:0:0:1 offline)` });
    expect(decideDisconnect({ key: KEY, port: port({ devices: [] }), trigger: 'manual' }).actions[0]).toMatchObject({ text: `${PORT} has no running SCSI device (none)` });
  });
});

// ------------------------------------------------------------------- add ----

describe('decideAdd: record the line, then add_target', () => {
  it.each<[string, boolean, boolean, unknown[][]]>([
    ['not erased', false, true, [['record', 'targets'], ['>write', 'add', ADD_TARGET, LINE, 'added']]],
    ['erased: the tombstone forgotten before the write', true, true, [['record', 'targets'], ['>forget', 'erased'], ['>write', 'add', ADD_TARGET, LINE, 'added']]],
    ['no srp host: recorded, the add fails', false, false, [['record', 'targets'], ['>note', 'no-srp-host', 'error', true]]],
  ])('%s', (_name, erased, srpHostPresent, expected) => {
    const plan = decideAdd({ key: KEY, target: TARGET, erased, srpHostPresent });
    expect(plan).toMatchObject({ hook: 'srp-add', key: KEY, trigger: 'manual' });
    expect(rows(plan)).toEqual(expected);
    expect(plan.actions[0]).toMatchObject({ kind: 'record', store: 'targets', data: { srpHost: 'srp-mlx5_0-1', line: LINE } });
  });

  it('the write: EEXIST is already connected', () => {
    const [write] = writes(decideAdd({ key: KEY, target: IB_TARGET, erased: false, srpHostPresent: true }));
    expect(write).toMatchObject({ file: ADD_TARGET, value: addTargetLine(IB_TARGET), already: { codes: ['EEXIST'], outcome: 'already-connected' } });
  });
});
