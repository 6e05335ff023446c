/**
 * The NVMe-oF hooks timerd may run: `reconnect` on each reconnect event and
 * `give-up` at the loss deadline, for a Linux I/O path (-t -a -s -n ...) or a
 * FreeBSD controller by name (--device nvmeX [address]); and
 * `reconnect-discovery` / `give-up-discovery` for a Linux discovery address
 * whose persistent discovery controller sanhook created (-t -a -s ...).
 *
 * Contract: `resolve()` validates a timer's stored options with the hooks'
 * own parsers (so timerd rejects at `arm` what the hook would reject when
 * run) and returns them canonical with the endpoint key.
 */
import type { TimerHookSpec } from '../../core/fabric.js';
import { controllerKey, controllerOptions, controllerRequest } from './controller.js';
import { ioKey, ioParamsFromOptions, ioParamsToOptions } from './io-request.js';
import { discoveryOptions, discoveryRequestFromOptions } from './connect-request.js';
import { GIVE_UP_DISCOVERY, RECONNECT_DISCOVERY } from './discovery-lifecycle.js';
import { endpointKey } from './keys.js';

const resolveNvmfTarget = (params: Readonly<Record<string, string>>) => {
  if (Object.hasOwn(params, 'device')) {
    const request = controllerRequest(params, 'params.');
    return { key: controllerKey(request.device), params: controllerOptions(request) };
  }
  const io = ioParamsFromOptions(params, 'params.');
  return { key: ioKey(io), params: ioParamsToOptions(io) };
};

/** A discovery address (the persistent discovery controller sanhook created there). */
const resolveDiscoveryAddress = (params: Readonly<Record<string, string>>) => {
  const request = discoveryRequestFromOptions(params, 'timer', 'params.');
  return { key: endpointKey(request.discovery), params: discoveryOptions(request) };
};

export const NVMF_TIMER_HOOKS: readonly TimerHookSpec[] = [
  { hook: 'reconnect', role: 'reconnect', resolve: resolveNvmfTarget },
  { hook: 'give-up', role: 'loss', resolve: resolveNvmfTarget },
  // FreeBSD's discovery is nvmecontrol's: sanhook keeps no discovery controller there.
  { hook: RECONNECT_DISCOVERY, role: 'reconnect', platforms: ['linux'], resolve: resolveDiscoveryAddress },
  { hook: GIVE_UP_DISCOVERY, role: 'loss', platforms: ['linux'], resolve: resolveDiscoveryAddress },
];
