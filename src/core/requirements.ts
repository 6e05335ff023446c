/**
 * What a working setup needs, as `sanhook doctor` checks it: the shape of a
 * check's result, and what a fabric declares it needs (kernel modules, tools,
 * its own checks) so that the core names no fabric.
 *
 * Contract: declarations only. A fabric's `doctor` (core/fabric.ts) lists its
 * modules and tools per platform and says, from the host's configuration,
 * which of its features are in use (`usage`): a module or tool a feature in
 * use needs is blocking (fail when missing); one nothing uses is informational.
 */
import type { CommandContext } from './fabric.js';
import type { Platform } from './platform.js';

export const CHECK_STATUSES = ['pass', 'warn', 'fail'] as const;
/** pass: fine · warn: works, but worth a look (exit 0) · fail: something sanhook needs is missing or broken (exit 1). */
export type CheckStatus = (typeof CHECK_STATUSES)[number];

export interface CheckResult {
  /** Stable across runs: `module:nvme-tcp`, `tool:nvme`, `rules:70-sanhook-nvmf.rules`, `timerd`, ... */
  readonly id: string;
  readonly status: CheckStatus;
  /** What was found, in words. */
  readonly seen: string;
  /** One line an admin can paste or follow; present whenever status is not pass (and for an unused module or tool). */
  readonly advice?: string;
}

/**
 * The features of a fabric in use on this host, each with the reason it
 * counts as in use ("/etc/nvme/discovery.conf line 2 uses tcp"). Feature names
 * are the fabric's own (`nvmf:tcp`, `fcoe:dcb`).
 */
export type Usage = ReadonlyMap<string, string>;

interface Need {
  readonly platform: Platform;
  /** What it is for, in words ("NVMe/TCP transport"). */
  readonly purpose: string;
  /** Blocking only while this feature is in use (`Usage`); absent: always blocking on its platform, with `always` saying why. */
  readonly neededFor?: string;
  /** Why it is needed even when no feature names it (required when neededFor is absent). */
  readonly always?: string;
}

/** A kernel module, by the name modprobe / kldload take. */
export interface ModuleNeed extends Need {
  readonly module: string;
  /**
   * sysfs paths (below the sysfs mount) that exist while the module's code is
   * in the kernel, for a module built in without parameters, which has no
   * /sys/module entry (Linux only).
   */
  readonly evidence?: readonly string[];
}

/** A program sanhook runs, and how to read its version. */
export interface ToolNeed extends Need {
  readonly tool: string;
  /** The arguments that print its version. */
  readonly versionArgs: readonly string[];
  /** The version from that run; undefined when the output is not the tool's. */
  readonly parseVersion: (run: { readonly exitCode: number; readonly stdout: string }) => string | undefined;
  /** The oldest version sanhook's parsers are written for, and why. */
  readonly minVersion?: { readonly version: string; readonly why: string };
  /** How to install it, as an admin types it ("apt install nvme-cli"). */
  readonly install: string;
}

export interface FabricDoctor {
  readonly modules: readonly ModuleNeed[];
  readonly tools: readonly ToolNeed[];
  /** Which of its features this host's configuration uses (reads only). */
  usage(context: CommandContext): Promise<Usage>;
  /** Its own checks (NVMe-oF: the host NQN), given its usage; reads only. */
  checks?(context: CommandContext, usage: Usage): Promise<readonly CheckResult[]>;
}
