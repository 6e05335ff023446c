/**
 * What an NVMe-oF hook runs with: the executor's context (System, reporter,
 * dry-run, nvmf's result interpreters), the lock's stale bound and the
 * validated config.
 */
import type { Config } from '../../core/config.js';
import type { HookRunContext } from '../../core/hook-runner.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';
import { readConnect, readDisconnect } from './nvme-cli.js';
import { readNvmecontrol } from './nvmecontrol.js';
import { NVMF_STORES } from './endpoint-state.js';

export interface NvmfContext extends HookRunContext {
  readonly config: Config;
}

/** The programs nvmf plans run, and how the executor reads their results. */
export const NVMF_INTERPRETERS = {
  'nvme-connect': readConnect,
  'nvme-disconnect': readDisconnect,
  nvmecontrol: readNvmecontrol,
} as const;

export function nvmfContext(system: System, config: Config, reporter: Reporter, dryRun: boolean): NvmfContext {
  const context: NvmfContext = {
    system,
    config,
    reporter,
    dryRun,
    interpreters: NVMF_INTERPRETERS,
    stores: NVMF_STORES,
    staleMs: config.lockStaleMs,
    // `locked` actions name I/O paths (connect's per-path work): their lock and rounds are paths.ts.
    onKey: async (key, verb, request) => {
      const { runOnPath } = await import('./paths.js');
      return (await runOnPath(context, key, verb as 'attach', request as never)).result;
    },
  };
  return context;
}

/** Why a hook runs, for its log lines: timerd sets SANHOOK_TIMER_ID in every hook it starts. */
export function triggerOf(system: System, otherwise: string): string {
  return system.env.SANHOOK_TIMER_ID !== undefined ? 'timer' : otherwise;
}
