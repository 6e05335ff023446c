/**
 * The FCoE hooks timerd may run: `dcb-check --ifname IF` on each retry and
 * `fcoe-destroy --ifname IF` after the last one.
 *
 * Contract: `resolve()` validates a timer's stored options with the hooks'
 * own validator and returns them canonical, with the key.
 */
import { UsageError } from '../../core/errors.js';
import type { TimerHookSpec } from '../../core/fabric.js';
import { fcoeKey } from './keys.js';
import { ifname } from './validate.js';

function resolveInterface(params: Readonly<Record<string, string>>) {
  const unknown = Object.keys(params).filter((name) => name !== 'ifname');
  if (unknown.length > 0) throw new UsageError(`params.${unknown[0]}: unknown option (FCoE timers take ifname only)`, `params.${unknown[0]}`);
  if (params.ifname === undefined) throw new UsageError('params.ifname: missing: the FCoE interface', 'params.ifname');
  const name = ifname(params.ifname, 'params.ifname');
  return { key: fcoeKey(name), params: { ifname: name } };
}

export const FCOE_TIMER_HOOKS: readonly TimerHookSpec[] = [
  { hook: 'dcb-check', role: 'reconnect', resolve: resolveInterface },
  { hook: 'fcoe-destroy', role: 'loss', resolve: resolveInterface },
];
