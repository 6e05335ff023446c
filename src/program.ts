/**
 * The commander program behind `main()`: global options, the core's verbs
 * (src/commands/) and one subcommand per fabric verb (the registry:
 * src/hooks/index.ts FABRICS through core/verbs.ts).
 *
 * Contract: global options are validated once, by the validators of
 * validate.ts (or commander's own checks, mapped to exit 2). A fabric verb
 * offers the union of its providers' options; its action picks the provider
 * for the platform (and by `claims`), refuses the options that provider does
 * not take (exit 2, naming the option), and runs it with a ready System,
 * Config and Reporter. The program names no fabric, verb or option of one.
 * Throws typed errors; returns 0 on success.
 */
import { Command, CommanderError, Option } from 'commander';
import { CORE_COMMANDS } from './commands/index.js';
import type { Globals, ProgramSystem, Runtime } from './commands/runtime.js';
import { loadConfig } from './core/config.js';
import { packageVersion } from './core/package.js';
import { ExitCode, UsageError } from './core/errors.js';
import type { CommandContext, Fabric, GivenOptions } from './core/fabric.js';
import { createLogger, LOG_FORMATS, LOG_LEVELS, resolveLogFormat, type LogFormat, type LogLevel } from './core/log.js';
import { PLATFORMS, platformOf, type Platform } from './core/platform.js';
import { createReporter, OUTPUT_FORMATS, type OutputFormat } from './core/report.js';
import { realClock, realExec, resolvePaths } from './core/system.js';
import { directory, oneOf } from './core/validate.js';
import { chooseProvider, fabricVerbs, optionFlags, optionHelp, refusedOption, type Verb } from './core/verbs.js';
import { FABRICS } from './hooks/index.js';
import { exitStatusHelp } from './man/exit-status.js';
import { createTimerdClient, socketPathFor } from './timerd/client.js';
import type { MainIo } from './cli.js';

/** The global options as commander parsed them (strings). */
interface GlobalWords {
  platform?: string;
  root: string;
  sysfs: string;
  dryRun?: boolean;
  logLevel: string;
  logFormat: string;
  output: string;
}

/** Validates the global options, in the order a user reads them in an error. */
export function validateGlobals(words: GlobalWords, io: Pick<MainIo, 'platform'>): Globals {
  const logLevel = oneOf<LogLevel>(words.logLevel, LOG_LEVELS, '--log-level');
  const logFormat = oneOf<LogFormat>(words.logFormat, LOG_FORMATS, '--log-format');
  const output = oneOf<OutputFormat>(words.output, OUTPUT_FORMATS, '--output');
  const platform = words.platform === undefined ? platformOf(io.platform ?? 'linux') : oneOf<Platform>(words.platform, PLATFORMS, '--platform');
  return { platform, root: directory(words.root, '--root'), sysfs: directory(words.sysfs, '--sysfs'), dryRun: words.dryRun === true, logLevel, logFormat, output };
}

/** The program, ready to parse: every core verb and every verb of `fabrics`. */
export function buildProgram(io: MainIo, fabrics: readonly Fabric[] = FABRICS): Command {
  const program = new Command('sanhook')
    .description('Keeps NVMe-oF, FCoE and SRP connections alive: short-lived hotplug hooks and a tiny timer daemon.')
    .option('--root <dir>', 'prefix for /etc, /run and /var/lib', '/')
    .option('--sysfs <dir>', 'sysfs mount point', '/sys')
    .addOption(new Option('--platform <platform>', 'linux (udev, nvme-cli) or freebsd (devd, nvmecontrol); default: this host').choices(PLATFORMS))
    .option('--dry-run', 'observe and print the plan; change nothing')
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(LOG_LEVELS).default('info'))
    // Checked by oneOf() in validateGlobals, not .choices(): one line in the validators' words.
    .option('--log-format <format>', `log format on stderr: ${LOG_FORMATS.join(', ')} (auto: journal when stderr is the journal, else json)`, 'auto')
    .addOption(new Option('-o, --output <format>', 'report format on stdout').choices(OUTPUT_FORMATS).default('text'))
    // read only when asked: a hook's start never opens package.json
    .option('--version', 'print the version')
    .on('option:version', () => {
      io.stdout(`${packageVersion()}\n`);
      throw new CommanderError(0, 'commander.version', packageVersion());
    })
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} })
    .showHelpAfterError(false)
    .addHelpText('after', `\n${exitStatusHelp()}`);
  const runtime = createRuntime(program, io, fabrics);
  for (const verb of fabricVerbs(fabrics)) addFabricVerb(program, verb, runtime);
  for (const core of CORE_COMMANDS) core.register(program, runtime);
  return program;
}

export async function runProgram(argv: readonly string[], io: MainIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return ExitCode.ok;
      if (error.code === 'commander.help') throw new UsageError('a command is required (sanhook --help lists them)', undefined, undefined, { cause: error });
      throw new UsageError(error.message.replace(/^error: /, ''), undefined, undefined, { cause: error });
    }
    throw error;
  }
  return ExitCode.ok;
}

function createRuntime(program: Command, io: MainIo, fabrics: readonly Fabric[]): Runtime {
  let globals: Globals | undefined;
  let system: Promise<ProgramSystem> | undefined;
  const runtime: Runtime = {
    io,
    fabrics,
    globals: () => (globals ??= validateGlobals(program.opts<GlobalWords>(), io)),
    system: () => (system ??= buildSystem(runtime.globals(), io)),
    async context(): Promise<CommandContext> {
      const { dryRun, output } = runtime.globals();
      const built = await runtime.system();
      return { system: built, dryRun, reporter: createReporter(output, io.stdout), config: await loadConfig(built, fabrics), ...(io.stdin ? { stdin: io.stdin } : {}) };
    },
  };
  return runtime;
}

async function buildSystem(globals: Globals, io: MainIo): Promise<ProgramSystem> {
  const paths = resolvePaths(globals.root, globals.sysfs, globals.platform);
  const log = await createLogger(globals.logLevel, resolveLogFormat(globals.logFormat, io.env));
  const timerd = createTimerdClient(socketPathFor(paths.run));
  return {
    exec: realExec,
    paths,
    clock: realClock,
    env: io.env,
    log,
    timerd,
    selfArgv: io.selfArgv,
    invocation: { logLevel: globals.logLevel, logFormat: globals.logFormat },
  };
}

/** One subcommand for a fabric verb: the union of its providers' options; the action dispatches. */
function addFabricVerb(program: Command, verb: Verb, runtime: Runtime): void {
  const command = program.command(verb.name).description(verb.summary);
  for (const arg of verb.args) command.argument(arg.spec, arg.description);
  const names = new Map<string, string>();
  for (const option of verb.options) {
    const commanderOption = new Option(optionFlags(option.spec), optionHelp(verb, option));
    if (option.spec.choices) commanderOption.choices(option.spec.choices);
    if (option.spec.hidden) commanderOption.hideHelp();
    command.addOption(commanderOption);
    names.set(commanderOption.attributeName(), option.spec.name);
  }
  command.action(async () => {
    const given: Record<string, string | boolean> = {};
    for (const [attribute, name] of names) {
      const value: unknown = command.getOptionValue(attribute);
      if (typeof value === 'string' || typeof value === 'boolean') given[name] = value;
    }
    await dispatch(verb, runtime, given, command.args);
  });
}

async function dispatch(verb: Verb, runtime: Runtime, options: GivenOptions, args: readonly string[]): Promise<void> {
  const globals = runtime.globals();
  const provider = chooseProvider(verb, globals.platform, options, runtime.io.env);
  const refused = refusedOption(verb, provider, options);
  if (refused) throw refused;
  provider.spec.prefetch?.();
  await provider.spec.run(await runtime.context(), options, args);
}
