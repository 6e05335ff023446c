/**
 * `sanhook timers list|arm|disarm`: the commander side of commands/timers.ts
 * (whose functions talk to timerd).
 */
import { Option } from 'commander';
import { GROWTHS } from '../timerd/schedule.js';
import type { CoreCommand } from './runtime.js';
import { armTimer, disarmTimer, listTimers } from './timers.js';

export const timersCommand: CoreCommand = {
  verb: 'timers',
  register(program, runtime) {
    const timers = program.command('timers').description("timerd's timers: list (default), arm, disarm");
    timers
      .command('list', { isDefault: true })
      .description('list armed timers: key, next event, attempts, loss deadline')
      .action(async () => {
        const { system, reporter } = await runtime.context();
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
        const { system, reporter } = await runtime.context();
        await armTimer(system, options, reporter);
      });
    timers
      .command('disarm <key>')
      .description('disarm the timer for an endpoint key')
      .action(async (key: string) => {
        const { system, reporter } = await runtime.context();
        await disarmTimer(system, key, reporter);
      });
    return timers;
  },
};
