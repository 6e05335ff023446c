/**
 * The `nvmf:` section of /etc/sanhook/sanhook.yaml, as NVMe-oF hooks read it.
 *
 * Contract: hooks never reach into the config object themselves; they ask
 * `nvmfSettings(config)`, which returns the validated section with defaults.
 */
import type { Config } from '../../core/config.js';

export type NvmfSettings = Config['nvmf'];

export function nvmfSettings(config: Config): NvmfSettings {
  return config.nvmf;
}
