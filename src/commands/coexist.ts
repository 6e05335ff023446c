/**
 * `sanhook coexist mask|unmask|status`: other tools' autoconnect (each
 * fabric's coexistence targets) must not race sanhook. A target whose tool
 * honours the ownership sanhook records is left running by `mask` and
 * reported `owner-aware`; each item carries the fabric's reason when it gave one.
 */
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
          const why = result.reason === undefined ? {} : { reason: result.reason };
          const text = `${result.target.description}: ${result.state} (${result.path})${result.reason === undefined ? '' : `: ${result.reason}`}`;
          reporter.item({ hook: 'coexist', outcome: result.state, target: result.target.description, path: result.path, ...why, text });
        }
        if (mode !== 'status') await reloadUdevAndSystemd(system);
      }),
};
