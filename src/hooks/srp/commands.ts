/**
 * SRP's commands (Linux only: ib_srp and scsi_transport_srp are Linux's).
 * The shipped rule runs `srp-setup --uevent` and `lost --uevent`; timerd
 * runs `srp-reconnect` and `srp-erase` with --srp-host/--target; people run
 * the rest (hooks.ts says what each does).
 */
import type { CommandSpec, GivenOptions, OptionSpec } from '../../core/fabric.js';
import { runAdd, runLost, runRef, runSetup } from './hooks.js';

const portOption: OptionSpec = { name: 'port', value: 'port-H:N', description: 'the SRP remote port (/sys/class/srp_remote_ports/port-H:N)' };
const srpHostOption: OptionSpec = { name: 'srp-host', value: 'srp-IBDEV-PORT', description: 'the local IB port, as in /sys/class/infiniband_srp (srp-mlx5_0-1)' };
const targetOption: OptionSpec = { name: 'target', value: 'line', description: 'the target, as an add_target line: id_ext=..,ioc_guid=..,dest=IP:PORT or dgid=..,pkey=..,service_id=.. [,options]' };

const str = (options: GivenOptions, name: string) => (typeof options[name] === 'string' ? (options[name] as string) : undefined);
const refOf = (options: GivenOptions) => {
  const port = str(options, 'port');
  const srpHost = str(options, 'srp-host');
  const target = str(options, 'target');
  return { ...(port !== undefined ? { port } : {}), ...(srpHost !== undefined ? { srpHost } : {}), ...(target !== undefined ? { target } : {}) };
};

export const srpSetupLinux: CommandSpec = {
  verb: 'srp-setup',
  platforms: ['linux'],
  summary: "SRP: apply sanhook's timer policy (reconnect_delay, fast_io_fail_tmo, dev_loss_tmo) to a new remote port",
  options: [{ name: 'uevent', description: 'read the srp_remote_ports add event from the udev environment (used by the shipped rule)' }, portOption],
  async run({ system, config, reporter, dryRun }, options) {
    const port = str(options, 'port');
    await runSetup(system, config, { uevent: options.uevent === true, ...(port !== undefined ? { port } : {}), dryRun }, reporter);
  },
};

/** `lost` is NVMe-oF's verb too: SRP claims the remove event of an ib_srp scsi_host. */
export const srpLostLinux: CommandSpec = {
  verb: 'lost',
  platforms: ['linux'],
  summary: 'an ib_srp SCSI host is gone: arm timerd to add its target again (udev remove)',
  options: [{ name: 'uevent', description: 'read the remove event from the udev environment (used by the shipped rules)' }],
  claims: (options, env) => options.uevent === true && env.SUBSYSTEM === 'scsi_host',
  async run({ system, config, reporter, dryRun }) {
    await runLost(system, config, { dryRun }, reporter);
  },
};

export const srpReconnectLinux: CommandSpec = {
  verb: 'srp-reconnect',
  platforms: ['linux'],
  summary: 'SRP: bring a target back: online a disconnected port, reconnect a blocked one now, or add a deleted one again',
  options: [portOption, srpHostOption, targetOption],
  async run({ system, config, reporter, dryRun }, options) {
    await runRef(system, config, 'srp-reconnect', { ...refOf(options), dryRun }, reporter);
  },
};

export const srpEraseLinux: CommandSpec = {
  verb: 'srp-erase',
  platforms: ['linux'],
  summary: 'SRP: delete a target port and its SCSI host now; sanhook will not add it again until it is added on purpose',
  options: [portOption, srpHostOption, targetOption],
  async run({ system, config, reporter, dryRun }, options) {
    await runRef(system, config, 'srp-erase', { ...refOf(options), dryRun }, reporter);
  },
};

export const srpDisconnectLinux: CommandSpec = {
  verb: 'srp-disconnect',
  platforms: ['linux'],
  summary: "SRP: take a port's SCSI devices offline (I/O fails at once; the host and the login stay); srp-reconnect undoes it",
  options: [portOption],
  async run({ system, config, reporter, dryRun }, options) {
    await runRef(system, config, 'srp-disconnect', { ...refOf(options), dryRun }, reporter);
  },
};

export const srpAddLinux: CommandSpec = {
  verb: 'srp-add',
  platforms: ['linux'],
  summary: 'SRP: validate an add_target line, record it (so sanhook can add the target again), and log in',
  options: [srpHostOption, targetOption],
  async run({ system, config, reporter, dryRun }, options) {
    const ref = refOf(options);
    await runAdd(system, config, { ...(ref.srpHost !== undefined ? { srpHost: ref.srpHost } : {}), ...(ref.target !== undefined ? { target: ref.target } : {}), dryRun }, reporter);
  },
};

export const SRP_COMMANDS: readonly CommandSpec[] = [srpSetupLinux, srpLostLinux, srpReconnectLinux, srpEraseLinux, srpDisconnectLinux, srpAddLinux];

