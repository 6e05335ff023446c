/** `sanhook coexist mask|unmask|status`: other tools' autoconnect (each fabric's coexistence targets) must not race sanhook. */
import { Argument } from 'commander';
import { setMasks, type MaskMode } from '../core/coexist.js';
import { coexistTargets } from '../core/registry.js';
import { FABRICS } from '../hooks/index.js';
import { UsageError } from '../core/errors.js';
import { systemdBooted } from '../core/system.js';
import type { CoreCommand } from './runtime.js';

export const coexistCommand: CoreCommand = {
  verb: 'coexist',
  register: (program, runtime) =>
    program
      .command('coexist')
      .description(`other tools' autoconnect must not race sanhook: mask, unmask or show ${coexistTargets(FABRICS).map((t) => t.description).join(', ')}`)
      .addArgument(new Argument('<mode>', 'what to do').choices(['mask', 'unmask', 'status']))
      .action(async (mode: MaskMode) => {
        const { system, reporter, dryRun } = await runtime.context();
        if (dryRun && mode !== 'status') throw new UsageError('--dry-run: use `sanhook coexist status` to see what mask/unmask would change', '--dry-run');
        for (const result of await setMasks(system, coexistTargets(FABRICS), mode)) {
          reporter.item({ hook: 'coexist', outcome: result.state, target: result.target.description, path: result.path, text: `${result.target.description}: ${result.state} (${result.path})` });
        }
        if (mode !== 'status') {
          const reload = async (file: string, args: string[]) => {
            const result = await system.exec(file, args).catch(() => undefined);
            if (result && result.exitCode !== 0) system.log.warn({ argv: result.argv, exit_code: result.exitCode }, 'reload failed; reload by hand');
          };
          await reload('udevadm', ['control', '--reload']);
          if (await systemdBooted(system)) await reload('systemctl', ['daemon-reload']);
        }
      }),
};
