/**
 * SRP's decisions, pure: each takes what the hook observed (the port in
 * sysfs, the records, the rule that applies) and returns the plan the
 * executor runs. The seed's three host actions map onto today's kernel so:
 *
 *   disconnect  srp-disconnect: every running SCSI device of the port's host
 *               to `offline` (I/O fails at once; the SCSI host, its disks
 *               and the RDMA login stay). The kernel has no initiator-side
 *               "disconnect but keep the host" for ib_srp: `delete` removes
 *               the host, and the blocked / fail-fast states are entered
 *               only on a transport error.
 *   reconnect   srp-reconnect: a disconnected port's devices back to
 *               `running`; a blocked or failing-fast port gets a reconnect
 *               now (reconnect_delay off, then 1: store_reconnect_delay
 *               queues the reconnect work when the delay goes from off to
 *               on while the port is not running, then the policy's value
 *               again); a deleted port is added again through add_target
 *               (EEXIST, "already connected", is success).
 *   erase       srp-erase: the port's `delete` (srp_rport_delete: the host
 *               and its disks go), after a tombstone that keeps every
 *               sanhook hook from adding it again until it is added on
 *               purpose.
 *
 * Contract: no I/O here; table-driven tests cover every branch
 * (test/unit/srp-decide.test.ts).
 */
import { act, type Action, type Plan } from '../../core/plan.js';
import type { ReAddPolicy, TargetPolicy } from './config.js';
import { addTargetLine, srpHostDir, type SrpTarget } from './identity.js';
import { describePolicy, policyProblem, showTmo, timerWrites } from './policy.js';
import { PORTS_DIR, SRP_HOSTS_DIR, type PortView } from './sysfs.js';

const portFile = (port: string, attr: string) => `${PORTS_DIR}/${port}/${attr}`;
const deviceState = (device: string) => `class/scsi_device/${device}/device/state`;
/** scsi_sysfs.c store_state_field matches the state's name followed by a newline, nothing else. */
const OFFLINE = 'offline\n';
const RUNNING = 'running\n';

function ruleText(policy: TargetPolicy): string {
  return policy.rule === undefined ? 'the srp: defaults' : `rule srp.targets[${policy.rule}]`;
}

/** Writes a port's timers need to match the policy; `problem` when the kernel would refuse them. */
function policyActions(port: PortView, policy: TargetPolicy, key: string): Action[] {
  const result = timerWrites(port.timers, policy.timers);
  if ('problem' in result) {
    return [act.note('refused', `not applying ${ruleText(policy)}: ${result.problem}`, { level: 'error', fails: true, fields: { port: port.name } })];
  }
  if (result.writes.length === 0) {
    return [act.note('unchanged', `${port.name} already has ${describePolicy(policy.timers)} (${ruleText(policy)})`, { fields: { port: port.name } })];
  }
  return result.writes.map((w) => act.write('set', portFile(port.name, w.file), w.value, 'set', { key, subject: `${key} ${port.name} ${w.file}=${w.value}`, fields: { port: port.name, attr: w.file, value: w.value } }));
}

// ---------------------------------------------------------------- setup ----

export interface SetupObservation {
  readonly key: string;
  readonly port: PortView;
  readonly policy: TargetPolicy;
  /** A tombstone: erased on purpose, and now a port for it appeared (someone added it). */
  readonly erased: boolean;
  /** srp.erased: enforce — an erased target comes back only through srp-add. */
  readonly enforceErased: boolean;
  readonly trigger: string;
}

export function decideSetup(o: SetupObservation): Plan {
  const plan = (actions: Action[]): Plan => ({ hook: 'srp-setup', key: o.key, trigger: o.trigger, actions });
  if (o.port.state === 'lost') return plan([act.note('ignored', `${o.port.name} is being deleted by the kernel`, { fields: { port: o.port.name } })]);
  if (o.erased && o.enforceErased) {
    return plan([
      act.note('erased-again', 'was erased on purpose and was added again other than by `sanhook srp-add` (srp_daemon?): deleting it again (srp.erased: enforce)', { level: 'warn', fields: { port: o.port.name } }),
      act.write('delete', portFile(o.port.name, 'delete'), '1', 'deleted', { fields: { port: o.port.name } }),
    ]);
  }
  const actions = policyActions(o.port, o.policy, o.key);
  if (o.erased) {
    actions.push(act.forget('erased', { fields: { port: o.port.name } }), act.note('added-again', 'was erased on purpose and has been added again: sanhook keeps it from now on', { fields: { port: o.port.name } }));
  }
  // A re-add schedule for this login has nothing left to do: its port is here.
  actions.push(act.disarm());
  return plan(actions);
}

// ----------------------------------------------------------------- lost ----

export interface LostFacts {
  readonly key: string;
  /** Complete enough to add again; absent with `why`. */
  readonly target?: SrpTarget;
  readonly why?: string;
  readonly policy: TargetPolicy;
  readonly reAdd: ReAddPolicy;
  readonly erased: boolean;
  /** A port for this login exists now (added again before this event was handled). */
  readonly present?: string;
  readonly trigger: string;
}

/** The timerd arm request that brings a deleted target back: srp-reconnect on the schedule, srp-erase at give-up. */
export function reAddArmRequest(target: SrpTarget, reAdd: ReAddPolicy): Record<string, unknown> {
  return {
    op: 'arm',
    hook: 'srp-reconnect',
    lossHook: 'srp-erase',
    params: timerParams(target),
    delayMs: reAdd.delayMs,
    growth: reAdd.growth,
    lossMs: reAdd.giveUpMs > 0 ? reAdd.giveUpMs : -1,
  };
}

/** What timerd stores and passes back as `--srp-host H --target LINE`. */
export function timerParams(target: SrpTarget): Record<string, string> {
  return { 'srp-host': srpHostDir(target.host), target: addTargetLine(target) };
}

export function decideLost(f: LostFacts): Plan {
  const plan = (action: Action): Plan => ({ hook: 'lost', key: f.key, trigger: f.trigger, actions: [action] });
  if (f.erased) return plan(act.note('erased', 'erased on purpose: not adding it again', { fields: { reason: 'erased' } }));
  if (f.present) return plan(act.note('present', `${f.present} is there again: nothing to bring back`, { fields: { port: f.present } }));
  if (!f.policy.reAdd) return plan(act.note('not-re-added', `${ruleText(f.policy)} says re-add: no`, { fields: { reason: 're-add-no' } }));
  if (!f.target) return plan(act.note('cannot-re-add', `not armed: ${f.why ?? 'its identity is incomplete'}`, { level: 'warn', fields: { reason: 'identity-incomplete' } }));
  return plan(act.arm(reAddArmRequest(f.target, f.reAdd), { fields: { srp_host: srpHostDir(f.target.host) } }));
}

// ------------------------------------------------------------ reconnect ----

export interface ReconnectObservation {
  readonly key: string;
  /** The login, when known completely (needed only to add it again). */
  readonly target?: SrpTarget;
  readonly why?: string;
  readonly port?: PortView;
  readonly policy: TargetPolicy;
  readonly erased: boolean;
  readonly disconnected: boolean;
  /** /sys/class/infiniband_srp/srp-<ibdev>-<port> exists. */
  readonly srpHostPresent: boolean;
  /** Run by timerd: an attempt whose result is not known yet must fail so the schedule goes on. */
  readonly byTimer: boolean;
  readonly trigger: string;
}

/** reconnect_delay off then 1 (queues a reconnect in 1 s), then the value wanted (leaves the queued work alone). */
function kickActions(port: PortView, key: string): Action[] | string {
  const delay = port.timers.reconnectDelay;
  const write = (value: string) => act.write('kick', portFile(port.name, 'reconnect_delay'), value, 'written', { key, subject: `${key} ${port.name} reconnect_delay=${value}`, fields: { port: port.name, value } });
  // From off, 1 queues the reconnect; writing off again would cancel it, so it stays 1 s.
  if (delay === 'off') return [write('1')];
  const problem = policyProblem({ ...port.timers, reconnectDelay: 'off' });
  if (problem) return `cannot kick ${port.name} through reconnect_delay: ${problem}`;
  return delay === 1 ? [write('off'), write('1')] : [write('off'), write('1'), write(showTmo(delay))];
}

export function decideReconnect(o: ReconnectObservation): Plan {
  const plan = (actions: Action[]): Plan => ({ hook: 'srp-reconnect', key: o.key, trigger: o.trigger, actions });
  if (o.erased) return plan([act.note('erased', 'erased on purpose: not adding it again (srp-add adds it again)', { fields: { reason: 'erased' } }), act.disarm()]);
  const port = o.port;
  if (port) {
    const fields = { port: port.name, state: port.state };
    if (o.disconnected) {
      const offline = port.devices.filter((d) => d.state === 'offline');
      return plan([
        act.forget('disconnected', { fields }),
        ...offline.map((d) => act.write('online', deviceState(d.name), RUNNING, 'running', { key: o.key, subject: `${o.key} ${d.name}`, fields: { ...fields, device: d.name } })),
        ...(offline.length === 0 ? [act.note('reconnected', `${port.name}: no SCSI device is offline any more`, { fields })] : []),
        act.disarm(),
      ]);
    }
    if (port.state === 'running') return plan([act.note('running', `${port.name} is running: already connected`, { fields }), act.disarm()]);
    if (port.state === 'lost') return plan([act.note('being-deleted', `${port.name} is being deleted by the kernel; the next attempt adds it again`, { level: 'warn', fields, fails: true })]);
    const kick = kickActions(port, o.key);
    if (typeof kick === 'string') return plan([act.note('refused', kick, { level: 'error', fields, fails: true })]);
    const after = o.byTimer
      ? act.note('kicked', `${port.name} (${port.state}) reconnects in 1 s; the next attempt checks it`, { level: 'info', fields, fails: true, failure: `${port.name} was ${port.state}: reconnect queued, not yet confirmed` })
      : act.note('kicked', `${port.name} (${port.state}) reconnects in 1 s (failed_reconnects ${port.failedReconnects ?? '?'})`, { fields });
    return plan([...kick, after]);
  }
  if (!o.target) return plan([act.note('cannot-re-add', o.why ?? 'its identity is incomplete', { level: 'error', fails: true })]);
  const dir = srpHostDir(o.target.host);
  if (!o.srpHostPresent) {
    return plan([act.note('no-srp-host', `/sys/${SRP_HOSTS_DIR}/${dir} is not there (the HCA port is gone or ib_srp is not loaded)`, { level: 'warn', fails: true, fields: { srp_host: dir } })]);
  }
  return plan([
    act.write('add', `${SRP_HOSTS_DIR}/${dir}/add_target`, addTargetLine(o.target), 'added', {
      fields: { srp_host: dir },
      already: { codes: ['EEXIST'], outcome: 'already-connected' },
      then: [act.disarm()],
    }),
  ]);
}

// ---------------------------------------------------------------- erase ----

export interface EraseObservation {
  readonly key: string;
  readonly target?: SrpTarget;
  readonly port?: PortView;
  readonly trigger: string;
}

export function decideErase(o: EraseObservation): Plan {
  const tombstone = {
    ...(o.target ? { srpHost: srpHostDir(o.target.host), line: addTargetLine(o.target) } : {}),
    ...(o.port ? { port: o.port.name } : {}),
    reason: o.trigger,
  };
  const deletion = o.port
    ? [act.write('delete', portFile(o.port.name, 'delete'), '1', 'deleted', { fields: { port: o.port.name } })]
    : [act.note('erased', 'no port for it now: nothing to delete; it stays erased', { fields: { reason: o.trigger } })];
  return {
    hook: 'srp-erase',
    key: o.key,
    trigger: o.trigger,
    // The tombstone first: the port's removal sends the remove event whose `lost` must find it.
    actions: [act.record('erased', tombstone, { then: [...deletion, act.forget('disconnected')] }), act.disarm()],
  };
}

// ----------------------------------------------------------- disconnect ----

export interface DisconnectObservation {
  readonly key: string;
  readonly port: PortView;
  readonly trigger: string;
}

export function decideDisconnect(o: DisconnectObservation): Plan {
  const running = o.port.devices.filter((d) => d.state === 'running');
  const fields = { port: o.port.name, state: o.port.state };
  const offline = running.map((d) => act.write('offline', deviceState(d.name), OFFLINE, 'offline', { subject: `${o.key} ${d.name}`, fields: { ...fields, device: d.name } }));
  const actions: Action[] =
    running.length === 0
      ? [act.note('nothing-running', `${o.port.name} has no running SCSI device (${o.port.devices.map((d) => `${d.name} ${d.state}`).join(', ') || 'none'})`, { fields })]
      : [act.record('disconnected', { port: o.port.name }, { then: offline })];
  return { hook: 'srp-disconnect', key: o.key, trigger: o.trigger, actions };
}

// ------------------------------------------------------------------ add ----

export interface AddObservation {
  readonly key: string;
  readonly target: SrpTarget;
  readonly erased: boolean;
  readonly srpHostPresent: boolean;
}

export function decideAdd(o: AddObservation): Plan {
  const dir = srpHostDir(o.target.host);
  const write = o.srpHostPresent
    ? act.write('add', `${SRP_HOSTS_DIR}/${dir}/add_target`, addTargetLine(o.target), 'added', { fields: { srp_host: dir }, already: { codes: ['EEXIST'], outcome: 'already-connected' } })
    : act.note('no-srp-host', `/sys/${SRP_HOSTS_DIR}/${dir} is not there (the HCA port is gone or ib_srp is not loaded)`, { level: 'error', fails: true, fields: { srp_host: dir } });
  return {
    hook: 'srp-add',
    key: o.key,
    trigger: 'manual',
    actions: [act.record('targets', { srpHost: dir, line: addTargetLine(o.target) }, { then: [...(o.erased ? [act.forget('erased')] : []), write] })],
  };
}
