/**
 * FCoE's two hooks on the core (DESIGN §3): validate → key (`fcoe:<ifname>`)
 * → lock with coalescing → observe → decide (decide.ts) → the executor.
 *
 *   dcb-check --uevent        udev net add of an interface with a cfg file
 *   dcb-check --ifname IF     a link up/down on IF (the dispatcher scripts):
 *                             every configured FCoE interface that is IF or
 *                             a VLAN stacked on it; run by timerd: one retry
 *                             attempt of IF itself
 *   dcb-check --all           the periodic recheck of every enabled interface
 *   fcoe-destroy --uevent     udev net remove
 *   fcoe-destroy --ifname IF  by hand; run by timerd: the loss hook after the
 *                             last retry
 *
 * Contract: both verbs lock the same key and are each other's planners, so
 * an event of one queued behind the other's round is run by the holder
 * (core/lock.ts). A cfg file that does not parse stops the hook before any
 * write (exit 2, file:line: key). Run by timerd, a dcb-check whose event a
 * live holder took exits 1: its result is the holder's, and exit 0 would end
 * the schedule.
 */
import type { Config } from '../../core/config.js';
import { ActionError, UsageError } from '../../core/errors.js';
import type { UeventEnv } from '../../core/fabric.js';
import { reportQueued, runByTimerd, runLocked, type HookRunContext, type ObserveMode, type Planner } from '../../core/hook-runner.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';
import { fcoeSettings, type FcoeSettings } from './config.js';
import { ctlrOn, readControl, readCtlrs } from './ctlr.js';
import { queryDcb } from './dcb/sequence.js';
import { decideCheck, decideDestroy, needsDcb, roundTrigger, type CheckObservation, type CheckTrigger, type DestroyTrigger } from './decide.js';
import { readFcoeConfig, readInterfaceConfig } from './fcoe-config.js';
import { fcoeKey } from './keys.js';
import { fcoeInterfacesInvolving, observeInterfaces, readNetdev } from './netdev.js';
import { matchNetAdd, matchNetRemove } from './prefilter.js';
import { ifname as validIfname } from './validate.js';

export interface CheckRequest {
  readonly ifname: string;
  readonly trigger: CheckTrigger;
}
export interface DestroyRequest {
  readonly ifname: string;
  readonly trigger: DestroyTrigger;
}

/** Everything a dcb-check decides on, read now. The DCB sequence runs only when the table needs it. */
export async function observeCheck(system: System, settings: FcoeSettings, ifname: string): Promise<CheckObservation> {
  const [cfg, links, control] = await Promise.all([readInterfaceConfig(system, ifname), observeInterfaces(system, ifname), readControl(system)]);
  const ctlr = ctlrOn(await readCtlrs(system, control), ifname);
  const observed: CheckObservation = { ifname, ...(cfg ? { cfg } : {}), links, control, ...(ctlr ? { ctlr } : {}) };
  if (!needsDcb(observed)) return observed;
  return { ...observed, dcb: await queryDcb(system, links.real.ifname, settings.dcbSource) };
}

function planners(system: System, settings: FcoeSettings): { 'dcb-check': Planner<CheckRequest>; 'fcoe-destroy': Planner<DestroyRequest> } {
  return {
    // The DCB queries and sysfs reads leave nothing behind: a dry run observes the same way.
    'dcb-check': async (request: CheckRequest, _mode: ObserveMode) =>
      decideCheck(await observeCheck(system, settings, request.ifname), roundTrigger(request.trigger, runByTimerd(system)), settings.retry),
    'fcoe-destroy': async (request: DestroyRequest) => {
      const [netdev, control] = await Promise.all([readNetdev(system, request.ifname), readControl(system)]);
      const ctlr = ctlrOn(await readCtlrs(system, control), request.ifname);
      return decideDestroy({ ifname: request.ifname, present: netdev.present, control, ...(ctlr ? { ctlr } : {}) }, request.trigger);
    },
  };
}

function fcoeContext(system: System, config: Config, reporter: Reporter, dryRun: boolean): HookRunContext {
  return { system, reporter, dryRun, interpreters: {}, stores: {}, staleMs: config.lockStaleMs };
}

/** The interface of a udev net event, validated like an option (exit 2 naming INTERFACE). */
function ueventInterface(env: UeventEnv): string {
  return validIfname(env.INTERFACE ?? '', 'INTERFACE');
}

/** One locked round per interface; failures of all of them fail the hook (exit 1) at the end. */
async function runRounds<R extends { readonly ifname: string }>(system: System, config: Config, reporter: Reporter, dryRun: boolean, verb: 'dcb-check' | 'fcoe-destroy', requests: readonly R[]): Promise<void> {
  const context = fcoeContext(system, config, reporter, dryRun);
  const all = planners(system, fcoeSettings(config));
  const failures: string[] = [];
  for (const request of requests) {
    const key = fcoeKey(request.ifname);
    const run = await runLocked(context, { key, verb, request, planners: all as Readonly<Record<string, Planner<never>>> });
    if (run.queued) {
      reportQueued(context, verb, key, `another hook holds this interface; it runs this ${verb} next`);
      if (runByTimerd(system)) failures.push(`${key}: another hook holds this interface's lock; its result decides`);
    }
    failures.push(...(run.result?.failures ?? []));
  }
  if (failures.length > 0) throw new ActionError(failures.join('; '), { failures });
}

export interface CheckInput {
  readonly uevent?: boolean;
  readonly ifname?: string;
  readonly all?: boolean;
  readonly dryRun: boolean;
}

export async function runDcbCheck(system: System, config: Config, input: CheckInput, reporter: Reporter): Promise<void> {
  if ([input.uevent === true, input.ifname !== undefined, input.all === true].filter(Boolean).length !== 1) {
    throw new UsageError('give exactly one of --uevent, --ifname or --all', '--ifname');
  }
  let requests: CheckRequest[];
  if (input.all) {
    const { interfaces } = await readFcoeConfig(system);
    requests = interfaces.filter((cfg) => cfg.enabled).map((cfg) => ({ ifname: cfg.ifname, trigger: 'recheck' }));
  } else if (input.ifname !== undefined && runByTimerd(system)) {
    requests = [{ ifname: validIfname(input.ifname, '--ifname'), trigger: 'timer' }];
  } else {
    const uevent = input.uevent === true;
    if (uevent && !matchNetAdd(system.env)) {
      reporter.item({ hook: 'dcb-check', outcome: 'ignored', text: 'not a net add event' });
      return;
    }
    const name = uevent ? ueventInterface(system.env) : validIfname(input.ifname!, '--ifname');
    const { interfaces } = await readFcoeConfig(system);
    const involved = await fcoeInterfacesInvolving(system, name, interfaces.map((cfg) => cfg.ifname));
    if (involved.length === 0) {
      system.log.info({ hook: 'dcb-check', ifname: name, outcome: 'not-configured' }, 'no FCoE interface is configured on it');
      reporter.item({ hook: 'dcb-check', outcome: 'not-configured', text: `${name}: no /etc/fcoe/cfg-<ifname> for it or a VLAN on it: nothing to do` });
      return;
    }
    requests = involved.map((ifname) => ({ ifname, trigger: uevent ? 'uevent' : 'link' }));
  }
  if (requests.length === 0) {
    reporter.item({ hook: 'dcb-check', outcome: 'not-configured', text: 'no FCoE interface is enabled in /etc/fcoe' });
    return;
  }
  await runRounds(system, config, reporter, input.dryRun, 'dcb-check', requests);
}

export interface DestroyInput {
  readonly uevent?: boolean;
  readonly ifname?: string;
  readonly dryRun: boolean;
}

export async function runFcoeDestroy(system: System, config: Config, input: DestroyInput, reporter: Reporter): Promise<void> {
  if ((input.uevent === true) === (input.ifname !== undefined)) throw new UsageError('give exactly one of --uevent or --ifname', '--ifname');
  if (input.uevent && !matchNetRemove(system.env)) {
    reporter.item({ hook: 'fcoe-destroy', outcome: 'ignored', text: 'not a net remove event' });
    return;
  }
  const ifname = input.uevent ? ueventInterface(system.env) : validIfname(input.ifname!, '--ifname');
  const trigger: DestroyTrigger = input.uevent ? 'uevent' : runByTimerd(system) ? 'loss' : 'manual';
  await runRounds(system, config, reporter, input.dryRun, 'fcoe-destroy', [{ ifname, trigger }]);
}
