/**
 * What an NVMe-oF hook runs with: the executor's context (System, reporter,
 * dry-run, nvmf's result interpreters and effects), the lock's stale bound,
 * the validated config and what the installed nvme-cli can do (asked once).
 */
import type { Config } from '../../core/config.js';
import { ActionError } from '../../core/errors.js';
import { runByTimerd, type HookRunContext, type LockedResult } from '../../core/hook-runner.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';
import { detectCapabilities, readConnect, readDisconnect, type NvmeCliCapabilities, type OwnerCommand } from './nvme-cli.js';
import { CLAIM_EFFECT, claimEffect } from './registry.js';
import { readNvmecontrol } from './nvmecontrol.js';
import { NVMF_STORES } from './endpoint-state.js';

export interface NvmfContext extends HookRunContext {
  readonly config: Config;
  /**
   * The installed nvme-cli's registry support for one command (default
   * `connect`): asked once per run and command (`nvme <command> --help`),
   * then cached here.
   */
  readonly nvmeCli: (command?: OwnerCommand) => Promise<NvmeCliCapabilities>;
  /**
   * The discovery addresses (keys) whose round ran in this invocation: a
   * referral to one of them is not followed again (connect-decide.ts).
   */
  readonly roundsRun: Set<string>;
}

/** The steps of nvmf plans that are not programs: recording ownership in nvme-cli's registry. */
export const NVMF_EFFECTS = { [CLAIM_EFFECT]: claimEffect } as const;

/** The programs nvmf plans run, and how the executor reads their results. */
export const NVMF_INTERPRETERS = {
  'nvme-connect': readConnect,
  'nvme-disconnect': readDisconnect,
  nvmecontrol: readNvmecontrol,
} as const;

export function nvmfContext(system: System, config: Config, reporter: Reporter, dryRun: boolean): NvmfContext {
  const capabilities = new Map<OwnerCommand, Promise<NvmeCliCapabilities>>();
  const context: NvmfContext = {
    nvmeCli: (command = 'connect') => {
      let asked = capabilities.get(command);
      if (!asked) capabilities.set(command, (asked = detectCapabilities(system, command)));
      return asked;
    },
    effects: NVMF_EFFECTS,
    system,
    config,
    reporter,
    dryRun,
    interpreters: NVMF_INTERPRETERS,
    stores: NVMF_STORES,
    staleMs: config.lockStaleMs,
    roundsRun: new Set(),
    // `locked` actions name I/O paths (connect's per-path work: paths.ts) or
    // discovery addresses (a followed referral's round: discovery-rounds.ts).
    onKey: async (key, verb, request) => {
      if (key.startsWith('nvmf-disc:')) {
        const { runOnDiscovery } = await import('./discovery-rounds.js');
        return (await runOnDiscovery(context, key, verb as 'connect', request as never, 'another hook holds this discovery address; it runs this referral\'s round next')).result;
      }
      const { runOnPath } = await import('./paths.js');
      return (await runOnPath(context, key, verb as 'attach', request as never)).result;
    },
  };
  return context;
}

export { runByTimerd } from '../../core/hook-runner.js';

/** Why a hook runs, for its log lines. */
export function triggerOf(system: System, otherwise: string): string {
  return runByTimerd(system) ? 'timer' : otherwise;
}

/**
 * The exit of a hook that ran one round under a key's lock: its failures fail
 * it (exit 1). A reconnect run by timerd whose event another holder took ends
 * "not yet" too: its result is unknown here, exit 0 would make timerd disarm,
 * and the next attempt observes what the holder did.
 */
export function exitOf(system: System, key: string, verb: string, run: LockedResult, locked: 'path' | 'controller'): void {
  if (run.queued && verb === 'reconnect' && runByTimerd(system)) throw new ActionError(`${key}: another hook holds this ${locked}'s lock; its result decides`, { key });
  if (run.result && run.result.failures.length > 0) throw new ActionError(run.result.failures.join('; '), { key, failures: run.result.failures });
}
