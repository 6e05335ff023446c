/**
 * `sanhook install [--destdir DIR] [--prefix DIR] [--entry PATH] [--uninstall] [--force]`:
 * puts the package's udev rules, systemd units and dispatcher scripts (Linux)
 * or devd conf and rc.d script (FreeBSD) in place, with the sanhook entry's
 * absolute path filled in (src/install/assets.ts says what goes where).
 * Observe → plan (src/install/plan.ts, pure) → apply; `--dry-run` prints the
 * plan. It never replaces a file an admin edited, or one sanhook did not
 * write, unless --force (exit 1 naming them otherwise); a re-run changes
 * nothing; --uninstall removes exactly what the manifest lists. A real
 * install (no --destdir) reloads udev and systemd afterwards, and creates
 * what a new tmpfiles.d file declares (systemd-tmpfiles --create).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ActionError, EnvironmentError, UsageError } from '../core/errors.js';
import { packageRoot } from '../core/package.js';
import { reloadUdevAndSystemd } from '../core/reload.js';
import { directory } from '../core/validate.js';
import { applyStep, observe, readManifest } from '../install/apply.js';
import { ASSETS, ENTRY_PLACEHOLDER, sourceFiles } from '../install/assets.js';
import { ancestors, MANIFEST_STEP, planInstall, planUninstall, type Step, type Wanted } from '../install/plan.js';
import type { System } from '../core/system.js';
import type { CoreCommand } from './runtime.js';

/** The outcome word of a step: what was done, or (--dry-run) `would-<verb>`. */
function outcomeOf(step: Step, dryRun: boolean): string {
  const [verb, done] = ((): [string, string] => {
    switch (step.kind) {
      case 'write':
        return step.why === 'update' ? ['update', 'updated'] : step.why === 'forced' ? ['replace', 'replaced'] : ['install', 'installed'];
      case 'chmod':
        return ['chmod', 'mode-fixed'];
      case 'link':
        return ['link', 'linked'];
      case 'remove':
        return ['remove', 'removed'];
      case 'rmdir':
        return ['rmdir', 'removed'];
      case 'manifest':
        return step.manifest ? ['record', 'recorded'] : ['forget', 'forgotten'];
      case 'unchanged':
      case 'kept':
        return [step.kind, step.kind];
    }
  })();
  return dryRun && step.kind !== 'unchanged' && step.kind !== 'kept' ? `would-${verb}` : done;
}

/**
 * A tmpfiles.d file takes effect at the next boot; directories the units
 * need now (the NVMe registry's) are created at once, as
 * dh_installtmpfiles does in a package's postinst. A failure is a warning.
 */
async function createTmpfiles(system: System, steps: readonly Step[]): Promise<void> {
  const written = steps.filter((s) => s.kind === 'write' && path.dirname(s.path).endsWith(`${path.sep}tmpfiles.d`)).map((s) => path.basename((s as { path: string }).path));
  if (written.length === 0) return;
  const result = await system.exec('systemd-tmpfiles', ['--create', ...written]).catch(() => undefined);
  if (!result || result.exitCode !== 0) system.log.warn({ files: written, exit_code: result?.exitCode }, 'systemd-tmpfiles --create failed; run it by hand or reboot');
}

export const installCommand: CoreCommand = {
  verb: 'install',
  register: (program, runtime) =>
    program
      .command('install')
      .description("put the udev rules, systemd units and dispatcher scripts (FreeBSD: devd conf, rc.d script) in place, with this sanhook's path filled in; --uninstall removes them")
      .option('--destdir <dir>', 'install below this directory (packaging); default: the real root, then reload udev and systemd')
      .option('--prefix <dir>', 'where the package-owned files go: <prefix>/lib/udev/rules.d, <prefix>/lib/systemd/system (default /usr; FreeBSD /usr/local)')
      .option('--entry <path>', 'the absolute path the rules and units run sanhook by (default: the path this sanhook was started by)')
      .option('--uninstall', 'remove exactly what the last install wrote')
      .option('--force', 'also replace (or remove) files an admin edited or sanhook did not write')
      .action(async (options: { destdir?: string; prefix?: string; entry?: string; uninstall?: boolean; force?: boolean }) => {
        const { system, reporter, dryRun } = await runtime.context();
        const platform = system.paths.platform;
        const destdir = options.destdir === undefined ? '/' : directory(options.destdir, '--destdir');
        const prefix = options.prefix === undefined ? (platform === 'freebsd' ? '/usr/local' : '/usr') : directory(options.prefix, '--prefix');
        const entry = options.entry ?? path.resolve(process.argv[1] ?? '');
        if (!path.isAbsolute(entry) || /[\s"'\\$`%]/.test(entry)) throw new UsageError(`--entry: must be an absolute path without spaces, quotes or $ (udev and systemd split on them), got ${JSON.stringify(entry)}`, '--entry', entry);
        const root = packageRoot();
        // The .deb ships no rules.d beside the program: dpkg installed (and owns) the rules and units.
        if (!existsSync(path.join(root, ASSETS[platform][0]!.from))) {
          throw new EnvironmentError(`this sanhook (${root}) comes from a system package, which installed its rules and units itself (dpkg -L sanhook lists them); sanhook install is for an npm install`, { packageRoot: root });
        }
        const manifestPath = path.join(prefix, 'share', 'sanhook', 'install-manifest.json');
        const manifest = await readManifest(destdir, manifestPath);

        const wanted: Wanted[] = [];
        for (const file of await sourceFiles(root, platform)) {
          const base = file.row.anchor === 'etc' ? (platform === 'freebsd' ? '/usr/local/etc' : '/etc') : prefix;
          const target = path.join(base, ...file.row.to, file.name);
          wanted.push({ kind: 'file', path: target, text: file.text.replaceAll(ENTRY_PLACEHOLDER[platform], entry), mode: file.row.mode });
          for (const dir of file.row.linksIn ?? []) wanted.push({ kind: 'link', path: path.join('/etc', ...dir, file.name), target });
        }
        const paths = [...new Set([...wanted.flatMap((w) => [w.path, ...ancestors(w.path)]), ...ancestors(manifestPath), ...Object.keys(manifest?.files ?? {}), ...(manifest?.dirs ?? [])])];
        const present = await observe(destdir, paths);
        const force = options.force === true;
        const steps = options.uninstall ? planUninstall({ present, ...(manifest ? { manifest } : {}), force }) : planInstall({ wanted, present, ...(manifest ? { manifest } : {}), entry, force, manifestPath });
        if (options.uninstall && !manifest) {
          reporter.item({ hook: 'install', outcome: 'not-installed', text: `nothing to uninstall: no ${path.join(destdir, manifestPath)}` });
          return;
        }

        const kept: string[] = [];
        for (const step of steps) {
          const done = dryRun || (await applyStep(destdir, manifestPath, step));
          const outcome = done ? outcomeOf(step, dryRun) : 'left';
          const where = step.kind === 'manifest' || (step.kind === 'unchanged' && step.path === MANIFEST_STEP) ? manifestPath : step.path;
          if (step.kind === 'kept') kept.push(`${where} (${step.reason})`);
          const detail = step.kind === 'kept' ? `: ${step.reason}; --force replaces it` : step.kind === 'link' ? ` -> ${step.target}` : '';
          system.log[step.kind === 'unchanged' ? 'debug' : 'info']({ hook: 'install', path: path.join(destdir, where), outcome }, outcome);
          reporter.item({ hook: 'install', outcome, path: path.join(destdir, where), text: `${path.join(destdir, where)}${detail}` });
        }
        const changed = steps.some((s) => s.kind === 'write' || s.kind === 'link' || s.kind === 'remove' || s.kind === 'chmod');
        // rmdir steps change nothing udev or systemd read
        if (!dryRun && destdir === '/' && changed && platform === 'linux') {
          await reloadUdevAndSystemd(system);
          await createTmpfiles(system, steps);
        }
        if (kept.length > 0) throw new ActionError(`kept ${kept.length} file(s) sanhook did not write or an admin changed (--force replaces them): ${kept.join('; ')}`);
      }),
};
