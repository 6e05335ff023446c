/**
 * The fabric registry: lookups over the fabrics src/hooks/index.ts lists.
 *
 * Contract: pure functions of a fabric list (passed in, never imported here,
 * so the core names no fabric). Conflicts between fabrics (two timer hooks of
 * one name, two key kinds of one name) are programming errors, found by the
 * registry test rather than at a user's prompt.
 */
import type { CoexistTarget } from './coexist.js';
import type { Fabric, TimerHookSpec, TimerHookTable } from './fabric.js';

/** timerd's hook table: every fabric's timer hooks by name. */
export function timerHookTable(fabrics: readonly Fabric[]): TimerHookTable {
  const table = new Map<string, TimerHookSpec>();
  for (const fabric of fabrics) {
    for (const spec of fabric.timerHooks) {
      if (table.has(spec.hook)) throw new Error(`timer hook ${spec.hook} is registered twice (fabric ${fabric.name})`);
      table.set(spec.hook, spec);
    }
  }
  return table;
}

/** The fabric that owns a key, by its kind (the text before the first ':'). */
export function fabricOfKey(fabrics: readonly Fabric[], key: string): Fabric | undefined {
  const kind = key.slice(0, key.indexOf(':') < 0 ? key.length : key.indexOf(':'));
  return fabrics.find((f) => f.keyKinds.some((k) => k.kind === kind));
}

/** Every fabric's coexistence targets, in the fabric list's order (what `sanhook coexist` handles). */
export function coexistTargets(fabrics: readonly Fabric[]): readonly CoexistTarget[] {
  return fabrics.flatMap((f) => f.coexist);
}
