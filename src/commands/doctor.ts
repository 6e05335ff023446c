/**
 * `sanhook doctor [--prefix DIR]`: checks what a working setup needs and says
 * how to fix each miss (docs/doctor.md). Reads only; never loads, starts or
 * writes anything, so --dry-run changes nothing.
 *
 * Order: sanhook.yaml; per fabric (FABRICS, each fabric's `doctor`): its
 * kernel modules, tools and own checks; the event rule files; vendor
 * autoconnect that races sanhook; the run and state directories; timerd; the
 * systemd units' sandboxes (Linux). Observation (src/doctor/observe.ts) is
 * separate from the pure decisions (src/doctor/evaluate.ts).
 *
 * Output: one report item per check (`-o json`: one JSON object per line with
 * check, status, seen, advice), then a summary item. Exit code: 1 when any
 * check failed (ProblemsFound, core/errors.ts), 0 when all passed or only
 * warned; 2 for bad options.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, ProblemsFound } from '../core/errors.js';
import { configPath, defaultConfig, loadConfig, type Config } from '../core/config.js';
import type { CommandContext } from '../core/fabric.js';
import { packageRoot } from '../core/package.js';
import type { Platform } from '../core/platform.js';
import { createReporter } from '../core/report.js';
import type { CheckResult, Usage } from '../core/requirements.js';
import { pathExists, type System } from '../core/system.js';
import { execInvocations, parseUnit } from '../core/unit-sandbox.js';
import { directory } from '../core/validate.js';
import {
  evaluateCoexist,
  evaluateConfig,
  evaluateDir,
  evaluateModule,
  evaluateRule,
  evaluateTimerd,
  evaluateTool,
  evaluateUnit,
  summarize,
  type ConfigSeen,
} from '../doctor/evaluate.js';
import { fabricUsage, observeCoexist, observeDir, observeModule, observeRule, observeTimerd, observeTool, observeUnit, readInstallManifest } from '../doctor/observe.js';
import { ASSETS } from '../install/assets.js';
import type { CoreCommand } from './runtime.js';

/** The package directory holding each platform's event rules (install/assets.ts rows). */
const EVENT_RULES_FROM: Readonly<Record<Platform, string>> = { linux: 'rules.d', freebsd: 'devd' };

/**
 * Where a system package put a package directory's files instead (the .deb,
 * scripts/build-deb.mjs: /lib for udev and systemd, Debian 12's layout; it
 * ships no copies beside the program). Relative to the root.
 */
const PACKAGED_IN: Readonly<Record<string, readonly string[]>> = {
  'rules.d': ['lib/udev/rules.d', 'usr/lib/udev/rules.d'],
  systemd: ['lib/systemd/system', 'usr/lib/systemd/system'],
};

/**
 * A package directory's files by name, each with the path to read it at: the
 * npm package's own copy, or (a system package) the sanhook files where dpkg
 * installed them. Then "missing" cannot be seen (`dpkg -V sanhook` can), but
 * shadowing and masking still can.
 */
async function packageFiles(system: System, from: string, match: RegExp): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const own = path.join(packageRoot(), from);
  if (await pathExists(own)) {
    for (const name of (await readdir(own)).filter((n) => match.test(n)).sort()) files.set(name, path.join(own, name));
    return files;
  }
  for (const dir of PACKAGED_IN[from] ?? []) {
    const full = path.join(system.paths.root, dir);
    const names = await readdir(full).catch(() => [] as string[]);
    for (const name of names.filter((n) => match.test(n) && n.includes('sanhook')).sort()) if (!files.has(name)) files.set(name, path.join(full, name));
  }
  return files;
}

/** The rule files this package ships (what `sanhook install` puts in place). */
async function shippedRuleFiles(system: System, platform: Platform): Promise<string[]> {
  const row = ASSETS[platform].find((r) => r.from === EVENT_RULES_FROM[platform]);
  if (!row) return [];
  return [...(await packageFiles(system, row.from, row.match)).keys()];
}

/** The shipped systemd services that run sanhook (the socket and timer units run nothing themselves). */
async function shippedServices(system: System): Promise<string[]> {
  const out: string[] = [];
  for (const [name, file] of await packageFiles(system, 'systemd', /\.service$/)) if (execInvocations(parseUnit(await readFile(file, 'utf8'))).length > 0) out.push(name);
  return out;
}

async function readConfig(context: Omit<CommandContext, 'config'>, fabrics: Parameters<typeof loadConfig>[1]): Promise<{ config: Config; seen: ConfigSeen }> {
  const file = configPath(context.system);
  try {
    const config = await loadConfig(context.system, fabrics);
    return { config, seen: { file, state: (await pathExists(file)) ? 'valid' : 'absent' } };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { config: defaultConfig(file, fabrics), seen: { file, state: 'invalid', message: error.message } };
  }
}

export const doctorCommand: CoreCommand = {
  verb: 'doctor',
  register: (program, runtime) =>
    program
      .command('doctor')
      .description('check what a working setup needs (kernel modules, tools, host NQN, rules, vendor autoconnect, timerd, run/state directories, unit sandboxes) and say how to fix each miss; changes nothing')
      .option('--prefix <dir>', 'where `sanhook install` put the package-owned files and its manifest (default /usr; FreeBSD /usr/local)')
      .addHelpText(
        'after',
        `
Each check prints its status (pass, warn, fail), what it saw and, unless it
passed, one line of advice. Modules and tools are blocking only for what this
host's configuration uses (NVMe-oF's base always: its hooks run on kernel
events without configuration); others are listed as not needed.
With -o json: one JSON object per line {hook, outcome, check, status, seen,
advice}, then {hook, outcome: "summary", pass, warn, fail, failed}.

Exit status: 0 all checks passed or only warned; 1 at least one check failed
(a blocking problem); 2 bad options.`,
      )
      .action(async (options: { prefix?: string }) => {
        const globals = runtime.globals();
        const platform = globals.platform;
        const prefix = options.prefix === undefined ? (platform === 'freebsd' ? '/usr/local' : '/usr') : directory(options.prefix, '--prefix');
        const system = await runtime.system();
        const reporter = createReporter(globals.output, runtime.io.stdout);
        const base = { system, reporter, dryRun: globals.dryRun };
        const { config, seen: configSeen } = await readConfig(base, runtime.fabrics);
        const context: CommandContext = { ...base, config };
        const results: CheckResult[] = [];
        const report = (result: CheckResult) => {
          results.push(result);
          const advice = result.advice ? `; advice: ${result.advice}` : '';
          reporter.item({ hook: 'doctor', outcome: result.status, check: result.id, status: result.status, seen: result.seen, ...(result.advice ? { advice: result.advice } : {}), text: `${result.id}: ${result.seen}${advice}` });
        };

        report(evaluateConfig(configSeen));
        const usages = new Map<string, Usage>();
        for (const fabric of runtime.fabrics) {
          const doctor = fabric.doctor;
          if (!doctor) continue;
          const usage = await fabricUsage(() => doctor.usage(context), fabric.name);
          usages.set(fabric.name, usage);
          for (const need of doctor.modules.filter((m) => m.platform === platform)) report(evaluateModule(need, await observeModule(system, need), usage));
          for (const need of doctor.tools.filter((t) => t.platform === platform)) report(evaluateTool(need, await observeTool(system, need), usage));
          for (const result of (await doctor.checks?.(context, usage)) ?? []) report(result);
        }

        const manifest = await readInstallManifest(system, prefix);
        for (const file of await shippedRuleFiles(system, platform)) report(evaluateRule(await observeRule(system, file, manifest)));
        // udev rules and systemd units: nothing of the kind on FreeBSD
        for (const fabric of platform === 'linux' ? runtime.fabrics : []) {
          for (const seen of await observeCoexist(system, fabric, usages.get(fabric.name) ?? new Map())) report(evaluateCoexist(seen));
        }
        const runnerUid = process.getuid?.() ?? 0;
        report(evaluateDir(await observeDir('run', system.paths.run, 'locks, pending events, the timerd socket', runnerUid)));
        report(evaluateDir(await observeDir('state', system.paths.state, 'the timer table and endpoint records', runnerUid)));
        report(evaluateTimerd(await observeTimerd(system), platform));
        if (platform === 'linux') for (const unit of await shippedServices(system)) report(evaluateUnit(await observeUnit(system, unit, runtime.fabrics)));

        const summary = summarize(results);
        reporter.item({ hook: 'doctor', outcome: 'summary', ...summary, text: `${summary.pass} passed, ${summary.warn} warning(s), ${summary.fail} failed` });
        if (summary.fail > 0) throw new ProblemsFound(`doctor: ${summary.fail} blocking problem(s): ${summary.failed.join(', ')}`, { failed: summary.failed });
      }),
};
