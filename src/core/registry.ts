/**
 * The fabric registry: lookups over the fabrics src/hooks/index.ts lists.
 *
 * Contract: pure functions of a fabric list (passed in, never imported here,
 * so the core names no fabric). Conflicts between fabrics (two timer hooks of
 * one name, two key kinds of one name) are programming errors, found by the
 * registry test rather than at a user's prompt.
 */
import { maskLocation, type CoexistTarget } from './coexist.js';
import type { Platform } from './platform.js';
import type { Fabric, TimerHookSpec, TimerHookTable } from './fabric.js';
import { COMMAND_WRITES, LOCATIONS, type Location } from './fs-errors.js';

/** timerd's hook table: every fabric's timer hooks by name. */
export function timerHookTable(fabrics: readonly Fabric[], platform?: Platform): TimerHookTable {
  const table = new Map<string, TimerHookSpec>();
  for (const fabric of fabrics) {
    for (const spec of fabric.timerHooks) {
      if (platform && spec.platforms && !spec.platforms.includes(platform)) continue;
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

/** Every place sanhook writes by name: the core's, then each fabric's. A name used twice is a bug. */
export function locations(fabrics: readonly Fabric[]): ReadonlyMap<string, Location> {
  const all = new Map<string, Location>(Object.entries(LOCATIONS));
  for (const fabric of fabrics) {
    for (const [name, location] of Object.entries(fabric.locations)) {
      if (all.has(name)) throw new Error(`location ${name} is registered twice (fabric ${fabric.name})`);
      all.set(name, location);
    }
  }
  return all;
}

/** Every fabric's coexistence targets, in the fabric list's order (what `sanhook coexist` handles). */
export function coexistTargets(fabrics: readonly Fabric[]): readonly CoexistTarget[] {
  return fabrics.flatMap((f) => f.coexist);
}

/**
 * What each command writes on Linux: the core's commands, every fabric's
 * (a verb two fabrics provide writes what either writes), and for `coexist`
 * the mask directory of every coexistence target.
 */
export function commandWrites(fabrics: readonly Fabric[]): ReadonlyMap<string, readonly Location[]> {
  const all = new Map<string, Location[]>();
  const add = (command: string, writes: readonly Location[]) => {
    const list = all.get(command) ?? [];
    for (const location of writes) if (!list.includes(location)) list.push(location);
    all.set(command, list);
  };
  for (const [command, writes] of Object.entries(COMMAND_WRITES)) add(command, writes);
  for (const fabric of fabrics) for (const [command, writes] of Object.entries(fabric.commandWrites)) add(command, writes);
  add('coexist', coexistTargets(fabrics).map(maskLocation));
  return all;
}
