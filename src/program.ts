/**
 * The commander program behind `main()`: global options and subcommands.
 *
 * Contract: options are validated here, once, by the validators in
 * validate.ts (or commander's own checks, mapped to exit 2); subcommands get
 * a ready System, Config and Reporter. Throws typed errors; returns 0 on success.
 */
import { Argument, Command, CommanderError, Option } from 'commander';
import path from 'node:path';
import { loadConfig } from './core/config.js';
import { ExitCode, UsageError } from './core/errors.js';
import { runConnect } from './hooks/nvmf/connect.js';
import { createLogger, LOG_FORMATS, LOG_LEVELS, resolveLogFormat, type LogFormat, type LogLevel } from './core/log.js';
import { NVMF_OPTIONS, TRIGGERS, type RawOptions, type Trigger } from './hooks/nvmf/connect-request.js';
import { createReporter, OUTPUT_FORMATS, type OutputFormat } from './core/report.js';
import { PLATFORMS, platformOf, type Platform } from './core/platform.js';
import { classifyDevdEvent, parseDevdEvent } from './hooks/nvmf/devd-event.js';
import { controllerRequest, runControllerDisconnect, runControllerGiveUp, runControllerLost, runControllerReconnect } from './hooks/nvmf/controller.js';
import { prefetchExec, realClock, realExec, resolvePaths, spawnExec, systemdBooted, type System } from './core/system.js';
import { setNvmeCliAutoconnect, setNvmeCliBootService, type MaskMode } from './core/coexist.js';
import { showValue } from './core/validate.js';
import { createTimerdClient, socketPathFor } from './timerd/client.js';
import { IO_OPTIONS, type IoOptions } from './hooks/nvmf/io-request.js';
import { runLost } from './hooks/nvmf/lost.js';
import { runGiveUp, runReconnect } from './hooks/nvmf/reconnect.js';
import { runConnected } from './hooks/nvmf/connected.js';
import { runDisconnect, validateFilter } from './hooks/nvmf/disconnect.js';
import { armTimer, disarmTimer, listTimers, status } from './commands/timers.js';
import { runTimerd } from './timerd/main.js';
import { timerHookTable } from './core/registry.js';
import { FABRICS } from './hooks/index.js';
import { DEFAULT_HOOK_TIMEOUT_MS, DEFAULT_MAX_CONCURRENT } from './timerd/daemon.js';
import { GROWTHS } from './timerd/schedule.js';
import type { MainIo } from './cli.js';

interface GlobalOptions {
  platform?: string;
  root: string;
  sysfs: string;
  dryRun?: boolean;
  logLevel: string;
  logFormat: string;
  output: string;
}

const camel = (name: string) => name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

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
  const logFormat = resolveLogFormat(oneOf<LogFormat>('--log-format', globals.logFormat, LOG_FORMATS), io.env);
  const output = oneOf<OutputFormat>('--output', globals.output, OUTPUT_FORMATS);
  const platform = globals.platform === undefined ? platformOf(io.platform ?? 'linux') : oneOf<Platform>('--platform', globals.platform, PLATFORMS);
  const paths = resolvePaths(directory('--root', globals.root), directory('--sysfs', globals.sysfs), platform);
  const log = await createLogger(logLevel, logFormat);
  const timerd = createTimerdClient(socketPathFor(paths.run));
  return { system: { exec: realExec, paths, clock: realClock, env: io.env, log, timerd, selfArgv: io.selfArgv }, output, dryRun: globals.dryRun === true };
}

export async function runProgram(argv: readonly string[], io: MainIo): Promise<number> {
  const program = new Command('sanhook')
    .description('Keeps NVMe-oF, FCoE and SRP connections alive: short-lived hotplug hooks and a tiny timer daemon.')
    .option('--root <dir>', 'prefix for /etc, /run and /var/lib', '/')
    .option('--sysfs <dir>', 'sysfs mount point', '/sys')
    .addOption(new Option('--platform <platform>', 'linux (udev, nvme-cli) or freebsd (devd, nvmecontrol); default: this host').choices(PLATFORMS))
    .option('--dry-run', 'observe and print the plan; change nothing')
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(LOG_LEVELS).default('info'))
    // Checked by oneOf() in buildSystem, not .choices(): one line in the validators' words.
    .option('--log-format <format>', `log format on stderr: ${LOG_FORMATS.join(', ')} (auto: journal when stderr is the journal, else json)`, 'auto')
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
    prefetchExec();
    const { system, output, dryRun } = await buildSystem(program.opts<GlobalOptions>(), io);
    const raw: RawOptions = {};
    for (const name of Object.keys(NVMF_OPTIONS) as (keyof typeof NVMF_OPTIONS)[]) {
      const value = options[camel(name)];
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

  const ioOption = (command: Command) => {
    for (const name of IO_OPTIONS) {
      const spec = NVMF_OPTIONS[name === 'nqn' ? 'nqn' : name];
      command.option(`-${spec.short}, --${name} <value>`, name === 'nqn' ? 'subsystem NQN' : spec.description.replace(/^discovery /, ''));
    }
    return command;
  };
  const ioOptionsOf = (options: Record<string, unknown>): IoOptions => {
    const result: IoOptions = {};
    for (const name of IO_OPTIONS) {
      const value = options[camel(name)];
      if (typeof value === 'string') result[name] = value;
    }
    return result;
  };
  const controllerOptionsOf = (options: Record<string, unknown>): Record<string, string> => {
    const result: Record<string, string> = {};
    for (const [name, value] of Object.entries(options)) {
      if (typeof value === 'string') result[name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)] = value;
    }
    return result;
  };
  const linuxDevice = (hook: string) =>
    new UsageError(`--device: ${hook} --device is for FreeBSD, which keeps a disconnected controller; Linux deletes it, so name the path with -t -a -s -n`, '--device');
  const context = async () => {
    const { system, output, dryRun } = await buildSystem(program.opts<GlobalOptions>(), io);
    return { system, dryRun, reporter: createReporter(output, io.stdout), config: await loadConfig(system) };
  };

  ioOption(
    program
      .command('lost')
      .description('an NVMe-oF I/O controller is gone: arm timerd to bring it back (udev remove, or by hand)')
      .option('--uevent', 'read the remove event from the udev environment (used by the shipped rules)')
      .option('-d, --device <nvmeX>', 'the controller (while it still exists)'),
  ).action(async (options: Record<string, unknown>) => {
    const { system, dryRun, reporter, config } = await context();
    if (system.paths.platform === 'freebsd') {
      if (options.uevent === true) throw new UsageError('--uevent: there are no udev events on FreeBSD; give --device nvmeX', '--uevent');
      await runControllerLost(system, config, { request: controllerRequest(controllerOptionsOf(options)), dryRun }, reporter);
      return;
    }
    const ioOptions = ioOptionsOf(options);
    const uevent = options.uevent === true;
    const device = typeof options.device === 'string' ? options.device : undefined;
    if ([uevent, device !== undefined, Object.keys(ioOptions).length > 0].filter(Boolean).length !== 1) {
      throw new UsageError('give exactly one of --uevent, --device, or the endpoint options (-t -a -s -n ...)', '--uevent');
    }
    await runLost(system, config, { uevent, ...(device ? { device } : {}), options: ioOptions, dryRun }, reporter);
  });

  ioOption(
    program
      .command('reconnect')
      .description('one attempt to bring one NVMe-oF I/O path back (run by timerd; on FreeBSD by devd: --device nvmeX)')
      .option('-d, --device <nvmeX>', 'FreeBSD: the disconnected controller (the kernel keeps its parameters)'),
  ).action(async (options: Record<string, unknown>) => {
    const { system, dryRun, reporter, config } = await context();
    if (system.paths.platform === 'freebsd') {
      await runControllerReconnect(system, config, { request: controllerRequest(controllerOptionsOf(options)), dryRun }, reporter);
      return;
    }
    if (options.device !== undefined) throw linuxDevice('reconnect');
    await runReconnect(system, config, { options: ioOptionsOf(options), dryRun }, reporter);
  });

  ioOption(
    program
      .command('give-up')
      .description('the loss event for one NVMe-oF I/O path (run by timerd)')
      .option('-d, --device <nvmeX>', 'FreeBSD: the controller to detach'),
  ).action(async (options: Record<string, unknown>) => {
    const { system, dryRun, reporter } = await context();
    if (system.paths.platform === 'freebsd') {
      await runControllerGiveUp(system, { request: controllerRequest(controllerOptionsOf(options)), dryRun }, reporter);
      return;
    }
    if (options.device !== undefined) throw linuxDevice('give-up');
    await runGiveUp(system, { options: ioOptionsOf(options), dryRun }, reporter);
  });

  program
    .command('devd')
    .description('FreeBSD: act on one raw devd event line (what devd/sanhook.conf runs; for manual use and tests)')
    .argument('[event]', 'the line, e.g. \'!system=nvme subsystem=controller type=RECONNECT name="nvme0"\'; - or none: read one line from stdin')
    .action(async (event: string | undefined) => {
      const { system, dryRun, reporter, config } = await context();
      if (system.paths.platform !== 'freebsd') throw new UsageError('devd: FreeBSD only (--platform freebsd to run its logic elsewhere)', 'devd');
      const line = event === undefined || event === '-' ? await readStdinLine(io) : event;
      const action = classifyDevdEvent(parseDevdEvent(line));
      if (action.kind === 'irrelevant') {
        system.log.debug({ hook: 'devd', outcome: 'irrelevant', why: action.why }, 'event ignored');
        reporter.item({ hook: 'devd', outcome: 'ignored', why: action.why, text: `ignored: ${action.why}` });
        return;
      }
      await runControllerReconnect(system, config, { request: { device: action.device }, dryRun, trigger: 'devd' }, reporter);
    });

  program
    .command('connected')
    .description('an NVMe-oF controller is live again: disarm its timer (udev NVME_EVENT=connected)')
    .option('--uevent', 'read the event from the udev environment')
    .option('-d, --device <nvmeX>', 'the controller')
    .action(async (options: Record<string, unknown>) => {
      const { system, reporter } = await context();
      if ((options.uevent === true) === (typeof options.device === 'string')) throw new UsageError('give exactly one of --uevent or --device', '--device');
      await runConnected(system, typeof options.device === 'string' ? options.device : undefined, reporter);
    });

  program
    .command('disconnect')
    .description('disconnect NVMe-oF I/O controllers and keep them disconnected (no timer, no autoconnect)')
    .option('-d, --device <nvmeX>', 'this controller')
    .option('-n, --nqn <nqn>', 'every path to this subsystem')
    .option('-t, --transport <transport>', 'only paths on this transport')
    .option('-a, --traddr <address>', 'only paths to this address')
    .option('-s, --trsvcid <port>', 'only paths to this port')
    .action(async (options: Record<string, unknown>) => {
      const { system, dryRun, reporter } = await context();
      if (system.paths.platform === 'freebsd') {
        const extra = ['nqn', 'transport', 'traddr', 'trsvcid'].find((k) => options[k] !== undefined);
        if (extra || typeof options.device !== 'string') throw new UsageError(`${extra ? `--${extra}` : '--device'}: on FreeBSD, disconnect takes --device nvmeX only`, `--${extra ?? 'device'}`);
        await runControllerDisconnect(system, options.device, dryRun, reporter);
        return;
      }
      const filter = validateFilter(Object.fromEntries(['device', 'nqn', 'transport', 'traddr', 'trsvcid'].map((k) => [k, typeof options[k] === 'string' ? (options[k] as string) : undefined])));
      await runDisconnect(system, filter, dryRun, reporter);
    });

  const timers = program.command('timers').description("timerd's timers: list (default), arm, disarm");
  timers
    .command('list', { isDefault: true })
    .description('list armed timers: key, next event, attempts, loss deadline')
    .action(async () => {
      const { system, reporter } = await context();
      await listTimers(system, reporter);
    });
  timers
    .command('arm')
    .description('arm a timer by hand (the same request the lost hook sends)')
    .requiredOption('--hook <hook>', 'hook to run on each reconnect event (reconnect)')
    .option('--loss-hook <hook>', 'hook to run on loss (give-up)')
    .option('--delay <seconds>', 'seconds between attempts, to the millisecond (0.2); 0 disables attempts', '10')
    .addOption(new Option('--growth <growth>', 'delay growth').choices(GROWTHS).default('fixed'))
    .option('--loss-seconds <seconds>', 'give up after this long, to the millisecond; -1 or 0 never', '600')
    .option('--loss-attempts <count>', 'give up after this many attempts; 0 no limit', '0')
    .option('--param <name=value...>', 'hook option, e.g. --param transport=tcp (repeat)')
    .action(async (options: Record<string, unknown>) => {
      const { system, reporter } = await context();
      await armTimer(system, options, reporter);
    });
  timers
    .command('disarm <key>')
    .description('disarm the timer for an endpoint key')
    .action(async (key: string) => {
      const { system, reporter } = await context();
      await disarmTimer(system, key, reporter);
    });

  program
    .command('status')
    .description('timerd, its timers, and the keys with running hooks or pending events')
    .action(async () => {
      const { system, reporter } = await context();
      await status(system, reporter);
    });

  program
    .command('coexist')
    .description("nvme-cli's autoconnect (udev rule + boot service) must not race sanhook: mask, unmask or show it")
    .addArgument(new Argument('<mode>', 'what to do').choices(['mask', 'unmask', 'status']))
    .action(async (mode: MaskMode) => {
      const { system, reporter, dryRun } = await context();
      if (dryRun && mode !== 'status') throw new UsageError('--dry-run: use `sanhook coexist status` to see what mask/unmask would change', '--dry-run');
      const targets = [
        ['udev rule', await setNvmeCliAutoconnect(system, mode)],
        ['boot service', await setNvmeCliBootService(system, mode)],
      ] as const;
      for (const [what, result] of targets) {
        reporter.item({ hook: 'coexist', outcome: result.state, target: what, path: result.path, text: `nvme-cli ${what}: ${result.state} (${result.path})` });
      }
      if (mode !== 'status') {
        const reload = async (file: string, args: string[]) => {
          const result = await system.exec(file, args).catch(() => undefined);
          if (result && result.exitCode !== 0) system.log.warn({ argv: result.argv, exit_code: result.exitCode }, 'reload failed; reload by hand');
        };
        await reload('udevadm', ['control', '--reload']);
        if (await systemdBooted(system)) await reload('systemctl', ['daemon-reload']);
      }
    });

  program
    .command('timerd')
    .description('run the timer daemon (foreground; systemd: sanhook-timerd.service)')
    .option('--max-concurrent <n>', 'hooks run at once at most', String(DEFAULT_MAX_CONCURRENT))
    .option('--hook-timeout <seconds>', 'kill a hook that runs longer', String(DEFAULT_HOOK_TIMEOUT_MS / 1000))
    .option('--sanhook-bin <path>', 'program timerd runs for hooks (default: this sanhook)')
    .action(async (options: Record<string, unknown>) => {
      const globals = program.opts<GlobalOptions>();
      const { system } = await buildSystem(globals, io);
      const count = (option: string, value: unknown, max: number) => {
        if (typeof value !== 'string' || !/^[0-9]{1,6}$/.test(value) || Number(value) < 1 || Number(value) > max) {
          throw new UsageError(`${option}: must be a whole number 1-${max}, got ${showValue(String(value))}`, option, String(value));
        }
        return Number(value);
      };
      const maxConcurrent = count('--max-concurrent', options.maxConcurrent, 256);
      const hookTimeoutMs = count('--hook-timeout', options.hookTimeout, 86_400) * 1000;
      const base = typeof options.sanhookBin === 'string' ? [path.resolve(options.sanhookBin)] : [...io.selfArgv];
      // No --log-format: a hook's stderr is a pipe to timerd, so its `auto` is json, whose
      // records timerd parses and re-emits in its own format (daemon.ts).
      const sanhookArgv = [...base, '--platform', system.paths.platform, '--root', system.paths.root, '--sysfs', system.paths.sysfs, '--log-level', globals.logLevel];
      const stopSignal = new Promise<string>((resolve) => {
        // `on`, not `once`: execa's signal-exit re-raises a signal when it is the last listener,
        // which would kill timerd (and its running hooks) instead of a clean stop.
        for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => resolve(signal));
      });
      await runTimerd({ ...system, exec: spawnExec }, { maxConcurrent, hookTimeoutMs, sanhookArgv, hooks: timerHookTable(FABRICS), stopSignal });
    });

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

/** One line from stdin (devd's event), bounded: a devd line is at most 1 KiB. */
async function readStdinLine(io: MainIo): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (!io.stdin) throw new UsageError('devd: no event given and no stdin to read it from', 'devd');
  for await (const chunk of io.stdin) {
    chunks.push(Buffer.from(chunk));
    size += chunk.length;
    if (size > 4096) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines.length !== 1) throw new UsageError(`devd: expected one event line on stdin, got ${lines.length}`, 'devd');
  return lines[0]!;
}
