/**
 * The fabrics' commands as the program offers them: one verb per command
 * word, whatever fabrics and platforms provide it, and the choice of the one
 * provider that runs.
 *
 * Contract: pure functions of a fabric list (passed in, never imported, so
 * the core names no fabric, verb or option). Like the kernel's nvmf core,
 * which parses the options once and rejects any option the transport does
 * not allow: a verb offers the union of its providers' options, and
 * `refusedOption()` turns one the chosen provider does not list into a
 * UsageError (exit 2) that names it. Inconsistent declarations (one option
 * spelled two ways in one verb, two providers of one verb on one platform
 * without `claims`) are programming errors: `fabricVerbs()` throws, and the
 * registry test finds them rather than a user's prompt.
 */
import { UsageError } from './errors.js';
import type { CommandSpec, Fabric, GivenOptions, OptionSpec, UeventEnv, UeventPrefilter } from './fabric.js';
import { PLATFORMS, type Platform } from './platform.js';

/** How messages and --help name a platform. */
export const PLATFORM_TITLES: Readonly<Record<Platform, string>> = { linux: 'Linux', freebsd: 'FreeBSD' };

/** The option that makes a command read its event from the udev environment; the fast path keys on it. */
export const UEVENT_OPTION = 'uevent';

export interface Provider {
  readonly fabric: Fabric;
  readonly spec: CommandSpec;
}

/** One option of a verb: its spec (as the first provider declares it) and the platforms where some provider takes it. */
export interface VerbOption {
  readonly spec: OptionSpec;
  readonly platforms: readonly Platform[];
}

export interface Verb {
  readonly name: string;
  /** For --help: the providers' summaries (one per distinct text, by platform when they differ). */
  readonly summary: string;
  readonly args: NonNullable<CommandSpec['args']>;
  /** The union of the providers' options, in declaration order. */
  readonly options: readonly VerbOption[];
  readonly providers: readonly Provider[];
  /** Where some provider runs it. */
  readonly platforms: readonly Platform[];
}

const titles = (platforms: readonly Platform[]) => platforms.map((p) => PLATFORM_TITLES[p]).join(', ');

/** commander's notation of an option: `-a, --traddr <value>`, `--uevent`. */
export function optionFlags(spec: OptionSpec): string {
  return `${spec.short ? `-${spec.short}, ` : ''}--${spec.name}${spec.value ? ` <${spec.value}>` : ''}`;
}

/** What must be equal when two providers of a verb declare one option. */
const shape = (spec: OptionSpec) => JSON.stringify([optionFlags(spec), spec.hidden === true, spec.choices ?? null]);

/** Every fabric verb, in the order the fabrics declare them. Throws (a programming error) on inconsistent declarations. */
export function fabricVerbs(fabrics: readonly Fabric[]): Verb[] {
  const byName = new Map<string, Provider[]>();
  for (const fabric of fabrics) {
    for (const spec of fabric.commands) {
      const providers = byName.get(spec.verb) ?? [];
      providers.push({ fabric, spec });
      byName.set(spec.verb, providers);
    }
  }
  return [...byName].map(([name, providers]) => verbOf(name, providers));
}

function verbOf(name: string, providers: readonly Provider[]): Verb {
  const fail = (why: string) => {
    throw new Error(`verb ${name}: ${why}`);
  };
  if (!/^[a-z][a-z0-9-]*$/.test(name)) fail('a verb is lower-case letters, digits and -');
  const options = new Map<string, { spec: OptionSpec; platforms: Set<Platform> }>();
  const shorts = new Map<string, string>();
  for (const { fabric, spec } of providers) {
    if (spec.platforms.length === 0) fail(`fabric ${fabric.name} provides it on no platform`);
    const seen = new Set<string>();
    for (const option of spec.options) {
      if (!/^[a-z][a-z0-9-]*$/.test(option.name)) fail(`option name ${JSON.stringify(option.name)} is not a long option name`);
      if (seen.has(option.name)) fail(`fabric ${fabric.name} lists --${option.name} twice`);
      if (option.name === 'help' || option.short === 'h') fail(`--help and -h are commander's`);
      seen.add(option.name);
      const known = options.get(option.name);
      if (known && shape(known.spec) !== shape(option)) fail(`--${option.name} is declared as ${optionFlags(known.spec)} and as ${optionFlags(option)} (or with other choices or visibility)`);
      if (option.short) {
        const owner = shorts.get(option.short);
        if (owner !== undefined && owner !== option.name) fail(`-${option.short} stands for both --${owner} and --${option.name}`);
        shorts.set(option.short, option.name);
      }
      const entry = known ?? { spec: option, platforms: new Set<Platform>() };
      for (const platform of spec.platforms) entry.platforms.add(platform);
      options.set(option.name, entry);
    }
    for (const refused of Object.keys(spec.refuses ?? {})) {
      if (seen.has(refused)) fail(`fabric ${fabric.name} both takes and refuses --${refused}`);
    }
  }
  const args = providers[0]!.spec.args ?? [];
  for (const { fabric, spec } of providers) {
    if (JSON.stringify(spec.args ?? []) !== JSON.stringify(args)) fail(`fabric ${fabric.name} declares other positional arguments than ${providers[0]!.fabric.name}`);
  }
  for (const platform of PLATFORMS) {
    const here = providers.filter((p) => p.spec.platforms.includes(platform));
    const same = here.find((p, i) => here.findIndex((q) => q.fabric === p.fabric) !== i);
    if (same) fail(`fabric ${same.fabric.name} provides it twice on ${platform}`);
    if (here.length > 1 && here.some((p) => !p.spec.claims)) fail(`several fabrics provide it on ${platform}, so each needs claims()`);
  }
  const platforms = PLATFORMS.filter((p) => providers.some((q) => q.spec.platforms.includes(p)));
  return {
    name,
    summary: summaryOf(providers),
    args,
    options: [...options.values()].map((o) => ({ spec: o.spec, platforms: PLATFORMS.filter((p) => o.platforms.has(p)) })),
    providers,
    platforms,
  };
}

function summaryOf(providers: readonly Provider[]): string {
  const texts = new Map<string, Platform[]>();
  for (const { spec } of providers) texts.set(spec.summary, [...(texts.get(spec.summary) ?? []), ...spec.platforms]);
  if (texts.size === 1) return providers[0]!.spec.summary;
  return [...texts].map(([text, platforms]) => `${titles(platforms)}: ${text}`).join('; ');
}

/** An option's help text: its description, and where it applies when not everywhere the verb runs. */
export function optionHelp(verb: Verb, option: VerbOption): string {
  return option.platforms.length < verb.platforms.length ? `${option.spec.description} (${titles(option.platforms)} only)` : option.spec.description;
}

/**
 * The provider that runs `verb` on `platform`: the only one there, or the one
 * whose `claims` is true. A verb no fabric provides here, or options no
 * provider claims, is a UsageError.
 */
export function chooseProvider(verb: Verb, platform: Platform, options: GivenOptions, env: UeventEnv): Provider {
  const here = verb.providers.filter((p) => p.spec.platforms.includes(platform));
  if (here.length === 0) {
    const elsewhere = verb.platforms;
    throw new UsageError(`${verb.name}: ${titles(elsewhere)} only (--platform ${elsewhere[0] ?? platform} to run its logic elsewhere)`, verb.name);
  }
  if (here.length === 1) return here[0]!;
  const claimed = here.filter((p) => p.spec.claims?.(options, env) === true);
  if (claimed.length === 1) return claimed[0]!;
  if (claimed.length === 0) throw new UsageError(`${verb.name}: this is for none of ${here.map((p) => p.fabric.title).join(', ')} (see sanhook ${verb.name} --help)`, verb.name);
  throw new Error(`verb ${verb.name}: fabrics ${claimed.map((p) => p.fabric.name).join(', ')} all claim it`);
}

/**
 * The first given option (in the verb's order) that the chosen provider does
 * not take, as the UsageError to throw; undefined when all are allowed.
 */
export function refusedOption(verb: Verb, provider: Provider, options: GivenOptions): UsageError | undefined {
  const allowed = new Set(provider.spec.options.map((o) => o.name));
  const refused = verb.options.find((o) => options[o.spec.name] !== undefined && !allowed.has(o.spec.name));
  if (!refused) return undefined;
  const name = refused.spec.name;
  const takes = provider.spec.options.filter((o) => o.hidden !== true).map((o) => `--${o.name}`);
  const where = `${verb.name} on ${titles(provider.spec.platforms)}`;
  const why = provider.spec.refuses?.[name] ?? (takes.length > 0 ? `not used with ${where}, which takes ${takes.join(' ')}` : `not used with ${where}, which takes no options`);
  return new UsageError(`--${name}: ${why}`, `--${name}`);
}

/**
 * verb → the fabrics' prefilters (src/hooks/prefilters.ts must list the same).
 * Throws when the table would be incomplete: a fabric that provides a
 * prefiltered verb with --uevent but has no prefilter for it (the fast path
 * would drop its events), or a prefilter for a verb the fabric takes no
 * --uevent for.
 */
export function prefilterTable(fabrics: readonly Fabric[]): Record<string, UeventPrefilter[]> {
  const takesUevent = (fabric: Fabric, verb: string) => fabric.commands.some((c) => c.verb === verb && c.options.some((o) => o.name === UEVENT_OPTION));
  const table: Record<string, UeventPrefilter[]> = {};
  for (const fabric of fabrics) {
    for (const [verb, prefilter] of Object.entries(fabric.prefilters ?? {})) {
      if (!takesUevent(fabric, verb)) throw new Error(`fabric ${fabric.name}: a prefilter for ${verb}, which it provides with no --${UEVENT_OPTION}`);
      (table[verb] ??= []).push(prefilter);
    }
  }
  for (const verb of Object.keys(table)) {
    const missing = fabrics.find((f) => takesUevent(f, verb) && f.prefilters?.[verb] === undefined);
    if (missing) throw new Error(`fabric ${missing.name}: ${verb} --${UEVENT_OPTION} has no prefilter, while other fabrics' prefilters would let the fast path drop its events`);
  }
  return table;
}
