/**
 * FCoE's decision tables (hooks/fcoe/decide.ts), without processes: every
 * create / destroy / retry condition with each clause toggled on its own, and
 * the plan each outcome gives per trigger.
 */
import { describe, expect, it } from 'vitest';
import type { Action, Plan } from '../../src/core/plan.js';
import { dcbVerdict, decideCheck, decideDestroy, needsDcb, roundTrigger, type CheckObservation, type CheckTrigger, type RetryPolicy } from '../../src/hooks/fcoe/decide.js';
import { DCB_STEPS, type CtlrState, type DcbObservation, type DcbResult, type FcoeInterfaceConfig, type NetdevState } from '../../src/hooks/fcoe/types.js';

const READY: DcbObservation = {
  ok: true,
  source: 'dcb',
  dcbEnabled: true,
  pfcConfig: { enabled: true, priorities: [3] },
  appConfig: { enabled: true, priority: 3 },
  pfcOper: { operational: true, priorities: [3] },
  appOper: { operational: true, priority: 3 },
};
const RETRY: RetryPolicy = { delayMs: 200, growth: 'linear', attempts: 10 };
const cfg = (over: Partial<FcoeInterfaceConfig> = {}): FcoeInterfaceConfig => ({
  ifname: 'eth0.100',
  file: '/etc/fcoe/cfg-eth0.100',
  enabled: true,
  dcbRequired: true,
  autoVlan: false,
  mode: 'fabric',
  fipResponder: false,
  ...over,
});
const link = (ifname: string, up = true, present = true): NetdevState => ({ ifname, present, up });
const observation = (over: Partial<CheckObservation> = {}): CheckObservation => ({
  ifname: 'eth0.100',
  cfg: cfg(),
  links: { fcoe: link('eth0.100'), real: link('eth0') },
  control: 'bus',
  dcb: READY,
  ...over,
});
const ctlr = (over: Partial<CtlrState> = {}): CtlrState => ({ name: 'ctlr_2', ifname: 'eth0.100', enabled: true, mode: 'fabric', ...over });

/** The plan as [kind, verb/outcome, file or request] rows, `then` chains flattened in order. */
function rows(plan: Plan): unknown[][] {
  const out: unknown[][] = [];
  const walk = (action: Action, depth: number) => {
    const pad = '>'.repeat(depth);
    switch (action.kind) {
      case 'write':
        out.push([`${pad}write`, action.verb, action.file, action.value]);
        break;
      case 'note':
        out.push([`${pad}note`, action.outcome, action.fails === true]);
        break;
      case 'arm':
        out.push([`${pad}arm`, action.request.keep === true ? 'keep' : 'replace']);
        break;
      default:
        out.push([`${pad}${action.kind}`]);
    }
    for (const next of 'then' in action ? (action.then ?? []) : []) walk(next, depth + 1);
  };
  for (const action of plan.actions) walk(action, 0);
  return out;
}

describe('dcbVerdict: each clause toggled alone from a ready answer', () => {
  it.each<[string, Partial<DcbObservation>, string, string?]>([
    ['all enabled, operational, matching', {}, 'ready'],
    ['DCB disabled', { dcbEnabled: false }, 'destroy', 'dcb-disabled'],
    ['App:FCoE disabled', { appConfig: { enabled: false } }, 'destroy', 'app-disabled'],
    ['PFC disabled', { pfcConfig: { enabled: false, priorities: [] } }, 'retry', 'pfc-disabled'],
    ['PFC not operational', { pfcOper: { operational: false, priorities: [3] } }, 'retry', 'pfc-not-operational'],
    ['App:FCoE not operational', { appOper: { operational: false, priority: 3 } }, 'retry', 'app-not-operational'],
    ['operational, app priority not PFC-enabled', { appOper: { operational: true, priority: 4 } }, 'destroy', 'mismatch'],
    ['operational, PFC on no priority', { pfcOper: { operational: true, priorities: [] } }, 'destroy', 'mismatch'],
    ['operational, no app priority at all', { appOper: { operational: true } }, 'destroy', 'mismatch'],
    ['the app priority among several PFC priorities', { pfcOper: { operational: true, priorities: [1, 3, 5] } }, 'ready'],
    ['the config differs but the operational values match (oper decides)', { pfcConfig: { enabled: true, priorities: [4] }, appConfig: { enabled: true, priority: 4 } }, 'ready'],
  ])('%s → %s %s', (_name, over, kind, reason) => {
    const verdict = dcbVerdict({ ...READY, ...over });
    expect(verdict.kind).toBe(kind);
    if (reason) expect(verdict).toMatchObject({ reason });
  });

  it('precedence follows the sequence: DCB disabled before App disabled before PFC disabled', () => {
    expect(dcbVerdict({ ...READY, dcbEnabled: false, appConfig: { enabled: false }, pfcConfig: { enabled: false, priorities: [] } })).toMatchObject({ reason: 'dcb-disabled' });
    expect(dcbVerdict({ ...READY, appConfig: { enabled: false }, pfcConfig: { enabled: false, priorities: [] } })).toMatchObject({ reason: 'app-disabled' });
    // the sequence stopped early: later answers are absent
    expect(dcbVerdict({ ok: true, source: 'dcb', dcbEnabled: false })).toMatchObject({ kind: 'destroy', reason: 'dcb-disabled' });
    expect(dcbVerdict({ ok: true, source: 'lldpad-cee', dcbEnabled: true, pfcConfig: { enabled: true, priorities: [3] }, appConfig: { enabled: false } })).toMatchObject({ kind: 'destroy', reason: 'app-disabled' });
  });

  it.each(DCB_STEPS.map((step) => [step]))('a query error at %s is a retry that names the step and the tool', (step) => {
    const failure: DcbResult = { ok: false, source: 'dcb', step, argv: ['dcb', '-j', 'pfc', 'show', 'dev', 'eth0'], message: 'Attribute read: Operation not supported' };
    expect(dcbVerdict(failure)).toEqual({ kind: 'retry', reason: 'query-error', text: `${step} query failed (dcb -j pfc show dev eth0): Attribute read: Operation not supported` });
  });
});

describe('needsDcb: the sequence runs only for a managed, DCB-requiring interface with both links up', () => {
  it.each<[string, Partial<CheckObservation>, boolean]>([
    ['all up, DCB required', {}, true],
    ['DCB not required', { cfg: cfg({ dcbRequired: false }) }, false],
    ['FCOE_ENABLE no', { cfg: cfg({ enabled: false }) }, false],
    ['no cfg file', { cfg: undefined }, false],
    ['FCoE link down', { links: { fcoe: link('eth0.100', false), real: link('eth0') } }, false],
    ['real link down', { links: { fcoe: link('eth0.100'), real: link('eth0', false) } }, false],
    ['netdev gone', { links: { fcoe: link('eth0.100', false, false), real: link('eth0') } }, false],
  ])('%s → %s', (_name, over, expected) => {
    expect(needsDcb(observation(over))).toBe(expected);
  });
});

describe('decideCheck: the plan for each outcome', () => {
  const CREATE = [
    ['disarm'],
    ['write', 'create', 'bus/fcoe/ctlr_create', 'eth0.100'],
    ['>write', 'set-mode', 'class/net/eth0.100/ctlr_*/mode', 'fabric'],
    ['>>write', 'enable', 'class/net/eth0.100/ctlr_*/enabled', '1'],
  ];

  it('DCB ready, no ctlr: create on the bus, then mode, then enable (each after the one before), and end any schedule', () => {
    expect(rows(decideCheck(observation(), 'link', RETRY))).toEqual(CREATE);
  });

  it('DCB not required: created whatever DCB would say (not even asked)', () => {
    expect(rows(decideCheck(observation({ cfg: cfg({ dcbRequired: false }), dcb: undefined }), 'uevent', RETRY))).toEqual(CREATE);
  });

  it('vn2vn with the FIP VLAN responder: mode vn2vn, then fip_vlan_responder 1, then enable', () => {
    expect(rows(decideCheck(observation({ cfg: cfg({ mode: 'vn2vn', fipResponder: true }) }), 'link', RETRY))).toEqual([
      ['disarm'],
      ['write', 'create', 'bus/fcoe/ctlr_create', 'eth0.100'],
      ['>write', 'set-mode', 'class/net/eth0.100/ctlr_*/mode', 'vn2vn'],
      ['>>write', 'set-fip-responder', 'class/net/eth0.100/ctlr_*/fip_vlan_responder', '1'],
      ['>>>write', 'enable', 'class/net/eth0.100/ctlr_*/enabled', '1'],
    ]);
  });

  it('idempotent: never a second ctlr on one netdev', () => {
    expect(rows(decideCheck(observation({ ctlr: ctlr() }), 'link', RETRY))).toEqual([['disarm'], ['note', 'already-created', false]]);
    // a disabled one left behind is finished, not re-created
    expect(rows(decideCheck(observation({ ctlr: ctlr({ enabled: false }) }), 'link', RETRY))).toEqual([['disarm'], ['write', 'enable', 'bus/fcoe/devices/ctlr_2/enabled', '1']]);
    expect(rows(decideCheck(observation({ ctlr: ctlr({ enabled: false }), cfg: cfg({ mode: 'vn2vn' }) }), 'link', RETRY))).toEqual([
      ['disarm'],
      ['write', 'set-mode', 'bus/fcoe/devices/ctlr_2/mode', 'vn2vn'],
      ['>write', 'enable', 'bus/fcoe/devices/ctlr_2/enabled', '1'],
    ]);
    // enabled in another mode: said, not changed under a running ctlr
    expect(rows(decideCheck(observation({ ctlr: ctlr(), cfg: cfg({ mode: 'vn2vn' }) }), 'link', RETRY))).toEqual([['disarm'], ['note', 'mode-differs', false]]);
  });

  it('legacy kernels: one write to libfcoe create or create_vn2vn, and nothing when an instance exists', () => {
    expect(rows(decideCheck(observation({ control: 'legacy' }), 'link', RETRY))).toEqual([['disarm'], ['write', 'create', 'module/libfcoe/parameters/create', 'eth0.100']]);
    expect(rows(decideCheck(observation({ control: 'legacy', cfg: cfg({ mode: 'vn2vn' }) }), 'link', RETRY))).toEqual([['disarm'], ['write', 'create', 'module/libfcoe/parameters/create_vn2vn', 'eth0.100']]);
    expect(rows(decideCheck(observation({ control: 'legacy', ctlr: ctlr({ name: 'host3', mode: 'unknown' }) }), 'link', RETRY))).toEqual([['disarm'], ['note', 'already-created', false]]);
  });

  it('no fcoe module: the create fails the hook with what to load', () => {
    const plan = decideCheck(observation({ control: 'none' }), 'link', RETRY);
    expect(rows(plan)).toEqual([['disarm'], ['note', 'no-fcoe-module', true]]);
    expect((plan.actions[1] as { text: string }).text).toMatch(/modprobe fcoe/);
  });

  it.each<[string, Partial<DcbObservation>]>([
    ['DCB disabled', { dcbEnabled: false }],
    ['App:FCoE disabled', { appConfig: { enabled: false } }],
    ['a PFC / App:FCoE mismatch', { appOper: { operational: true, priority: 5 } }],
  ])('destroy (%s): disable, then ctlr_destroy; ends the schedule', (_name, over) => {
    expect(rows(decideCheck(observation({ ctlr: ctlr(), dcb: { ...READY, ...over } }), 'link', RETRY))).toEqual([
      ['disarm'],
      ['write', 'disable', 'bus/fcoe/devices/ctlr_2/enabled', '0'],
      ['>write', 'destroy', 'bus/fcoe/ctlr_destroy', 'eth0.100'],
    ]);
    expect(rows(decideCheck(observation({ ctlr: ctlr({ enabled: false }), dcb: { ...READY, ...over } }), 'link', RETRY))).toEqual([['disarm'], ['write', 'destroy', 'bus/fcoe/ctlr_destroy', 'eth0.100']]);
    expect(rows(decideCheck(observation({ ctlr: ctlr({ name: 'host1' }), control: 'legacy', dcb: { ...READY, ...over } }), 'link', RETRY))).toEqual([['disarm'], ['write', 'destroy', 'module/libfcoe/parameters/destroy', 'eth0.100']]);
    expect(rows(decideCheck(observation({ dcb: { ...READY, ...over } }), 'link', RETRY))).toEqual([['disarm'], ['note', 'not-created', false]]);
  });

  const broken: DcbObservation = { ...READY, pfcOper: { operational: false, priorities: [] } };
  it.each<[CheckTrigger, unknown[][]]>([
    ['uevent', [['arm', 'replace']]],
    ['link', [['arm', 'replace']]],
    ['recheck', [['arm', 'keep']]],
    ['timer', [['note', 'not-yet', true]]],
  ])('retry, trigger %s: an event starts the schedule over, the recheck keeps a running one, an attempt fails (timerd goes on)', (trigger, expected) => {
    expect(rows(decideCheck(observation({ ctlr: ctlr(), dcb: broken }), trigger, RETRY))).toEqual(expected);
  });

  it("the retry schedule is fcoemon's: dcb-check 0.2 s × n, fcoe-destroy after 10 attempts, never by time", () => {
    const plan = decideCheck(observation({ dcb: broken }), 'link', RETRY);
    expect(plan.actions[0]).toMatchObject({
      kind: 'arm',
      request: { op: 'arm', hook: 'dcb-check', lossHook: 'fcoe-destroy', params: { ifname: 'eth0.100' }, delayMs: 200, growth: 'linear', lossMs: 0, lossAttempts: 10 },
    });
    expect(plan).toMatchObject({ hook: 'dcb-check', key: 'fcoe:eth0.100', trigger: 'link' });
  });

  it.each<[string, Partial<CheckObservation>, string]>([
    ['FCoE link down', { links: { fcoe: link('eth0.100', false), real: link('eth0') } }, 'link-down'],
    ['real link down (the VLAN is up)', { links: { fcoe: link('eth0.100'), real: link('eth0', false) } }, 'link-down'],
    ['netdev gone', { links: { fcoe: link('eth0.100', false, false), real: link('eth0', false, false) } }, 'netdev-gone'],
    ['no cfg file', { cfg: undefined }, 'not-configured'],
    ['FCOE_ENABLE no', { cfg: cfg({ enabled: false }) }, 'not-enabled'],
  ])('%s: the schedule is cancelled and nothing is created or destroyed', (_name, over, outcome) => {
    expect(rows(decideCheck(observation({ ctlr: ctlr(), dcb: undefined, ...over }), 'link', RETRY))).toEqual([['disarm'], ['note', outcome, false]]);
    // an attempt run by timerd ends with exit 0: timerd drops the schedule itself
    expect(rows(decideCheck(observation({ ctlr: ctlr(), dcb: undefined, ...over }), 'timer', RETRY))).toEqual([['note', outcome, false]]);
  });

  it('an attempt that finds DCB ready creates and exits 0 (timerd ends the schedule); no disarm of its own', () => {
    expect(rows(decideCheck(observation(), 'timer', RETRY))).toEqual(CREATE.slice(1));
  });

  it('asking to decide a DCB-required interface without its DCB answers is a bug', () => {
    expect(() => decideCheck(observation({ dcb: undefined }), 'link', RETRY)).toThrow(/needs the DCB answers/);
  });
});

describe('roundTrigger: a queued round takes the meaning of the process that runs it', () => {
  it.each<[CheckTrigger, boolean, CheckTrigger]>([
    // a holder timerd did not start runs a queued attempt: the attempt's own process already
    // exited 1 (its schedule goes on), so a retry verdict keeps it instead of failing this process
    ['timer', false, 'recheck'],
    ['timer', true, 'timer'],
    // an attempt process runs a queued recheck: exit 0 would end the schedule, so a retry fails it
    ['recheck', true, 'timer'],
    ['recheck', false, 'recheck'],
    // events start the schedule over whoever runs them
    ['link', true, 'link'],
    ['link', false, 'link'],
    ['uevent', true, 'uevent'],
  ])('%s in a process started by timerd: %s → %s', (trigger, byTimerd, expected) => {
    expect(roundTrigger(trigger, byTimerd)).toBe(expected);
  });
});

describe('decideDestroy', () => {
  it('the loss hook destroys (no disarm: timerd ends the schedule after it)', () => {
    expect(rows(decideDestroy({ ifname: 'eth0.100', present: true, control: 'bus', ctlr: ctlr() }, 'loss'))).toEqual([
      ['write', 'disable', 'bus/fcoe/devices/ctlr_2/enabled', '0'],
      ['>write', 'destroy', 'bus/fcoe/ctlr_destroy', 'eth0.100'],
    ]);
    expect(rows(decideDestroy({ ifname: 'eth0.100', present: true, control: 'bus' }, 'loss'))).toEqual([['note', 'not-created', false]]);
  });

  it('netdev removed: the schedule is cancelled at once; a ctlr the kernel has not removed yet is destroyed', () => {
    expect(rows(decideDestroy({ ifname: 'eth0.100', present: false, control: 'bus' }, 'uevent'))).toEqual([['disarm'], ['note', 'netdev-gone', false]]);
    expect(rows(decideDestroy({ ifname: 'eth0.100', present: false, control: 'bus', ctlr: ctlr() }, 'uevent'))).toEqual([
      ['disarm'],
      ['write', 'disable', 'bus/fcoe/devices/ctlr_2/enabled', '0'],
      ['>write', 'destroy', 'bus/fcoe/ctlr_destroy', 'eth0.100'],
    ]);
  });

  it('by hand: disarm and destroy', () => {
    expect(rows(decideDestroy({ ifname: 'eth0.100', present: true, control: 'legacy', ctlr: ctlr({ name: 'host0' }) }, 'manual'))).toEqual([['disarm'], ['write', 'destroy', 'module/libfcoe/parameters/destroy', 'eth0.100']]);
  });
});
