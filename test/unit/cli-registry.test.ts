/**
 * The program's dispatch through the fabric registry (core/verbs.ts,
 * program.ts): which verb runs where, that no option a provider does not take
 * gets through, that the platform (and claims) pick the provider, and that
 * --help shows it all. main() runs in-process, on a temp root.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main, type MainIo } from '../../src/cli.js';
import { CORE_COMMANDS } from '../../src/commands/index.js';
import { stopSignal } from '../../src/commands/timerd.js';
import { UsageError } from '../../src/core/errors.js';
import type { CommandSpec, Fabric, OptionSpec } from '../../src/core/fabric.js';
import { PLATFORMS, type Platform } from '../../src/core/platform.js';
import { chooseProvider, fabricVerbs, optionFlags, prefilterTable, refusedOption, type Verb } from '../../src/core/verbs.js';
import { FABRICS } from '../../src/hooks/index.js';
import { buildProgram } from '../../src/program.js';

const VERBS = fabricVerbs(FABRICS);
const verb = (name: string): Verb => VERBS.find((v) => v.name === name)!;

function io(env: Record<string, string> = {}): MainIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { env, stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), selfArgv: ['/usr/bin/node', '/usr/bin/sanhook'], platform: 'linux', out, err };
}

/** main() on a fresh temp root, quiet logs, JSON report. */
async function run(platform: Platform, args: string[], env: Record<string, string> = {}) {
  const root = mkdtempSync(path.join(tmpdir(), 'sanhook-cli-'));
  const streams = io(env);
  const code = await main(['--platform', platform, '--root', root, '--sysfs', path.join(root, 'sys'), '--log-level', 'silent', '-o', 'json', ...args], streams);
  return { code, stdout: streams.out.join(''), stderr: streams.err.join(''), items: streams.out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** A value each option accepts syntactically (the refusal comes before any validation). */
const valueFor = (option: OptionSpec) => (option.value === undefined ? [] : [option.choices?.[0] ?? 'x']);

describe('every fabric verb and where it runs', () => {
  it('the verbs and their platforms', () => {
    expect(Object.fromEntries(VERBS.map((v) => [v.name, v.platforms]))).toEqual({
      connect: ['linux', 'freebsd'],
      lost: ['linux', 'freebsd'],
      reconnect: ['linux', 'freebsd'],
      'give-up': ['linux', 'freebsd'],
      'reconnect-discovery': ['linux'],
      'give-up-discovery': ['linux'],
      devd: ['freebsd'],
      connected: ['linux'],
      disconnect: ['linux', 'freebsd'],
      'dcb-check': ['linux'],
      'fcoe-destroy': ['linux'],
      'srp-setup': ['linux'],
      'srp-reconnect': ['linux'],
      'srp-erase': ['linux'],
      'srp-disconnect': ['linux'],
      'srp-add': ['linux'],
    });
  });

  it('timerd can run every hook of the registry on each platform the fabric serves it', () => {
    for (const fabric of FABRICS) {
      const serves = PLATFORMS.filter((platform) => fabric.commands.some((command) => command.platforms.includes(platform)));
      expect(serves.length, fabric.name).toBeGreaterThan(0);
      for (const hook of fabric.timerHooks) {
        for (const platform of hook.platforms ?? serves) expect(verb(hook.hook).platforms, `${hook.hook} on ${platform}`).toContain(platform);
      }
    }
    // NVMe-oF serves both platforms; FCoE only Linux
    expect(PLATFORMS.filter((p) => FABRICS.find((f) => f.name === 'fcoe')!.commands.some((c) => c.platforms.includes(p)))).toEqual(['linux']);
  });

  it("no fabric option shadows a global option (commander reads those after the verb too)", () => {
    const globals = buildProgram(io()).options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined));
    expect(globals).toContain('--root');
    for (const v of VERBS) {
      for (const o of v.options) expect(globals, `${v.name} ${optionFlags(o.spec)}`).not.toContain(`--${o.spec.name}`);
      for (const o of v.options) if (o.spec.short) expect(globals, `${v.name} ${optionFlags(o.spec)}`).not.toContain(`-${o.spec.short}`);
    }
  });

  it('no core verb is also a fabric verb', () => {
    const core = CORE_COMMANDS.map((c) => c.verb);
    expect(VERBS.filter((v) => core.includes(v.name))).toEqual([]);
    expect(() => buildProgram(io())).not.toThrow();
  });

  it.each(VERBS.flatMap((v) => PLATFORMS.filter((p) => !v.platforms.includes(p)).map((p) => [v.name, p] as const)))('%s on %s: exit 2, naming where it runs', async (name, platform) => {
    const result = await run(platform, [name]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^sanhook: ${name}: (Linux|FreeBSD) only \\(--platform (linux|freebsd) to run its logic elsewhere\\)\\n$`));
  });
});

describe('no option a provider does not take gets through (the allowed-options mask)', () => {
  const cases = VERBS.flatMap((v) =>
    v.providers.flatMap((p) =>
      p.spec.platforms.flatMap((platform) =>
        v.options.filter((o) => !p.spec.options.some((taken) => taken.name === o.spec.name)).map((o) => [v.name, platform, o.spec.name, o.spec] as const),
      ),
    ),
  );

  it('there are such options (Linux paths vs FreeBSD controllers)', () => expect(cases.length).toBeGreaterThan(10));

  // Each provider's own mask (SRP's `lost` refuses NVMe-oF's path options, whichever claims a given call).
  const providerCases = VERBS.flatMap((v) =>
    v.providers.flatMap((p, index) =>
      p.spec.platforms.flatMap((platform) =>
        v.options.filter((o) => !p.spec.options.some((taken) => taken.name === o.spec.name)).map((o) => [v.name, platform, o.spec.name, index] as const),
      ),
    ),
  );
  // Through the program only where the options alone pick that provider (a udev event's environment picks SRP's `lost`).
  const programCases = cases.filter(([name, platform, option]) => {
    const v = verb(name);
    const chosen = chooseProvider(v, platform, { [option]: true }, {});
    return v.options.some((o) => o.spec.name === option) && !chosen.spec.options.some((taken) => taken.name === option);
  });

  it.each(providerCases)('%s on %s refuses --%s (provider %i)', (name, platform, option, index) => {
    const v = verb(name);
    const provider = v.providers[index]!;
    expect(provider.spec.platforms).toContain(platform);
    const error = refusedOption(v, provider, { [option]: true });
    expect(error).toBeInstanceOf(UsageError);
    expect(error!.message.startsWith(`--${option}: `)).toBe(true);
    expect(error!.option).toBe(`--${option}`);
  });

  it.each(programCases)('%s on %s: --%s through the program is exit 2, one line naming it, nothing run', async (name, platform, option, spec) => {
    const result = await run(platform, [name, `--${option}`, ...valueFor(spec)]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.startsWith(`sanhook: --${option}: `)).toBe(true);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('the words that matter are kept: --device on Linux, the path options and --uevent on FreeBSD', async () => {
    expect((await run('linux', ['reconnect', '--device', 'nvme0'])).stderr).toBe(
      'sanhook: --device: reconnect --device is for FreeBSD, which keeps a disconnected controller; Linux deletes it, so name the path with -t -a -s -n\n',
    );
    expect((await run('freebsd', ['reconnect', '--device', 'nvme0', '-t', 'tcp'])).stderr).toBe("sanhook: --transport: not used with --device on FreeBSD (the kernel keeps the controller's parameters)\n");
    expect((await run('freebsd', ['lost', '--uevent'])).stderr).toBe('sanhook: --uevent: there are no udev events on FreeBSD; give --device nvmeX\n');
    expect((await run('freebsd', ['disconnect', '--nqn', 'nqn.2026-11.io.sanhook:subsys1'])).stderr).toBe('sanhook: --nqn: on FreeBSD, disconnect takes --device nvmeX only\n');
  });

  it('every allowed option of every provider is accepted by its verb (no option lost in the union)', () => {
    for (const v of VERBS) {
      for (const p of v.providers) {
        for (const option of p.spec.options) expect(refusedOption(v, p, { [option.name]: true }), `${v.name} ${option.name}`).toBeUndefined();
      }
    }
  });

  it('an option no provider declares is refused by commander (exit 2)', async () => {
    for (const v of VERBS) {
      const result = await run(v.platforms[0]!, [v.name, '--bogus']);
      expect(result.code, v.name).toBe(2);
      expect(result.stderr, v.name).toBe("sanhook: unknown option '--bogus'\n");
    }
  });
});

describe('dispatch by platform', () => {
  it('lost --device under --platform freebsd runs the FreeBSD provider (controller key)', async () => {
    const result = await run('freebsd', ['--dry-run', 'lost', '--device', 'nvme0']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.items).toEqual([expect.objectContaining({ hook: 'lost', key: 'nvmf-ctrl:nvme0', outcome: 'would-arm' })]);
  });

  it('give-up with the path options on Linux runs the Linux provider (I/O path key)', async () => {
    const result = await run('linux', ['give-up', '-t', 'tcp', '-a', '10.0.0.5', '-n', 'nqn.2026-11.io.sanhook:subsys1']);
    expect(result.code).toBe(0);
    expect(result.items).toEqual([expect.objectContaining({ hook: 'give-up', key: 'nvmf:tcp:10.0.0.5:4420:nqn.2026-11.io.sanhook:subsys1:none:none', outcome: 'given-up' })]);
  });

  it('lost --device with an address under --platform freebsd arms a controller (dry run)', async () => {
    const result = await run('freebsd', ['--dry-run', 'lost', '--device', 'nvme0', '-a', '10.0.0.5', '-s', '4420']);
    expect(result.code).toBe(0);
    expect(result.items).toEqual([expect.objectContaining({ hook: 'lost', key: 'nvmf-ctrl:nvme0', outcome: 'would-arm' })]);
  });

  it('devd on FreeBSD reads its line from the argument', async () => {
    const result = await run('freebsd', ['devd', '!system=IFNET subsystem=em0 type=LINK_UP']);
    expect(result.code).toBe(0);
    expect(result.items).toEqual([expect.objectContaining({ hook: 'devd', outcome: 'ignored' })]);
  });

  it('the host platform is the default', async () => {
    const streams = { ...io(), platform: 'freebsd' };
    const root = mkdtempSync(path.join(tmpdir(), 'sanhook-cli-'));
    expect(await main(['--root', root, '--sysfs', root, 'reconnect', '-t', 'tcp'], streams)).toBe(2);
    expect(streams.err.join('')).toBe("sanhook: --transport: not used with --device on FreeBSD (the kernel keeps the controller's parameters)\n");
  });
});

describe('two fabrics on one verb: claims', () => {
  const option = (name: string): OptionSpec => ({ name, description: name });
  const spec = (fabric: string, extra: Partial<CommandSpec> = {}): CommandSpec => ({
    verb: 'lost',
    platforms: ['linux'],
    summary: `${fabric} lost`,
    options: [option('uevent'), option(fabric)],
    claims: (options, env) => options[fabric] === true || env.SUBSYSTEM === fabric,
    run: async () => {},
    ...extra,
  });
  // A real fabric's other declarations (whatever Fabric requires) with one command of its own.
  const fabric = (name: string, extra: Partial<CommandSpec> = {}): Fabric => ({ ...FABRICS[0]!, name, title: name.toUpperCase(), commands: [spec(name, extra)], prefilters: {} });

  it('the one whose claims is true runs', () => {
    const [lost] = fabricVerbs([fabric('nvmf'), fabric('srp')]);
    expect(lost!.options.map((o) => o.spec.name)).toEqual(['uevent', 'nvmf', 'srp']);
    expect(lost!.summary).toBe('Linux: nvmf lost; Linux: srp lost');
    expect(chooseProvider(lost!, 'linux', { uevent: true }, { SUBSYSTEM: 'srp' }).fabric.name).toBe('srp');
    expect(chooseProvider(lost!, 'linux', { nvmf: true }, {}).fabric.name).toBe('nvmf');
    expect(() => chooseProvider(lost!, 'linux', {}, {})).toThrow(UsageError);
    expect(() => chooseProvider(lost!, 'linux', {}, {})).toThrow('lost: this is for none of NVMF, SRP');
    expect(() => chooseProvider(lost!, 'linux', { nvmf: true, srp: true }, {})).toThrow('all claim it');
    // and the claimed provider still refuses the other's options, naming what it takes
    const nvmf = chooseProvider(lost!, 'linux', { nvmf: true }, {});
    expect(refusedOption(lost!, nvmf, { nvmf: true, srp: true })?.message).toBe('--srp: not used with lost on Linux, which takes --uevent --nvmf');
  });

  it('several providers on one platform need claims', () => {
    expect(() => fabricVerbs([fabric('nvmf'), fabric('srp', { claims: undefined })])).toThrow('each needs claims()');
  });

  it('one option spelled two ways in one verb is a programming error', () => {
    expect(() => fabricVerbs([fabric('nvmf', { options: [{ name: 'device', short: 'd', value: 'x', description: '' }] }), fabric('srp', { options: [{ name: 'device', value: 'x', description: '' }] })])).toThrow(
      '--device is declared as -d, --device <x> and as --device <x>',
    );
    expect(() => fabricVerbs([fabric('nvmf', { options: [{ name: 'a', short: 'x', description: '' }, { name: 'b', short: 'x', description: '' }] })])).toThrow('-x stands for both --a and --b');
    expect(() => fabricVerbs([fabric('nvmf', { refuses: { nvmf: 'no' } })])).toThrow('both takes and refuses --nvmf');
  });

  it('the prefilter table must be complete: a fabric taking --uevent on a prefiltered verb needs one', () => {
    const withPrefilter: Fabric = { ...fabric('nvmf'), prefilters: { lost: () => false } };
    expect(() => prefilterTable([withPrefilter, fabric('srp')])).toThrow('fabric srp: lost --uevent has no prefilter');
    expect(Object.keys(prefilterTable([withPrefilter, { ...fabric('srp'), prefilters: { lost: () => true } }]))).toEqual(['lost']);
    expect(() => prefilterTable([{ ...withPrefilter, prefilters: { connect: () => false } }])).toThrow('a prefilter for connect');
  });

  it('flags are commander notation', () => {
    expect(optionFlags({ name: 'traddr', short: 'a', value: 'value', description: '' })).toBe('-a, --traddr <value>');
    expect(optionFlags({ name: 'uevent', description: '' })).toBe('--uevent');
  });
});

describe('--help', () => {
  const program = buildProgram(io());
  const help = program.helpInformation();

  it('lists every verb with its summary', () => {
    for (const v of VERBS) expect(help.replace(/\s+/g, ' ')).toContain(`${v.name}`);
    for (const v of VERBS) expect(help.replace(/\s+/g, ' ')).toContain(v.summary.replace(/\s+/g, ' ').slice(0, 40));
    for (const core of CORE_COMMANDS) expect(help).toMatch(new RegExp(`^  ${core.verb}\\b`, 'm'));
  });

  it.each(VERBS.map((v) => [v.name, v] as const))('sanhook %s --help lists its options (not the hidden ones)', (name, v) => {
    const sub = program.commands.find((c) => c.name() === name)!.helpInformation();
    for (const option of v.options) {
      if (option.spec.hidden) expect(sub).not.toContain(`--${option.spec.name}`);
      else expect(sub).toContain(optionFlags(option.spec));
    }
  });

  it('sanhook --help exits 0 and prints to stdout', async () => {
    const streams = io();
    expect(await main(['--help'], streams)).toBe(0);
    expect(streams.out.join('')).toContain('Commands:');
    expect(streams.err).toEqual([]);
  });
});

describe("timerd's stop signal", () => {
  it('resolves with the first SIGTERM or SIGINT, keeps listening (`on`, for signal-exit) until disposed', async () => {
    const source = new EventEmitter();
    const { stopped, dispose } = stopSignal(source);
    expect(source.listenerCount('SIGTERM')).toBe(1);
    expect(source.listenerCount('SIGINT')).toBe(1);
    source.emit('SIGINT');
    source.emit('SIGTERM');
    expect(await stopped).toBe('SIGINT');
    expect(source.listenerCount('SIGTERM')).toBe(1);
    dispose();
    expect(source.listenerCount('SIGTERM')).toBe(0);
    expect(source.listenerCount('SIGINT')).toBe(0);
  });
});
