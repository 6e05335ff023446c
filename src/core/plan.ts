/**
 * Plans: what a hook's pure decide() returns and the executor runs (DESIGN §3).
 *
 * Contract: a plan is data, JSON-serialisable as it stands, and is exactly
 * what `--dry-run -o json` prints: one line per action. Actions name
 * everything they touch (argv, sysfs file, key, state store) so a reader of
 * the plan needs no code to know what would happen. `then` actions run only
 * after their parent succeeded (a managed record after `nvme connect`
 * worked), in order; a failed action fails the hook (exit 1) but the rest of
 * the plan still runs, because the actions of one plan are independent paths
 * (the records of one discovery log).
 */

/** Fields every action may carry for its log line and report item. */
interface ActionBase {
  /** The key acted on; the plan's key when absent. */
  readonly key?: string;
  /** Who or what the report sentence is about (default: the key). */
  readonly subject?: string;
  /** Extra fields for the log line and the report item (subnqn, device, reason, ...). */
  readonly fields?: Readonly<Record<string, unknown>>;
}

/** Run a program (argv array, never a shell). `interpret` names how the fabric reads its result. */
export interface RunAction extends ActionBase {
  readonly kind: 'run';
  /** What it does, as a verb (`connect`): dry-run says `would-<verb>`, a failure `<verb> failed`. */
  readonly verb: string;
  readonly argv: readonly string[];
  readonly interpret?: string;
  /** Outcome word when it worked, e.g. `connected`. */
  readonly done: string;
  /** Outcome word when the program says the state was already there (default: `done`). */
  readonly already?: string;
  /** How the hook's one-line error lists a failure (default: `<subject>: <program> <verb> failed: <message>`). */
  readonly failure?: string;
  /** Log level of a failure: `warn` where failing is expected and retried (a reconnect attempt). Default error. */
  readonly failLevel?: 'warn' | 'error';
  readonly then?: readonly Action[];
}

/** Write one attribute below the sysfs root (FCoE ctlr_create, SRP add_target, ...). */
export interface WriteAction extends ActionBase {
  readonly kind: 'write';
  readonly verb: string;
  /**
   * Relative to the sysfs mount, e.g. `bus/fcoe/ctlr_create`. One path
   * component may hold one `*` for a device the plan cannot name before an
   * earlier write creates it (FCoE's new ctlr: the component `ctlr_*` below
   * `class/net/eth0`, then `enabled`): the executor
   * writes the only match, and fails the action on none or several.
   */
  readonly file: string;
  readonly value: string;
  readonly done: string;
  /**
   * errno codes with which the write means the state was already there (SRP
   * add_target's EEXIST: already logged in to that target), and the outcome
   * word then; such a write succeeded, and its `then` runs.
   */
  readonly already?: { readonly codes: readonly string[]; readonly outcome: string };
  readonly then?: readonly Action[];
}

/** Ask timerd to arm a timer: the protocol's `arm` request as it is sent. */
export interface ArmAction extends ActionBase {
  readonly kind: 'arm';
  readonly request: Readonly<Record<string, unknown>>;
}

/** Drop a key's timer. `quiet`: a timerd that is not running means nothing is armed. */
export interface DisarmAction extends ActionBase {
  readonly kind: 'disarm';
  readonly quiet: boolean;
}

/**
 * Write (`record`) or remove (`forget`) the key's record in one of the state
 * stores (core/state.ts). A store that cannot be written stops the hook
 * (exit 3: the host must allow the write), unless `unwritable` says how this
 * one action fails instead while the rest of the plan goes on (a path that is
 * connected anyway, whose record could not be kept).
 */
export interface RecordAction extends ActionBase {
  readonly kind: 'record';
  readonly store: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly unwritable?: Unwritable;
  readonly then?: readonly Action[];
}
export interface Unwritable {
  /** The report sentence, before the reason: `not recorded as managed, so ...`. */
  readonly text: string;
  /** How the hook's one-line error lists it: `<subnqn>: not recorded as managed`. */
  readonly failure: string;
}
export interface ForgetAction extends ActionBase {
  readonly kind: 'forget';
  readonly store: string;
  readonly unwritable?: Unwritable;
  readonly then?: readonly Action[];
}

/** A decision with nothing to do: skipped, ignored, nothing-to-do, not-yet. `fails`: the hook exits 1. */
export interface NoteAction extends ActionBase {
  readonly kind: 'note';
  readonly outcome: string;
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly text: string;
  readonly fails?: boolean;
  /** How the hook's one-line error names this failure (default: the text). */
  readonly failure?: string;
}

/**
 * Run another key's round under that key's lock (core/hook-runner.ts): what
 * a discovery round does for each path it connects, so the path's own hooks
 * (a `disconnect` that tombstones it meanwhile) are never interleaved with it.
 * The round observes and decides again under the lock; in a dry run it prints
 * its own plan.
 */
export interface LockedAction extends ActionBase {
  readonly kind: 'locked';
  readonly key: string;
  readonly verb: string;
  readonly request: unknown;
}

/**
 * A fabric's own step that is neither a program nor a sysfs write, run by the
 * function the fabric registers under `effect` (ExecuteContext.effects): e.g.
 * NVMe-oF records the controller its `nvme connect` created in nvme-cli's
 * ownership registry. As a `then` of a run it gets the run's result (the new
 * device's name). `data` is what it needs, as the plan prints it.
 */
export interface EffectAction extends ActionBase {
  readonly kind: 'effect';
  /** What it does, as a verb (`claim`): dry-run says `would-<verb>`. */
  readonly verb: string;
  readonly effect: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** Outcome word when it worked, e.g. `claimed`. */
  readonly done: string;
}

export type Action = RunAction | WriteAction | ArmAction | DisarmAction | RecordAction | ForgetAction | NoteAction | LockedAction | EffectAction;

export interface Plan {
  /** The verb, as log lines and report items name it. */
  readonly hook: string;
  readonly key?: string;
  /** Why this runs (uevent, timer, manual, ...): a field of every log line. */
  readonly trigger?: string;
  readonly actions: readonly Action[];
  /**
   * One log line after the plan ran (a discovery round of `connect`: its
   * generation counter and record count), with the outcome `done` (`planned`
   * in a dry run) and the duration.
   */
  readonly summary?: { readonly message: string; readonly fields?: Readonly<Record<string, unknown>> };
}

/** Builders: they keep decide() tables short and their tests readable. */
export const act = {
  run: (verb: string, argv: readonly string[], done: string, more: Omit<RunAction, 'kind' | 'verb' | 'argv' | 'done'> = {}): RunAction => ({ kind: 'run', verb, argv, done, ...more }),
  write: (verb: string, file: string, value: string, done: string, more: Omit<WriteAction, 'kind' | 'verb' | 'file' | 'value' | 'done'> = {}): WriteAction => ({ kind: 'write', verb, file, value, done, ...more }),
  arm: (request: Readonly<Record<string, unknown>>, more: Omit<ArmAction, 'kind' | 'request'> = {}): ArmAction => ({ kind: 'arm', request, ...more }),
  disarm: (more: Omit<DisarmAction, 'kind' | 'quiet'> & { quiet?: boolean } = {}): DisarmAction => ({ kind: 'disarm', quiet: true, ...more }),
  record: (store: string, data: Readonly<Record<string, unknown>>, more: Omit<RecordAction, 'kind' | 'store' | 'data'> = {}): RecordAction => ({ kind: 'record', store, data, ...more }),
  forget: (store: string, more: Omit<ForgetAction, 'kind' | 'store'> = {}): ForgetAction => ({ kind: 'forget', store, ...more }),
  effect: (verb: string, effect: string, data: Readonly<Record<string, unknown>>, done: string, more: Omit<EffectAction, 'kind' | 'verb' | 'effect' | 'data' | 'done'> = {}): EffectAction => ({
    kind: 'effect',
    verb,
    effect,
    data,
    done,
    ...more,
  }),
  locked: (key: string, verb: string, request: unknown, more: Omit<LockedAction, 'kind' | 'key' | 'verb' | 'request'> = {}): LockedAction => ({ kind: 'locked', key, verb, request, ...more }),
  note: (outcome: string, text: string, more: Omit<NoteAction, 'kind' | 'outcome' | 'text' | 'level'> & { level?: NoteAction['level'] } = {}): NoteAction => ({
    kind: 'note',
    outcome,
    text,
    level: 'info',
    ...more,
  }),
};
