/**
 * FCoE's commands (Linux only: FreeBSD has no software FCoE initiator). The
 * shipped udev rule runs `--uevent`, the dispatcher scripts `--ifname`, the
 * recheck timer `--all`, timerd `--ifname` (hooks.ts says what each does).
 */
import type { CommandSpec, OptionSpec } from '../../core/fabric.js';
import { runDcbCheck, runFcoeDestroy } from './hooks.js';

const ueventOption = (description: string): OptionSpec => ({ name: 'uevent', description });
const ifnameOption = (description: string): OptionSpec => ({ name: 'ifname', short: 'i', value: 'ifname', description });

export const dcbCheckLinux: CommandSpec = {
  verb: 'dcb-check',
  platforms: ['linux'],
  summary: "FCoE: run fcoemon's DCB checks and create the ctlr, destroy it, or retry on timerd's 0.2 s × n schedule",
  options: [
    ueventOption('read the net add event from the udev environment (used by the shipped rule)'),
    ifnameOption('a link changed on this interface: check every configured FCoE interface that is it or a VLAN on it'),
    { name: 'all', description: 'check every enabled FCoE interface (the periodic recheck: notices DCB changes without a link change)' },
  ],
  async run({ system, config, reporter, dryRun }, options) {
    await runDcbCheck(
      system,
      config,
      { uevent: options.uevent === true, all: options.all === true, ...(typeof options.ifname === 'string' ? { ifname: options.ifname } : {}), dryRun },
      reporter,
    );
  },
};

export const fcoeDestroyLinux: CommandSpec = {
  verb: 'fcoe-destroy',
  platforms: ['linux'],
  summary: "FCoE: destroy an interface's ctlr and end its retry schedule (udev net remove, timerd's last retry, or by hand)",
  options: [ueventOption('read the net remove event from the udev environment (used by the shipped rule)'), ifnameOption('the FCoE interface')],
  async run({ system, config, reporter, dryRun }, options) {
    await runFcoeDestroy(system, config, { uevent: options.uevent === true, ...(typeof options.ifname === 'string' ? { ifname: options.ifname } : {}), dryRun }, reporter);
  },
};

export const FCOE_COMMANDS: readonly CommandSpec[] = [dcbCheckLinux, fcoeDestroyLinux];
