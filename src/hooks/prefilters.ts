/**
 * Every fabric's cheap udev-event check, by verb: what cli.ts's fast path
 * runs for `sanhook <verb> --uevent` before anything else loads.
 *
 * Contract: imports nothing but each fabric's import-free prefilter module
 * (and types), so an irrelevant event loads this, those and cli.ts only
 * (bench/hook-start.mjs). It lists the same functions as the fabrics'
 * `prefilters` (src/hooks/index.ts FABRICS, in the same order); a test
 * derives this table from the registry and holds the two equal, and checks
 * that every fabric providing a listed verb with --uevent has a prefilter for
 * it (otherwise the fast path would drop its events). Adding a fabric with
 * prefilters is one line here.
 */
import type { UeventEnv, UeventPrefilter } from '../core/fabric.js';
import { FCOE_PREFILTERS } from './fcoe/prefilter.js';
import { NVMF_PREFILTERS } from './nvmf/prefilter.js';
import { SRP_PREFILTERS } from './srp/prefilter.js';

const FABRIC_PREFILTERS: readonly Readonly<Record<string, UeventPrefilter>>[] = [NVMF_PREFILTERS, FCOE_PREFILTERS, SRP_PREFILTERS];

/** verb → the prefilters of every fabric that has one for it. A null prototype: argv[0] may be any word. */
export const UEVENT_PREFILTERS: Readonly<Record<string, readonly UeventPrefilter[]>> = byVerb(FABRIC_PREFILTERS);

function byVerb(tables: readonly Readonly<Record<string, UeventPrefilter>>[]): Record<string, UeventPrefilter[]> {
  const result: Record<string, UeventPrefilter[]> = Object.create(null) as Record<string, UeventPrefilter[]>;
  for (const table of tables) {
    for (const [verb, prefilter] of Object.entries(table)) (result[verb] ??= []).push(prefilter);
  }
  return result;
}

/**
 * True when `sanhook <verb> --uevent` has nothing to do for this event: the
 * verb has prefilters and every one of them says irrelevant. A verb without
 * prefilters always runs the program.
 */
export function ueventIsIrrelevant(verb: string, env: UeventEnv): boolean {
  const prefilters = Object.hasOwn(UEVENT_PREFILTERS, verb) ? UEVENT_PREFILTERS[verb] : undefined;
  return prefilters !== undefined && prefilters.length > 0 && prefilters.every((prefilter) => !prefilter(env));
}
