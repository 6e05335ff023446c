/**
 * The sanhook hooks timerd may run, and how it builds their argv.
 *
 * Contract: a client names a hook from this table and gives its options as a
 * string map; `resolveHookCall()` validates them with the hook's own parser
 * and derives the endpoint key. timerd then runs
 * `<node> <sanhook> --root R --sysfs S <hook> --opt value ...` — never a
 * command string from the socket.
 */
import { UsageError } from '../errors.js';
import { controllerKey, controllerOptions, controllerRequest } from '../hooks/controller.js';
import { ioKey, ioParamsFromOptions, ioParamsToOptions, optionsToArgv } from '../nvme/io-request.js';
import type { HookCall } from './schedule.js';

interface TimerHookSpec {
  /** Validates options; returns the canonical options and the endpoint key. */
  readonly resolve: (params: Readonly<Record<string, string>>) => { key: string; params: Record<string, string> };
  readonly role: 'reconnect' | 'loss';
}

/** An I/O path (Linux: -t -a -s -n ...), or a FreeBSD controller by name (--device nvmeX [address]). */
const nvmfIo = (params: Readonly<Record<string, string>>) => {
  if (Object.hasOwn(params, 'device')) {
    const request = controllerRequest(params, 'params.');
    return { key: controllerKey(request.device), params: controllerOptions(request) };
  }
  const io = ioParamsFromOptions(params, 'params.');
  return { key: ioKey(io), params: ioParamsToOptions(io) };
};

export const TIMER_HOOKS: Readonly<Record<string, TimerHookSpec>> = {
  reconnect: { resolve: nvmfIo, role: 'reconnect' },
  'give-up': { resolve: nvmfIo, role: 'loss' },
};

export function resolveHookCall(hook: string, params: Readonly<Record<string, string>>, role: 'reconnect' | 'loss', field: string): { key: string; call: HookCall } {
  const spec = Object.hasOwn(TIMER_HOOKS, hook) ? TIMER_HOOKS[hook] : undefined;
  if (!spec || spec.role !== role) {
    const known = Object.entries(TIMER_HOOKS).filter(([, s]) => s.role === role).map(([n]) => n);
    throw new UsageError(`${field}: unknown ${role} hook ${JSON.stringify(hook).slice(0, 80)} (known: ${known.join(', ')})`, field, hook);
  }
  const resolved = spec.resolve(params);
  return { key: resolved.key, call: { hook, params: resolved.params } };
}

export function hookArgv(call: HookCall): string[] {
  return [call.hook, ...optionsToArgv(call.params)];
}
