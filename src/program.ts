/**
 * The commander program behind `main()`: global options and subcommands.
 *
 * Contract: options are validated here, once, by the validators in
 * validate.ts (or commander's own checks, mapped to exit 2); subcommands get
 * a ready System, Config and Reporter. Throws typed errors; returns 0 on success.
 */
import { Command, CommanderError, Option } from 'commander';
import path from 'node:path';
import { loadConfig } from './config.js';
import { ExitCode, UsageError } from './errors.js';
import { runConnect } from './hooks/connect.js';
import { createLogger, LOG_LEVELS, type LogLevel } from './log.js';
import { NVMF_OPTIONS, TRIGGERS, type RawOptions, type Trigger } from './nvme/connect-request.js';
import { createReporter, OUTPUT_FORMATS, type OutputFormat } from './report.js';
import { realClock, realExec, resolvePaths, type System } from './system.js';
import { showValue } from './validate.js';
import type { MainIo } from './cli.js';

interface GlobalOptions {
  root: string;
  sysfs: string;
  dryRun?: boolean;
  logLevel: string;
  output: string;
}

function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${option}: must be one of ${allowed.join(', ')}, got ${showValue(value)}`, option, value);
}

function directory(option: string, value: string): string {
  if (value === '' || value.includes('\0')) throw new UsageError(`${option}: must be a directory path, got ${showValue(value)}`, option, value);
  return path.resolve(value);
}

async function buildSystem(globals: GlobalOptions, io: MainIo): Promise<{ system: System; output: OutputFormat; dryRun: boolean }> {
  const logLevel = oneOf<LogLevel>('--log-level', globals.logLevel, LOG_LEVELS);
  const output = oneOf<OutputFormat>('--output', globals.output, OUTPUT_FORMATS);
  const paths = resolvePaths(directory('--root', globals.root), directory('--sysfs', globals.sysfs));
  const log = await createLogger(logLevel);
  return { system: { exec: realExec, paths, clock: realClock, env: io.env, log, selfArgv: io.selfArgv }, output, dryRun: globals.dryRun === true };
}

export async function runProgram(argv: readonly string[], io: MainIo): Promise<number> {
  const program = new Command('sanhook')
    .description('Keeps NVMe-oF, FCoE and SRP connections alive: short-lived hotplug hooks and a tiny timer daemon.')
    .option('--root <dir>', 'prefix for /etc, /run and /var/lib', '/')
    .option('--sysfs <dir>', 'sysfs mount point', '/sys')
    .option('--dry-run', 'observe and print the plan; change nothing')
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(LOG_LEVELS).default('info'))
    .addOption(new Option('-o, --output <format>', 'report format on stdout').choices(OUTPUT_FORMATS).default('text'))
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} })
    .showHelpAfterError(false);

  const connect = program
    .command('connect')
    .description('discover an NVMe-oF discovery controller and connect every subsystem it lists that is not connected yet')
    .option('--all', 'every discovery controller in /etc/nvme/discovery.conf (boot)')
    .option('--uevent', 'read the event from the udev environment (used by the shipped rules)')
    .addOption(new Option('--trigger <trigger>', 'why this runs (set by hand-offs)').choices(TRIGGERS).hideHelp());
  for (const [name, spec] of Object.entries(NVMF_OPTIONS)) {
    const flags = spec.type === 'boolean' ? `-${spec.short}, --${name}` : `-${spec.short}, --${name} <value>`;
    connect.option(flags, spec.description);
  }
  connect.action(async (options: Record<string, unknown>) => {
    const { system, output, dryRun } = await buildSystem(program.opts<GlobalOptions>(), io);
    const raw: RawOptions = {};
    for (const name of Object.keys(NVMF_OPTIONS) as (keyof typeof NVMF_OPTIONS)[]) {
      const camel = name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
      const value = options[camel];
      if (typeof value === 'string' || typeof value === 'boolean') raw[name] = value;
    }
    const all = options.all === true;
    const uevent = options.uevent === true;
    if (all && uevent) throw new UsageError('--all and --uevent cannot be combined', '--all');
    if ((all || uevent) && Object.keys(raw).length > 0) {
      throw new UsageError(`--${Object.keys(raw)[0]} cannot be combined with ${all ? '--all' : '--uevent'}`, `--${Object.keys(raw)[0]}`);
    }
    const config = await loadConfig(system);
    await runConnect(system, config, { raw, all, uevent, dryRun, ...(options.trigger ? { trigger: options.trigger as Trigger } : {}) }, createReporter(output, io.stdout));
  });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return ExitCode.ok;
      throw new UsageError(error.message.replace(/^error: /, ''), undefined, undefined, { cause: error });
    }
    throw error;
  }
  return ExitCode.ok;
}
