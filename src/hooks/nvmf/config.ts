/**
 * The `nvmf:` section of /etc/sanhook/sanhook.yaml, as a schema table
 * (core/config.ts): one row per setting, with its converter (a validator of
 * validate.ts), default and one-line description.
 *
 * Contract: declarations only. The core loads the section through
 * `NVMF_CONFIG` (registered as `nvmf.config`); hooks read the result with
 * `nvmfSettings(config)` (settings.ts). Defaults live in the rows and nowhere
 * else (`DEFAULT_LOST_POLICY` is derived from them).
 */
import { defaults, list, mapping, optional, value, type ConfigSection, type Table } from '../../core/config.js';
import { boolean, integer, oneOf } from '../../core/validate.js';
import { GROWTHS, type Growth } from '../../timerd/schedule.js';
import * as validate from './validate.js';
import type { ReferralBounds } from './connect-decide.js';

export const HANDOFF_MODES = ['auto', 'systemd-run', 'inline'] as const;
export type HandoffMode = (typeof HANDOFF_MODES)[number];

/** A discovery-log record is skipped when every field given here matches it. */
export interface ExcludeRule {
  readonly subnqn?: string;
  readonly traddr?: string;
  readonly trsvcid?: string;
  readonly transport?: validate.Transport;
}

/** Defaults as Linux's and FreeBSD's nvmf: attempt every 10 s, give up after 600 s. */
export interface LostPolicy {
  /** Seconds between reconnect attempts; 0 disables attempts. */
  readonly reconnectDelay: number;
  /** Seconds until sanhook gives up; -1 never; 0 disables the loss timer (also never). */
  readonly ctrlLossTmo: number;
  readonly growth: Growth;
  /** Give up after this many failed attempts; 0: no limit by count. */
  readonly maxAttempts: number;
  /** Also bring back controllers sanhook did not connect (found by remove events). */
  readonly reconnectUnmanaged: boolean;
}

export interface NvmfSettings {
  /** Passed to `nvme connect -c` when set; otherwise the kernel default. */
  readonly reconnectDelay?: number;
  /** Passed to `nvme connect -l` when set; otherwise the kernel default. */
  readonly ctrlLossTmo?: number;
  readonly exclude: readonly ExcludeRule[];
  /** Under udev: hand network work to `systemd-run` (auto = when systemd is PID 1). */
  readonly udevHandoff: HandoffMode;
  /** sanhook's own timers after the kernel gave up on a controller (timerd). */
  readonly lost: LostPolicy;
  /** Every discovery round leaves a persistent discovery controller, as `--persistent` does. */
  readonly persistent: boolean;
  /** How far discovery-log referrals are followed. */
  readonly referrals: ReferralBounds;
}

/**
 * Referral bounds. Depth 4: a fabric with a central discovery controller
 * refers to per-site ones, which may refer to per-array ones; more levels are
 * a loop that escaped the chain check (addresses spelled two ways) or a
 * misconfiguration, not a design (libnvme's own example stops at 8). 16 per
 * log: each followed referral is one more discovery round (≈0.1-1 s) under
 * the referring address's lock.
 */
const REFERRALS: Table<ReferralBounds> = {
  rows: {
    follow: value('follow', boolean, true, 'follow referral records to other discovery controllers (true or false)'),
    maxDepth: value('max-depth', (raw, option) => integer(raw, option, 1, 16, 'must be a count 1-16'), 4, 'referral hops followed from the first discovery round, 1-16'),
    maxPerLog: value('max-per-log', (raw, option) => integer(raw, option, 1, 256, 'must be a count 1-256'), 16, 'referrals followed per discovery log, 1-256; the rest are reported'),
  },
};

const EXCLUDE_RULE: Table<ExcludeRule> = {
  rows: {
    subnqn: optional('subnqn', validate.nqn, 'subsystem NQN', '(any)'),
    traddr: optional('traddr', (raw) => raw.toLowerCase(), 'transport address', '(any)'),
    trsvcid: optional('trsvcid', validate.port, 'transport service id (port)', '(any)'),
    transport: optional('transport', validate.transport, `transport: ${validate.TRANSPORTS.join(', ')}`, '(any)'),
  },
  check: (rule) => (Object.values(rule).every((field) => field === undefined) ? 'an empty rule would exclude everything' : undefined),
};

const LOST: Table<LostPolicy> = {
  rows: {
    reconnectDelay: value(
      'reconnect-delay',
      (raw, option) => integer(raw, option, 0, 86_400, 'must be whole seconds 0-86400 (0 disables attempts)'),
      10,
      'whole seconds between attempts, 0-86400; 0 disables attempts',
    ),
    ctrlLossTmo: value('ctrl-loss-tmo', validate.ctrlLossTmo, 600, 'whole seconds until sanhook gives up, -1 or 0-31536000; -1 or 0: never'),
    growth: value('growth', (raw, option) => oneOf(raw, GROWTHS, option), 'fixed', `${GROWTHS.join(' or ')}: linear waits delay × attempt (fcoemon's 0.2 s × n)`),
    maxAttempts: value(
      'max-attempts',
      (raw, option) => integer(raw, option, 0, 1_000_000, 'must be a count 0-1000000 (0: no limit)'),
      0,
      'give up after this many failed attempts, 0-1000000; 0: no limit',
    ),
    reconnectUnmanaged: value('reconnect-unmanaged', boolean, false, 'also bring back controllers sanhook did not connect (true or false)'),
  },
  check: (policy) =>
    policy.reconnectDelay === 0 && policy.ctrlLossTmo <= 0 ? 'reconnect-delay 0 with ctrl-loss-tmo 0/-1 would keep a timer that never does anything' : undefined,
};

export const NVMF_CONFIG: ConfigSection<NvmfSettings> = {
  name: 'nvmf',
  describe: 'NVMe over Fabrics',
  rows: {
    reconnectDelay: optional('reconnect-delay', validate.reconnectDelay, 'passed to `nvme connect -c`: whole seconds 1-86400', "the kernel's"),
    ctrlLossTmo: optional('ctrl-loss-tmo', validate.ctrlLossTmo, 'passed to `nvme connect -l`: -1 (never) or whole seconds 0-31536000', "the kernel's"),
    udevHandoff: value(
      'udev-handoff',
      (raw, option) => oneOf(raw, HANDOFF_MODES, option),
      'auto',
      `a connect run in udev's worker: ${HANDOFF_MODES.join(', ')} (auto: systemd-run when systemd is PID 1)`,
    ),
    exclude: list('exclude', EXCLUDE_RULE, 'rule', 'discovery-log records never connected: a rule matches when every field it gives matches'),
    lost: mapping('lost', LOST, "sanhook's own timers once the kernel gave up on a controller (FreeBSD nvmf semantics)"),
    persistent: value('persistent', boolean, false, 'keep one persistent discovery controller per discovery address, as `--persistent` (true or false)'),
    referrals: mapping('referrals', REFERRALS, 'discovery-log referrals to other discovery controllers'),
  },
};

export const DEFAULT_LOST_POLICY: LostPolicy = defaults(LOST);
