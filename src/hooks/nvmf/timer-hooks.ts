/**
 * The NVMe-oF hooks timerd may run: `reconnect` on each reconnect event and
 * `give-up` at the loss deadline, for a Linux I/O path (-t -a -s -n ...) or a
 * FreeBSD controller by name (--device nvmeX [address]).
 *
 * Contract: `resolve()` validates a timer's stored options with the hooks'
 * own parsers (so timerd rejects at `arm` what the hook would reject when
 * run) and returns them canonical with the endpoint key.
 */
import type { TimerHookSpec } from '../../core/fabric.js';
import { controllerKey, controllerOptions, controllerRequest } from './controller.js';
import { ioKey, ioParamsFromOptions, ioParamsToOptions } from './io-request.js';

const resolveNvmfTarget = (params: Readonly<Record<string, string>>) => {
  if (Object.hasOwn(params, 'device')) {
    const request = controllerRequest(params, 'params.');
    return { key: controllerKey(request.device), params: controllerOptions(request) };
  }
  const io = ioParamsFromOptions(params, 'params.');
  return { key: ioKey(io), params: ioParamsToOptions(io) };
};

export const NVMF_TIMER_HOOKS: readonly TimerHookSpec[] = [
  { hook: 'reconnect', role: 'reconnect', resolve: resolveNvmfTarget },
  { hook: 'give-up', role: 'loss', resolve: resolveNvmfTarget },
];
