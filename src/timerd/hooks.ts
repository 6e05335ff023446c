/**
 * The hooks timerd may run, and how it builds their argv.
 *
 * Contract: timerd gets its hook table from the fabric registry at start
 * (core/registry.ts `timerHookTable()`, passed in by the `timerd` command);
 * it imports no hook. A client names a hook from that table and gives its
 * options as a string map; `resolveHookCall()` validates them with the hook's
 * own parser and derives the endpoint key. timerd then runs
 * `<node> <sanhook> --root R --sysfs S <hook> --opt value ...` — never a
 * command string from the socket.
 */
import { UsageError } from '../core/errors.js';
import type { TimerHookTable } from '../core/fabric.js';
import type { HookCall } from './schedule.js';

export function resolveHookCall(hooks: TimerHookTable, hook: string, params: Readonly<Record<string, string>>, role: 'reconnect' | 'loss', field: string): { key: string; call: HookCall } {
  const spec = hooks.get(hook);
  if (!spec || spec.role !== role) {
    const known = [...hooks.values()].filter((s) => s.role === role).map((s) => s.hook);
    throw new UsageError(`${field}: unknown ${role} hook ${JSON.stringify(hook).slice(0, 80)} (known: ${known.join(', ')})`, field, hook);
  }
  const resolved = spec.resolve(params);
  return { key: resolved.key, call: { hook, params: resolved.params } };
}

/** `--name value` pairs in a stable order (the order the hook's resolve() returned). */
export function hookArgv(call: HookCall): string[] {
  return [call.hook, ...Object.entries(call.params).flatMap(([name, value]) => [`--${name}`, value])];
}
