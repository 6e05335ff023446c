/**
 * The `fcoe:` section of /etc/sanhook/sanhook.yaml, as a schema table
 * (core/config.ts). Which interfaces run FCoE, and how, stays in fcoe-utils'
 * own files (/etc/fcoe/cfg-<ifname>, read by fcoe-config.ts); this section
 * holds only what fcoemon hard-codes: where DCB answers come from and the
 * retry schedule.
 *
 * Contract: declarations only; hooks read the result with `fcoeSettings(config)`.
 */
import { mapping, settingsOf, value, type Config, type ConfigSection, type Table } from '../../core/config.js';
import { integer, oneOf, secondsAsMs } from '../../core/validate.js';
import { MAX_DELAY_MS, MIN_DELAY_MS } from '../../timerd/protocol.js';
import { GROWTHS } from '../../timerd/schedule.js';
import type { RetryPolicy } from './decide.js';
import { DCB_SOURCE_SETTINGS, type DcbSourceSetting } from './dcb/sequence.js';

export interface FcoeSettings {
  /** auto: lldpad when it runs (CEE or IEEE as it says), else the kernel's dcbnl through iproute2 `dcb`. */
  readonly dcbSource: DcbSourceSetting;
  readonly retry: RetryPolicy;
}

/** fcoemon: DCBD_REQ_RETRY_TIMEOUT 200 ms × attempt, DCBD_MAX_REQ_RETRIES 10. */
const RETRY: Table<RetryPolicy> = {
  rows: {
    delayMs: value(
      'delay',
      (raw, option) => secondsAsMs(raw, option, MIN_DELAY_MS, MAX_DELAY_MS, `must be seconds ${MIN_DELAY_MS / 1000}-${MAX_DELAY_MS / 1000}, to the millisecond`),
      200,
      'seconds between DCB checks (× attempt when linear), to the millisecond',
      '0.2',
    ),
    growth: value('growth', (raw, option) => oneOf(raw, GROWTHS, option), 'linear', `${GROWTHS.join(' or ')}: linear waits delay × attempt (fcoemon's 0.2 s × n)`),
    attempts: value('attempts', (raw, option) => integer(raw, option, 1, 1000, 'must be a count 1-1000'), 10, 'checks before fcoe-destroy, 1-1000'),
  },
};

export const FCOE_CONFIG: ConfigSection<FcoeSettings> = {
  name: 'fcoe',
  describe: 'FCoE (the interfaces themselves are /etc/fcoe/cfg-<ifname>, fcoe-utils\' format)',
  rows: {
    dcbSource: value('dcb-source', (raw, option) => oneOf(raw, DCB_SOURCE_SETTINGS, option), 'auto', `${DCB_SOURCE_SETTINGS.join(', ')}: where DCB answers come from (auto: lldpad when it runs, else the kernel's dcbnl through iproute2 dcb)`),
    retry: mapping('retry', RETRY, 'the DCB retry schedule of a DCB-required interface, then fcoe-destroy'),
  },
};

export function fcoeSettings(config: Config): FcoeSettings {
  return settingsOf(config, FCOE_CONFIG);
}
