/**
 * The `nvmf:` section of /etc/sanhook/sanhook.yaml, as NVMe-oF hooks read it.
 *
 * Contract: hooks never reach into the config object themselves; they ask
 * `nvmfSettings(config)`, which returns the validated section with defaults
 * (its table is config.ts).
 */
import { settingsOf, type Config } from '../../core/config.js';
import { NVMF_CONFIG, type NvmfSettings } from './config.js';

export type { ExcludeRule, HandoffMode, LostPolicy, NvmfSettings } from './config.js';

export function nvmfSettings(config: Config): NvmfSettings {
  return settingsOf(config, NVMF_CONFIG);
}
