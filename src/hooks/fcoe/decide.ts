/**
 * fcoemon's create / destroy / retry decision, as pure functions (DESIGN §3):
 * an observation of one FCoE interface in, a plan out.
 *
 * The rules (fcoe-utils fcoemon.c's DCB state machine, restructured; the
 * same for CEE and IEEE DCBX):
 * - create when the links of the FCoE interface and of its real interface
 *   are up, and DCB is not required, or DCB, PFC and App:FCoE are enabled,
 *   PFC and App:FCoE are operational and the FCoE app priority is one of the
 *   PFC-enabled priorities;
 * - destroy when, links up and DCB required, DCB is disabled, or App:FCoE is
 *   disabled, or PFC and App:FCoE are operational but do not match; and
 *   (fcoe-destroy) when the netdev is removed or the last retry failed;
 * - retry on any query error or when neither holds: timerd runs the whole
 *   sequence again on a 0.2 s × n schedule and, after the last attempt,
 *   runs fcoe-destroy (its loss hook). A link down cancels the schedule.
 *
 * Contract: `dcbVerdict()` and `decideCheck()` / `decideDestroy()` read only
 * their arguments; the planners in check.ts observe and call them.
 */
import { act, type Action, type Plan } from '../../core/plan.js';
import { createActions, destroyActions } from './ctlr.js';
import { fcoeKey } from './keys.js';
import type { CtlrState, DcbResult, FcoeControl, FcoeInterfaceConfig, InterfacePair } from './types.js';

/**
 * Why a dcb-check runs: a net add (`uevent`), a link change or an admin
 * (`link`: `--ifname`, what the dispatchers run), the periodic `--all`
 * (`recheck`), or a retry attempt timerd runs (`timer`).
 */
export type CheckTrigger = 'uevent' | 'link' | 'recheck' | 'timer';
/**
 * The trigger a round really has in this process. A lock holder runs the
 * events queued behind it (core/lock.ts), so a round may come from another
 * process, and what decides timerd's schedule is whether THIS process was
 * started by timerd (its exit code is the attempt's result):
 * - a retry attempt run by a holder timerd did not start: the attempt's own
 *   process has already exited 1 (its event was queued), so its schedule
 *   goes on; the round must keep it, as the recheck does (`recheck`);
 * - a recheck run by a holder timerd started: exit 0 would end the schedule
 *   timerd is running, so a retry verdict must fail the attempt (`timer`).
 */
export function roundTrigger(trigger: CheckTrigger, startedByTimerd: boolean): CheckTrigger {
  if (trigger === 'timer' && !startedByTimerd) return 'recheck';
  if (trigger === 'recheck' && startedByTimerd) return 'timer';
  return trigger;
}

/** Why an fcoe-destroy runs; `loss` is timerd's loss hook after the last attempt. */
export type DestroyTrigger = 'uevent' | 'loss' | 'manual';

export type DcbVerdict =
  | { readonly kind: 'ready'; readonly priority: number; readonly pfc: readonly number[] }
  | { readonly kind: 'destroy'; readonly reason: 'dcb-disabled' | 'app-disabled' | 'mismatch'; readonly text: string }
  | { readonly kind: 'retry'; readonly reason: 'query-error' | 'pfc-disabled' | 'pfc-not-operational' | 'app-not-operational'; readonly text: string };

const prios = (list: readonly number[]) => (list.length === 0 ? 'none' : list.join(','));

/** The DCB half of the table: what the five answers say, in fcoemon's order of precedence. */
export function dcbVerdict(dcb: DcbResult): DcbVerdict {
  if (!dcb.ok) return { kind: 'retry', reason: 'query-error', text: `${dcb.step} query failed (${dcb.argv.join(' ')}): ${dcb.message}` };
  if (!dcb.dcbEnabled) return { kind: 'destroy', reason: 'dcb-disabled', text: 'DCB is disabled on the real interface' };
  if (dcb.appConfig && !dcb.appConfig.enabled) return { kind: 'destroy', reason: 'app-disabled', text: 'App:FCoE is disabled' };
  if (!dcb.pfcConfig?.enabled) return { kind: 'retry', reason: 'pfc-disabled', text: 'PFC is not enabled' };
  if (!dcb.appConfig) return { kind: 'retry', reason: 'query-error', text: 'App:FCoE configuration was not read' };
  if (!dcb.pfcOper?.operational) return { kind: 'retry', reason: 'pfc-not-operational', text: 'PFC is not operational' };
  if (!dcb.appOper?.operational) return { kind: 'retry', reason: 'app-not-operational', text: 'App:FCoE is not operational' };
  const priority = dcb.appOper.priority;
  if (priority === undefined || !dcb.pfcOper.priorities.includes(priority)) {
    return { kind: 'destroy', reason: 'mismatch', text: `the FCoE app priority ${priority ?? 'none'} is not PFC-enabled (PFC priorities ${prios(dcb.pfcOper.priorities)})` };
  }
  return { kind: 'ready', priority, pfc: dcb.pfcOper.priorities };
}

/** fcoemon's retry: the whole sequence again after 0.2 s, 0.4 s, ... for `attempts` attempts (sanhook.yaml fcoe.retry). */
export interface RetryPolicy {
  readonly delayMs: number;
  readonly growth: 'fixed' | 'linear';
  readonly attempts: number;
}

/** What a dcb-check of one FCoE interface observed. `dcb` only when it was needed (`needsDcb`). */
export interface CheckObservation {
  readonly ifname: string;
  /** Its cfg file; absent: not configured. */
  readonly cfg?: FcoeInterfaceConfig;
  readonly links: InterfacePair;
  readonly control: FcoeControl;
  /** The ctlr on this netdev, if any. */
  readonly ctlr?: CtlrState;
  readonly dcb?: DcbResult;
}

/** The DCB sequence runs only for a managed, DCB-requiring interface whose links are up. */
export function needsDcb(observation: Omit<CheckObservation, 'dcb'>): boolean {
  const { cfg, links } = observation;
  return cfg !== undefined && cfg.enabled && cfg.dcbRequired && links.fcoe.present && links.fcoe.up && links.real.up;
}

/** The arm request of the retry schedule: `dcb-check` per attempt, `fcoe-destroy` after the last. */
export function retryArmRequest(ifname: string, retry: RetryPolicy, keep: boolean): Record<string, unknown> {
  return { op: 'arm', hook: 'dcb-check', lossHook: 'fcoe-destroy', params: { ifname }, delayMs: retry.delayMs, growth: retry.growth, lossMs: 0, lossAttempts: retry.attempts, ...(keep ? { keep: true } : {}) };
}

const NO_MODULE = 'the kernel offers neither /sys/bus/fcoe nor libfcoe\'s parameters: load the fcoe module (modprobe fcoe)';

function createPlan(o: CheckObservation, cfg: FcoeInterfaceConfig, why: string, fields: Record<string, unknown>): Action[] {
  if (o.ctlr && o.ctlr.enabled) {
    if (o.control === 'bus' && o.ctlr.mode !== cfg.mode) {
      return [act.note('mode-differs', `${o.ctlr.name} runs in ${o.ctlr.mode} mode, the cfg file says ${cfg.mode}: fcoe-destroy it to re-create it`, { level: 'warn', fields: { ...fields, ctlr: o.ctlr.name } })];
    }
    return [act.note('already-created', `${o.ctlr.name} is enabled (${why})`, { level: 'debug', fields: { ...fields, ctlr: o.ctlr.name } })];
  }
  if (o.control === 'none') return [act.note('no-fcoe-module', NO_MODULE, { level: 'error', fails: true, fields })];
  return createActions(cfg, o.control, o.ctlr).map((action) => ({ ...action, fields: { ...action.fields, ...fields } }) as Action);
}

function destroyPlan(o: { readonly ifname: string; readonly ctlr?: CtlrState; readonly control: FcoeControl }, why: string, fields: Record<string, unknown>): Action[] {
  if (!o.ctlr) return [act.note('not-created', `nothing to destroy (${why})`, { fields })];
  if (o.control === 'none') return [act.note('no-fcoe-module', NO_MODULE, { level: 'error', fails: true, fields })];
  return destroyActions(o.ifname, o.control, o.ctlr).map((action) => ({ ...action, fields: { ...action.fields, ...fields } }) as Action);
}

/**
 * The dcb-check table's verdict on one observation, before any trigger: what
 * dcb-check acts on (decideCheck) and what `sanhook status` shows. `dcb` is
 * the DCB half when it decided (create, destroy or retry of a DCB-required
 * interface).
 */
export type CheckVerdict =
  | { readonly kind: 'not-configured' | 'not-enabled' | 'netdev-gone'; readonly text: string }
  | { readonly kind: 'link-down'; readonly link: string; readonly text: string }
  | { readonly kind: 'create' | 'destroy' | 'retry'; readonly text: string; readonly dcb?: DcbVerdict; readonly source?: DcbResult['source'] };

export function checkVerdict(o: CheckObservation): CheckVerdict {
  const cfg = o.cfg;
  if (!cfg) return { kind: 'not-configured', text: `no cfg-${o.ifname} in /etc/fcoe: not managed` };
  if (!cfg.enabled) return { kind: 'not-enabled', text: `FCOE_ENABLE is not "yes" in ${cfg.file}: not managed` };
  if (!o.links.fcoe.present) return { kind: 'netdev-gone', text: `${o.ifname} does not exist (the kernel removes a ctlr with its netdev)` };
  const down = [o.links.fcoe, o.links.real].find((link) => !link.up);
  if (down) return { kind: 'link-down', link: down.ifname, text: `link down on ${down.ifname}: no DCB check now; the next link up starts it again` };
  if (!cfg.dcbRequired) return { kind: 'create', text: 'DCB not required' };
  if (!o.dcb) throw new Error(`decideCheck: ${o.ifname} needs the DCB answers (needsDcb) and was given none`);
  const dcb = dcbVerdict(o.dcb);
  if (dcb.kind === 'ready') return { kind: 'create', text: `DCB ready: App:FCoE priority ${dcb.priority}, PFC on ${prios(dcb.pfc)}`, dcb, source: o.dcb.source };
  return { kind: dcb.kind, text: dcb.text, dcb, source: o.dcb.source };
}

/**
 * The dcb-check table. Run by timerd (`timer`), the plan never disarms: the
 * hook's exit 0 ends the schedule and its exit 1 (a retry: the `not-yet`
 * note fails) lets timerd run the next attempt or, after the last, the loss
 * hook. Otherwise every outcome but a retry disarms, and a retry arms: from
 * the start (an event starts the sequence over) or, for the periodic
 * recheck, only if no schedule is running (`keep`).
 */
export function decideCheck(o: CheckObservation, trigger: CheckTrigger, retry: RetryPolicy): Plan {
  const key = fcoeKey(o.ifname);
  const base = { hook: 'dcb-check', key, trigger };
  const settle: Action[] = trigger === 'timer' ? [] : [act.disarm()];
  const done = (...actions: Action[]): Plan => ({ ...base, actions: [...settle, ...actions] });
  const verdict = checkVerdict(o);
  switch (verdict.kind) {
    case 'not-configured':
      return done(act.note(verdict.kind, verdict.text, { level: 'debug' }));
    case 'not-enabled':
    case 'netdev-gone':
      return done(act.note(verdict.kind, verdict.text));
    case 'link-down':
      return done(act.note(verdict.kind, verdict.text, { fields: { link: verdict.link } }));
  }
  const cfg = o.cfg!;
  const dcb = verdict.dcb;
  const fields = {
    real: o.links.real.ifname,
    dcb_required: cfg.dcbRequired,
    ...(dcb ? { dcb_source: verdict.source, verdict: dcb.kind, ...(dcb.kind === 'ready' ? { fcoe_prio: dcb.priority, pfc: prios(dcb.pfc) } : { reason: dcb.reason }) } : {}),
  };
  switch (verdict.kind) {
    case 'create':
      return done(...createPlan(o, cfg, verdict.text, fields));
    case 'destroy':
      return done(...destroyPlan(o, verdict.text, fields));
    case 'retry': {
      if (trigger === 'timer') {
        return { ...base, actions: [act.note('not-yet', `${verdict.text}: retrying`, { level: 'warn', fails: true, failure: `${verdict.text} (timerd retries, then destroys)`, fields })] };
      }
      const keep = trigger === 'recheck';
      return { ...base, actions: [act.arm(retryArmRequest(o.ifname, retry, keep), { subject: `${key}: ${verdict.text}; retry`, fields })] };
    }
  }
}

/** What an fcoe-destroy of one FCoE interface observed. */
export interface DestroyObservation {
  readonly ifname: string;
  readonly present: boolean;
  readonly control: FcoeControl;
  readonly ctlr?: CtlrState;
}

/**
 * The fcoe-destroy table: the netdev removed (udev), the last retry failed
 * (timerd's loss hook), or by hand. Destroys the ctlr if there is one and
 * ends any schedule (timerd ends its own after the loss hook).
 */
export function decideDestroy(o: DestroyObservation, trigger: DestroyTrigger): Plan {
  const key = fcoeKey(o.ifname);
  const settle: Action[] = trigger === 'loss' ? [] : [act.disarm()];
  const why = trigger === 'loss' ? 'the DCB checks failed through the last retry' : trigger === 'uevent' ? 'the netdev was removed' : 'asked by hand';
  if (!o.present && !o.ctlr) return { hook: 'fcoe-destroy', key, trigger, actions: [...settle, act.note('netdev-gone', `${o.ifname} is gone and has no ctlr (the kernel removes a ctlr with its netdev)`)] };
  return { hook: 'fcoe-destroy', key, trigger, actions: [...settle, ...destroyPlan(o, why, { reason: why })] };
}
