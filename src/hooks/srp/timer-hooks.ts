/**
 * The SRP hooks timerd may run: `srp-reconnect --srp-host H --target LINE`
 * on each re-add attempt and `srp-erase --srp-host H --target LINE` at
 * give-up. The line is the target's full add_target identity.
 *
 * Contract: `resolve()` validates a timer's stored options with the hooks'
 * own parser (identity.ts) and returns them canonical, with the key.
 */
import { UsageError } from '../../core/errors.js';
import type { TimerHookSpec } from '../../core/fabric.js';
import { addTargetLine, parseTargetLine, srpHostDir, srpHostName } from './identity.js';
import { targetKey } from './keys.js';

function resolveTarget(params: Readonly<Record<string, string>>) {
  const unknown = Object.keys(params).filter((name) => name !== 'srp-host' && name !== 'target');
  if (unknown.length > 0) throw new UsageError(`params.${unknown[0]}: unknown option (SRP timers take srp-host and target)`, `params.${unknown[0]}`);
  if (params['srp-host'] === undefined) throw new UsageError('params.srp-host: missing: the local IB port (srp-<ibdev>-<port>)', 'params.srp-host');
  if (params.target === undefined) throw new UsageError('params.target: missing: the add_target line', 'params.target');
  const target = parseTargetLine(srpHostName(params['srp-host'], 'params.srp-host'), params.target, 'params.target');
  return { key: targetKey(target), params: { 'srp-host': srpHostDir(target.host), target: addTargetLine(target) } };
}

export const SRP_TIMER_HOOKS: readonly TimerHookSpec[] = [
  { hook: 'srp-reconnect', role: 'reconnect', resolve: resolveTarget },
  { hook: 'srp-erase', role: 'loss', resolve: resolveTarget },
];
