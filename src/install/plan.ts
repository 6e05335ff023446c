/**
 * `sanhook install` decides before it acts: given the files to install (their
 * final text), what is on disk now and the manifest of the last install, a
 * pure function returns the steps; one executor (apply.ts) runs them, and
 * only it knows --dry-run.
 *
 * Rules:
 *   * a file is written when absent, or when it is still what sanhook wrote
 *     last time (its hash is the manifest's); identical content is
 *     `unchanged` (a re-run changes nothing: idempotent);
 *   * a file that differs from what sanhook wrote (an admin edited it), or
 *     that sanhook never wrote (someone else's file at that path), is `kept`
 *     and the run fails (exit 1) — unless --force, which replaces it;
 *   * uninstall removes exactly the manifest's files and links, and only
 *     those still as sanhook wrote them (an edited one is kept, unless
 *     --force), then the manifest;
 *   * a link is made when absent, left when it already points at the file,
 *     and otherwise treated like an edited file.
 *
 * Contract: pure; table-driven tests (test/unit/install-plan.test.ts).
 */
import { createHash } from 'node:crypto';

export const hashOf = (text: string): string => createHash('sha256').update(text).digest('hex');

/** What should be at one path after the install. */
export type Wanted = { readonly kind: 'file'; readonly path: string; readonly text: string; readonly mode: number } | { readonly kind: 'link'; readonly path: string; readonly target: string };

/** What is at one path now. */
export type Present = { readonly kind: 'absent' } | { readonly kind: 'file'; readonly hash: string; readonly mode: number } | { readonly kind: 'link'; readonly target: string } | { readonly kind: 'dir' } | { readonly kind: 'other' };

/** What the last install wrote: path → file hash, or link target. */
export interface Manifest {
  readonly entry: string;
  readonly files: Readonly<Record<string, { readonly hash: string } | { readonly link: string }>>;
  /** Directories the installs created (uninstall removes them when empty); never one that was there before. */
  readonly dirs?: readonly string[];
}

export type Step =
  | { readonly kind: 'write'; readonly path: string; readonly text: string; readonly mode: number; readonly why: 'new' | 'update' | 'forced' }
  | { readonly kind: 'chmod'; readonly path: string; readonly mode: number }
  | { readonly kind: 'link'; readonly path: string; readonly target: string; readonly why: 'new' | 'forced' }
  | { readonly kind: 'remove'; readonly path: string; readonly why: 'uninstall' | 'forced' | 'dropped' }
  | { readonly kind: 'rmdir'; readonly path: string }
  | { readonly kind: 'unchanged'; readonly path: string }
  | { readonly kind: 'kept'; readonly path: string; readonly reason: string }
  | { readonly kind: 'manifest'; readonly manifest: Manifest | null };

const wroteIt = (manifest: Manifest | undefined, path: string, present: Present): boolean => {
  const entry = manifest?.files[path];
  if (!entry) return false;
  if ('hash' in entry) return present.kind === 'file' && present.hash === entry.hash;
  return present.kind === 'link' && present.target === entry.link;
};

export interface InstallInput {
  readonly wanted: readonly Wanted[];
  readonly present: ReadonlyMap<string, Present>;
  readonly manifest?: Manifest;
  readonly entry: string;
  readonly force: boolean;
  /** Where the manifest goes: its directories count as created too. */
  readonly manifestPath: string;
}

export function planInstall(input: InstallInput): Step[] {
  const steps: Step[] = [];
  const files: Record<string, { hash: string } | { link: string }> = {};
  // A kept path stays as the manifest had it (still "edited"), or out of it (never sanhook's: uninstall must not touch it).
  const keepRecord = (path: string) => {
    const before = input.manifest?.files[path];
    if (before) files[path] = before;
    else delete files[path];
  };
  for (const want of input.wanted) {
    const present = input.present.get(want.path) ?? { kind: 'absent' };
    const ours = wroteIt(input.manifest, want.path, present);
    if (want.kind === 'file') {
      const hash = hashOf(want.text);
      files[want.path] = { hash };
      if (present.kind === 'file' && present.hash === hash) {
        steps.push(present.mode === want.mode ? { kind: 'unchanged', path: want.path } : { kind: 'chmod', path: want.path, mode: want.mode });
      } else if (present.kind === 'absent') {
        steps.push({ kind: 'write', path: want.path, text: want.text, mode: want.mode, why: 'new' });
      } else if (ours && present.kind === 'file') {
        steps.push({ kind: 'write', path: want.path, text: want.text, mode: want.mode, why: 'update' });
      } else if (input.force) {
        steps.push({ kind: 'write', path: want.path, text: want.text, mode: want.mode, why: 'forced' });
      } else {
        steps.push({ kind: 'kept', path: want.path, reason: input.manifest?.files[want.path] ? 'edited since sanhook installed it' : 'not installed by sanhook' });
        keepRecord(want.path);
      }
    } else {
      files[want.path] = { link: want.target };
      if (present.kind === 'link' && present.target === want.target) steps.push({ kind: 'unchanged', path: want.path });
      else if (present.kind === 'absent') steps.push({ kind: 'link', path: want.path, target: want.target, why: 'new' });
      else if (input.force || ours) steps.push({ kind: 'link', path: want.path, target: want.target, why: 'forced' });
      else {
        steps.push({ kind: 'kept', path: want.path, reason: present.kind === 'link' ? `a link to ${present.target}, not sanhook's` : 'not installed by sanhook' });
        keepRecord(want.path);
      }
    }
  }
  // files of the last install this one no longer has (a file dropped from the package): removed if still ours
  for (const path of Object.keys(input.manifest?.files ?? {})) {
    if (Object.hasOwn(files, path)) continue;
    const present = input.present.get(path) ?? { kind: 'absent' };
    if (present.kind === 'absent') continue;
    if (wroteIt(input.manifest, path, present) || input.force) steps.push({ kind: 'remove', path, why: 'dropped' });
    else {
      steps.push({ kind: 'kept', path, reason: 'no longer shipped, but edited since sanhook installed it' });
      files[path] = input.manifest!.files[path]!;
    }
  }
  // directories this install creates, plus the ones earlier installs created that are still there
  const created = new Set((input.manifest?.dirs ?? []).filter((dir) => input.present.get(dir)?.kind === 'dir'));
  for (const file of [...input.wanted.map((want) => want.path), input.manifestPath]) {
    for (const dir of ancestors(file)) if ((input.present.get(dir) ?? { kind: 'absent' }).kind === 'absent') created.add(dir);
  }
  const manifest: Manifest = { entry: input.entry, files, dirs: [...created].sort() };
  if (!input.manifest || canonical(input.manifest) !== canonical(manifest)) steps.push({ kind: 'manifest', manifest });
  else steps.push({ kind: 'unchanged', path: MANIFEST_STEP });
  return steps;
}

/** The path an unchanged manifest is reported under (the command puts the real one in). */
export const MANIFEST_STEP = '(manifest)';

/** Every directory above a path, nearest first, without the root. */
export function ancestors(file: string): string[] {
  const dirs: string[] = [];
  for (let dir = file.slice(0, file.lastIndexOf('/')); dir.length > 1; dir = dir.slice(0, dir.lastIndexOf('/'))) dirs.push(dir);
  return dirs;
}

const canonical = (m: Manifest) => JSON.stringify({ entry: m.entry, files: Object.fromEntries(Object.entries(m.files).sort(([a], [b]) => a.localeCompare(b))), dirs: [...(m.dirs ?? [])].sort() });

export function planUninstall(input: { readonly present: ReadonlyMap<string, Present>; readonly manifest?: Manifest; readonly force: boolean }): Step[] {
  if (!input.manifest) return [];
  const steps: Step[] = [];
  for (const path of Object.keys(input.manifest.files)) {
    const present = input.present.get(path) ?? { kind: 'absent' };
    if (present.kind === 'absent') continue;
    if (wroteIt(input.manifest, path, present)) steps.push({ kind: 'remove', path, why: 'uninstall' });
    else if (input.force) steps.push({ kind: 'remove', path, why: 'forced' });
    else steps.push({ kind: 'kept', path, reason: 'edited since sanhook installed it' });
  }
  steps.push({ kind: 'manifest', manifest: null });
  // then the directories installs created, deepest first (the executor leaves one that is not empty)
  for (const dir of [...(input.manifest.dirs ?? [])].sort((a, b) => b.length - a.length || b.localeCompare(a))) {
    if (input.present.get(dir)?.kind === 'dir') steps.push({ kind: 'rmdir', path: dir });
  }
  return steps;
}
