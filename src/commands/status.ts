/**
 * `sanhook status`: timerd, its timers, the keys with running hooks or
 * pending events, then each fabric's own lines (Fabric.status: FCoE lists its
 * interfaces with their DCB verdict and retry state).
 */
import type { CoreCommand } from './runtime.js';
import { status } from './timers.js';

export const statusCommand: CoreCommand = {
  verb: 'status',
  register: (program, runtime) =>
    program
      .command('status')
      .description("timerd, its timers, the keys with running hooks or pending events, and each fabric's endpoints")
      .action(async () => {
        const context = await runtime.context();
        await status(context.system, context.reporter);
        for (const fabric of runtime.fabrics) await fabric.status?.(context);
      }),
};
