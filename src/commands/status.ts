/** `sanhook status`: timerd, its timers, and the keys with running hooks or pending events. */
import type { CoreCommand } from './runtime.js';
import { status } from './timers.js';

export const statusCommand: CoreCommand = {
  verb: 'status',
  register: (program, runtime) =>
    program
      .command('status')
      .description('timerd, its timers, and the keys with running hooks or pending events')
      .action(async () => {
        const { system, reporter } = await runtime.context();
        await status(system, reporter);
      }),
};
