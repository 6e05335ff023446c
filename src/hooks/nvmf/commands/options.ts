/**
 * The options of NVMe-oF's commands, declared once: nvme-cli's names and
 * short letters (connect-request.ts NVMF_OPTIONS), so `sanhook connect` and
 * `nvme connect` read alike, and the controller form of FreeBSD.
 *
 * Contract: declarations and picking only. Values are validated by the
 * hooks' request builders (connect-request.ts, io-request.ts, controller.ts),
 * with the validators of validate.ts.
 */
import type { CommandContext, CommandSpec, GivenOptions, OptionSpec } from '../../../core/fabric.js';
import { DISCOVERY_ADDRESS_OPTIONS, NVMF_OPTIONS, type NvmfOptionName, type RawOptions } from '../connect-request.js';
import { CONTROLLER_OPTIONS, controllerRequest, type ControllerRequest } from '../controller.js';
import { IO_OPTIONS, type IoOptions } from '../io-request.js';

const nvmeCli = (name: NvmfOptionName, description: string = NVMF_OPTIONS[name].description): OptionSpec => {
  const spec = NVMF_OPTIONS[name];
  return { name, short: spec.short, ...(spec.type === 'string' ? { value: 'value' } : {}), description };
};

/** `connect`'s discovery options, as nvme-cli's `connect-all` takes them. */
export const DISCOVERY_OPTIONS: readonly OptionSpec[] = (Object.keys(NVMF_OPTIONS) as NvmfOptionName[]).map((name) => nvmeCli(name));

/** A discovery address with host identity and timers (a persistent discovery controller's timer, `disconnect --discovery`). */
export const DISCOVERY_ADDRESS_OPTION_SPECS: readonly OptionSpec[] = DISCOVERY_ADDRESS_OPTIONS.map((name) => nvmeCli(name));

const IO_DESCRIPTIONS: Readonly<Record<(typeof IO_OPTIONS)[number], string>> = {
  transport: NVMF_OPTIONS.transport.description,
  traddr: 'controller address',
  trsvcid: 'service id (port); default 4420',
  nqn: 'subsystem NQN',
  'host-traddr': NVMF_OPTIONS['host-traddr'].description,
  'host-iface': NVMF_OPTIONS['host-iface'].description,
  hostnqn: NVMF_OPTIONS.hostnqn.description,
  hostid: NVMF_OPTIONS.hostid.description,
  'reconnect-delay': NVMF_OPTIONS['reconnect-delay'].description,
  'ctrl-loss-tmo': NVMF_OPTIONS['ctrl-loss-tmo'].description,
};

/** One Linux I/O controller path (-t -a -s -n ...), as timerd's entries and `lost` name it. */
export const IO_PATH_OPTIONS: readonly OptionSpec[] = IO_OPTIONS.map((name) => nvmeCli(name, IO_DESCRIPTIONS[name]));

export const deviceOption = (description: string): OptionSpec => ({ name: 'device', short: 'd', value: 'nvmeX', description });

export const ueventOption = (description: string): OptionSpec => ({ name: 'uevent', description });

const CONTROLLER_DESCRIPTIONS: Readonly<Record<(typeof CONTROLLER_OPTIONS)[number], string>> = {
  device: 'the controller (nvmeX)',
  traddr: 'its address, for kernels without reconnect timers (they do not keep it)',
  trsvcid: 'its port (with --traddr)',
  hostnqn: NVMF_OPTIONS.hostnqn.description,
  'reconnect-delay': NVMF_OPTIONS['reconnect-delay'].description,
  'ctrl-loss-tmo': NVMF_OPTIONS['ctrl-loss-tmo'].description,
};

/** FreeBSD's controller form: --device nvmeX [-a -s -q -c -l] (controller.ts). */
export function controllerOptions(device: string): OptionSpec[] {
  return CONTROLLER_OPTIONS.map((name) => (name === 'device' ? deviceOption(device) : nvmeCli(name, CONTROLLER_DESCRIPTIONS[name])));
}

/** Why FreeBSD's controller form refuses the Linux path options (controller.ts's own words). */
export const NOT_WITH_A_CONTROLLER: Readonly<Record<string, string>> = Object.fromEntries(
  IO_OPTIONS.filter((name) => !(CONTROLLER_OPTIONS as readonly string[]).includes(name)).map((name) => [name, "not used with --device on FreeBSD (the kernel keeps the controller's parameters)"]),
);

/** The string values of the named options that were given. */
export function strings<N extends string>(options: GivenOptions, names: readonly N[]): Partial<Record<N, string>> {
  const result: Partial<Record<N, string>> = {};
  for (const name of names) {
    const value = options[name];
    if (typeof value === 'string') result[name] = value;
  }
  return result;
}

/** connect's nvme-cli options that were given, in NVMF_OPTIONS order. */
export function rawOptions(options: GivenOptions): RawOptions {
  const raw: RawOptions = {};
  for (const name of Object.keys(NVMF_OPTIONS) as NvmfOptionName[]) {
    const value = options[name];
    if (typeof value === 'string' || typeof value === 'boolean') raw[name] = value;
  }
  return raw;
}

export const ioOptions = (options: GivenOptions): IoOptions => strings(options, IO_OPTIONS);

/** What differs between the path verbs run by timerd (reconnect, give-up): the words and the two hooks. */
export interface PathVerb {
  readonly verb: string;
  readonly summary: string;
  /** The --device help on FreeBSD. */
  readonly device: string;
  readonly linux: (context: CommandContext, options: IoOptions) => Promise<void>;
  readonly freebsd: (context: CommandContext, request: ControllerRequest) => Promise<void>;
}

/**
 * The two providers of a verb timerd runs on a path: Linux names the I/O path
 * with -t -a -s -n ... (it deletes a controller the kernel gave up on);
 * FreeBSD names the controller it keeps, --device nvmeX [address].
 */
export function pathVerb(spec: PathVerb): readonly [CommandSpec, CommandSpec] {
  return [
    {
      verb: spec.verb,
      platforms: ['linux'],
      summary: spec.summary,
      options: IO_PATH_OPTIONS,
      refuses: { device: `${spec.verb} --device is for FreeBSD, which keeps a disconnected controller; Linux deletes it, so name the path with -t -a -s -n` },
      run: (context, options) => spec.linux(context, ioOptions(options)),
    },
    {
      verb: spec.verb,
      platforms: ['freebsd'],
      summary: spec.summary,
      options: controllerOptions(spec.device),
      refuses: NOT_WITH_A_CONTROLLER,
      run: (context, options) => spec.freebsd(context, controllerRequest(strings(options, CONTROLLER_OPTIONS))),
    },
  ];
}
