/**
 * The `nvmf:` section of /etc/sanhook/sanhook.yaml, as NVMe-oF hooks read it.
 *
 * Contract: hooks never reach into the config object themselves; they ask
 * `nvmfSettings(config)`, which returns the validated section with defaults
 * (its table is config.ts).
 */
import { settingsOf, type Config } from '../../core/config.js';
import { NVMF_CONFIG, type LostPolicy, type NvmfSettings } from './config.js';

export type { ExcludeRule, HandoffMode, LostPolicy, NvmfSettings } from './config.js';

export function nvmfSettings(config: Config): NvmfSettings {
  return settingsOf(config, NVMF_CONFIG);
}

/**
 * What the `nvmf.lost` policy asks of timerd for one lost path or controller
 * (its options as the timer hooks take them): `reconnect` every delay,
 * `give-up` at ctrl-loss. timerd reads 0 and -1 both as "never by time";
 * FreeBSD's "0 disables" reads the same.
 */
export function lostArmRequest(
  params: Readonly<Record<string, string>>,
  policy: LostPolicy,
  hooks: { readonly hook: string; readonly lossHook: string } = { hook: 'reconnect', lossHook: 'give-up' },
): Record<string, unknown> {
  return {
    op: 'arm',
    hook: hooks.hook,
    lossHook: hooks.lossHook,
    params,
    delayMs: policy.reconnectDelay * 1000,
    growth: policy.growth,
    lossMs: policy.ctrlLossTmo <= 0 ? -1 : policy.ctrlLossTmo * 1000,
    lossAttempts: policy.maxAttempts,
  };
}
