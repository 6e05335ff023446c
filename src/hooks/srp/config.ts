/**
 * The `srp:` section of /etc/sanhook/sanhook.yaml, as a schema table
 * (core/config.ts): the timer policy srp-setup writes to every new SRP
 * remote port, per-target rules in the spirit of srp_daemon.conf (matched on
 * id_ext / ioc_guid / dgid, first match wins), and timerd's re-add schedule
 * for a port the kernel deleted.
 *
 * The defaults keep the SCSI host while the target is away and fail I/O
 * fast: reconnect every 5 s, fail I/O after 5 s (what dm-multipath wants to
 * switch paths, multipath.conf's usual fast_io_fail_tmo), delete the port
 * only after 600 s (the kernel's own default and the longest it allows
 * without fast-io-fail); after that sanhook re-adds the target every 10 s
 * for a day, then erases it.
 *
 * Contract: declarations plus `policyFor()`, the one rule lookup. Every
 * policy (the defaults and each rule's, merged) passes the kernel's rules at
 * load time, so a bad one stops the hook before any write (exit 2, file,
 * line and key).
 */
import { list, mapping, optional, settingsOf, value, type Config, type ConfigSection, type Table } from '../../core/config.js';
import { integer, oneOf, secondsAsMs } from '../../core/validate.js';
import { MAX_DELAY_MS, MIN_DELAY_MS } from '../../timerd/protocol.js';
import { GROWTHS, type Growth } from '../../timerd/schedule.js';
import { gid, hex64, type SrpTarget } from './identity.js';
import { policyFault, policyProblem, tmo, type TimerField, type TimerPolicy, type Tmo } from './policy.js';

/** The YAML key of each timer setting, where a policy error points. */
const YAML_KEYS: Readonly<Record<TimerField, string>> = { reconnectDelay: 'reconnect-delay', fastIoFail: 'fast-io-fail', devLoss: 'dev-loss' };

export interface ReAddPolicy {
  readonly delayMs: number;
  readonly growth: Growth;
  /** Give up (srp-erase) this long after the port was deleted; 0: never. */
  readonly giveUpMs: number;
}

/** One rule: which targets (every given field must match) and what differs for them. */
export interface TargetRule {
  readonly idExt?: string;
  readonly iocGuid?: string;
  readonly dgid?: string;
  readonly reconnectDelay?: Tmo;
  readonly fastIoFail?: Tmo;
  readonly devLoss?: Tmo;
  /** Bring it back after the kernel deleted it (default yes). */
  readonly reAdd?: boolean;
}

/**
 * What a port that appears for an erased target means. until-added: someone
 * added it on purpose, keep it. enforce: only `sanhook srp-add` brings an
 * erased target back; a port added any other way (srp_daemon's next rescan)
 * is deleted again at once — the mode for hosts that run srp_daemon.
 */
export const ERASED_MODES = ['until-added', 'enforce'] as const;
export type ErasedMode = (typeof ERASED_MODES)[number];

export interface SrpSettings extends TimerPolicy {
  readonly erased: ErasedMode;
  readonly reAdd: ReAddPolicy;
  readonly targets: readonly TargetRule[];
}

const yesNo = (raw: string, option: string) => oneOf(raw, ['yes', 'no'] as const, option) === 'yes';
const TMO_TEXT = 'whole seconds, or off';

const RE_ADD: Table<ReAddPolicy> = {
  rows: {
    delayMs: value(
      'delay',
      (raw, option) => secondsAsMs(raw, option, MIN_DELAY_MS, MAX_DELAY_MS, `must be seconds ${MIN_DELAY_MS / 1000}-${MAX_DELAY_MS / 1000}`),
      10_000,
      'seconds between add_target attempts (× attempt when linear)',
      '10',
    ),
    growth: value('growth', (raw, option) => oneOf(raw, GROWTHS, option), 'fixed', `${GROWTHS.join(' or ')}: linear waits delay × attempt`),
    giveUpMs: value(
      'give-up',
      (raw, option) => (raw === 'off' ? 0 : integer(raw, option, 1, 31_536_000, 'must be whole seconds 1-31536000, or off') * 1000),
      86_400_000,
      'seconds after the deletion until sanhook stops and erases the target (srp-erase); off: never',
      '86400',
    ),
  },
};

const TARGET_RULE: Table<TargetRule> = {
  rows: {
    idExt: optional('id-ext', hex64, 'match: the target\'s id_ext (hex)', '(any)'),
    iocGuid: optional('ioc-guid', hex64, 'match: the target\'s ioc_guid (hex)', '(any)'),
    dgid: optional('dgid', gid, 'match: the target port GID (IB CM logins only)', '(any)'),
    reconnectDelay: optional('reconnect-delay', tmo, `for these targets: ${TMO_TEXT}`, 'srp.reconnect-delay'),
    fastIoFail: optional('fast-io-fail', tmo, `for these targets: ${TMO_TEXT}`, 'srp.fast-io-fail'),
    devLoss: optional('dev-loss', tmo, `for these targets: ${TMO_TEXT}`, 'srp.dev-loss'),
    reAdd: optional('re-add', yesNo, 'yes or no: bring these targets back after the kernel deleted them', 'yes'),
  },
  check: (rule) => (rule.idExt === undefined && rule.iocGuid === undefined && rule.dgid === undefined ? 'a rule needs id-ext, ioc-guid or dgid to match on' : undefined),
};

export const SRP_CONFIG: ConfigSection<SrpSettings> = {
  name: 'srp',
  describe: 'SRP (timer policy for srp_remote_ports, per-target rules, re-adding deleted targets)',
  rows: {
    reconnectDelay: value('reconnect-delay', tmo, 5, `seconds between the kernel's reconnect attempts to a blocked port: ${TMO_TEXT} (not 0)`),
    fastIoFail: value('fast-io-fail', tmo, 5, `seconds until I/O to a blocked port fails instead of waiting: ${TMO_TEXT}`),
    devLoss: value('dev-loss', tmo, 600, `seconds until the kernel deletes a blocked port and its SCSI host: ${TMO_TEXT}`),
    erased: value('erased', (raw, option) => oneOf(raw, ERASED_MODES, option), 'until-added', "until-added or enforce: whether a port that appears for an erased target is kept (any add counts as on purpose) or deleted again unless it came from srp-add (with srp_daemon running)"),
    reAdd: mapping('re-add', RE_ADD, "timerd's schedule for re-adding a target the kernel deleted"),
    targets: list('targets', TARGET_RULE, 'rule', 'per-target rules, first match wins (srp_daemon.conf style)'),
  },
  check: (settings) => {
    const base = policyFault(settings);
    if (base) return { key: YAML_KEYS[base.field], problem: base.problem };
    for (const [i, rule] of settings.targets.entries()) {
      const problem = policyProblem(mergedPolicy(settings, rule));
      if (problem) return `targets[${i}]: ${problem}`;
    }
    return undefined;
  },
};

export function srpSettings(config: Config): SrpSettings {
  return settingsOf(config, SRP_CONFIG);
}

function mergedPolicy(base: TimerPolicy, rule: TargetRule | undefined): TimerPolicy {
  return {
    reconnectDelay: rule?.reconnectDelay ?? base.reconnectDelay,
    fastIoFail: rule?.fastIoFail ?? base.fastIoFail,
    devLoss: rule?.devLoss ?? base.devLoss,
  };
}

/** Does the rule name this target? Every field it gives must match; dgid never matches an RDMA/CM login. */
export function ruleMatches(rule: TargetRule, target: RuleSubject): boolean {
  if (rule.idExt !== undefined && rule.idExt !== target.idExt) return false;
  if (rule.iocGuid !== undefined && rule.iocGuid !== target.iocGuid) return false;
  if (rule.dgid !== undefined && rule.dgid !== target.dgid) return false;
  return true;
}

/** What rules match on: a target's ids and, for an IB CM login, its GID. */
export interface RuleSubject {
  readonly idExt: string;
  readonly iocGuid: string;
  readonly dgid?: string;
}

export function ruleSubject(target: SrpTarget): RuleSubject {
  return { idExt: target.idExt, iocGuid: target.iocGuid, ...(target.address.kind === 'ib-cm' ? { dgid: target.address.dgid } : {}) };
}

export interface TargetPolicy {
  readonly timers: TimerPolicy;
  readonly reAdd: boolean;
  /** Which rule decided (its index), for the log; absent: the section's defaults. */
  readonly rule?: number;
}

/** The first rule that matches, merged over the section's defaults. */
export function policyFor(settings: SrpSettings, target: RuleSubject): TargetPolicy {
  const index = settings.targets.findIndex((rule) => ruleMatches(rule, target));
  const rule = index >= 0 ? settings.targets[index] : undefined;
  return { timers: mergedPolicy(settings, rule), reAdd: rule?.reAdd ?? true, ...(rule ? { rule: index } : {}) };
}
