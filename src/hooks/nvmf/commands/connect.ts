/**
 * `sanhook connect`: discovery and connect-all for one discovery address, or
 * every address of discovery.conf (--all). Linux: nvme-cli, and the address a
 * udev event names (--uevent). FreeBSD: `nvmecontrol connect-all`.
 */
import { UsageError } from '../../../core/errors.js';
import type { CommandSpec } from '../../../core/fabric.js';
import { prefetchExec } from '../../../core/system.js';
import { oneOf } from '../../../core/validate.js';
import { runConnect } from '../connect.js';
import { runBootConnect } from '../handover.js';
import { runFreebsdConnect } from '../controller.js';
import { TRIGGERS } from '../connect-request.js';
import { DISCOVERY_OPTIONS, rawOptions, ueventOption } from './options.js';

export const connectLinux: CommandSpec = {
  verb: 'connect',
  platforms: ['linux'],
  summary: 'discover an NVMe-oF discovery controller and connect every subsystem it lists that is not connected yet',
  options: [
    { name: 'all', description: 'every discovery controller in /etc/nvme/discovery.conf (boot)' },
    { name: 'initramfs', description: 'with --all: the initramfs stage; record what was connected for the real root (docs/initramfs.md)' },
    ueventOption('read the event from the udev environment (used by the shipped rules)'),
    { name: 'trigger', value: 'trigger', description: 'why this runs (set by hand-offs)', choices: TRIGGERS, hidden: true },
    ...DISCOVERY_OPTIONS,
  ],
  // It will run nvme: start loading execa while the program reads the config.
  prefetch: prefetchExec,
  async run({ system, config, reporter, dryRun }, options) {
    const raw = rawOptions(options);
    const all = options.all === true;
    const uevent = options.uevent === true;
    if (all && uevent) throw new UsageError('--all and --uevent cannot be combined', '--all');
    const first = Object.keys(raw)[0];
    if ((all || uevent) && first !== undefined) throw new UsageError(`--${first} cannot be combined with ${all ? '--all' : '--uevent'}`, `--${first}`);
    const trigger = typeof options.trigger === 'string' ? oneOf(options.trigger, TRIGGERS, '--trigger') : undefined;
    if (options.initramfs === true && !all) throw new UsageError('--initramfs goes with --all (the boot connect)', '--initramfs');
    const connect = () => runConnect(system, config, { raw, all, uevent, dryRun, ...(trigger ? { trigger } : {}) }, reporter);
    // The boot connect hands over from the initramfs to the real root (handover.ts).
    if (all) await runBootConnect(system, config, options.initramfs === true ? 'initramfs' : 'root', dryRun, reporter, connect);
    else await connect();
  },
};

export const connectFreeBSD: CommandSpec = {
  verb: 'connect',
  platforms: ['freebsd'],
  summary: 'connect every subsystem a discovery controller lists (nvmecontrol connect-all)',
  options: [{ name: 'all', description: 'every discovery controller in /usr/local/etc/nvme/discovery.conf (boot)' }, ...DISCOVERY_OPTIONS],
  refuses: { uevent: 'there are no udev events on FreeBSD (devd runs `sanhook devd`)', initramfs: 'there is no initramfs hand-over on FreeBSD' },
  prefetch: prefetchExec,
  async run({ system, config, reporter, dryRun }, options) {
    const raw = rawOptions(options);
    const all = options.all === true;
    const first = Object.keys(raw)[0];
    if (all && first !== undefined) throw new UsageError(`--${first} cannot be combined with --all`, `--${first}`);
    await runFreebsdConnect(system, config, { raw, all, uevent: false, dryRun }, reporter);
  },
};
