/** `sanhook coexist mask|unmask|status`: other tools' autoconnect (each fabric's coexistence targets) must not race sanhook. */
import { Argument } from 'commander';
import { setMasks, type MaskMode } from '../core/coexist.js';
import { coexistTargets } from '../core/registry.js';
import { FABRICS } from '../hooks/index.js';
import { UsageError } from '../core/errors.js';
import { reloadUdevAndSystemd } from '../core/reload.js';
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
        if (mode !== 'status') await reloadUdevAndSystemd(system);
      }),
};
