/**
 * `sanhook install`'s decisions as tables (src/install/plan.ts): what is
 * written, kept, linked and removed for each state of the disk and the
 * manifest, with no file system.
 */
import { describe, expect, it } from 'vitest';
import { ancestors, hashOf, MANIFEST_STEP, planInstall, planUninstall, type Manifest, type Present, type Step, type Wanted } from '../../src/install/plan.js';

const RULE = '/usr/lib/udev/rules.d/70-sanhook-nvmf.rules';
const UNIT = '/usr/lib/systemd/system/sanhook-timerd.service';
const LINK = '/etc/networkd-dispatcher/off.d/sanhook-fcoe';
const SCRIPT = '/usr/lib/sanhook/networkd-dispatcher/sanhook-fcoe';
const MANIFEST = '/usr/share/sanhook/install-manifest.json';
const ENTRY = '/usr/sbin/sanhook';

const file = (path: string, text: string, mode = 0o644): Wanted => ({ kind: 'file', path, text, mode });
const onDisk = (text: string, mode = 0o644): Present => ({ kind: 'file', hash: hashOf(text), mode });
const everyDir = (...paths: string[]): [string, Present][] => [...new Set(paths.flatMap(ancestors))].map((dir) => [dir, { kind: 'dir' }]);
const shape = (steps: Step[]) => steps.map((s) => (s.kind === 'write' ? ['write', s.path, s.why] : s.kind === 'manifest' ? ['manifest', s.manifest === null ? null : Object.keys(s.manifest.files).length] : s.kind === 'kept' ? ['kept', s.path, s.reason] : s.kind === 'link' ? ['link', s.path, s.why] : [s.kind, s.path]));
const manifestOf = (files: Manifest['files'], dirs: string[] = []): Manifest => ({ entry: ENTRY, files, dirs });

describe('planInstall', () => {
  const dirs = everyDir(RULE, UNIT, LINK, SCRIPT, MANIFEST);
  const plan = (wanted: Wanted[], present: [string, Present][], manifest?: Manifest, force = false) =>
    planInstall({ wanted, present: new Map([...dirs, ...present]), ...(manifest ? { manifest } : {}), entry: ENTRY, force, manifestPath: MANIFEST });

  it.each<[string, Wanted[], [string, Present][], Manifest | undefined, boolean, unknown[]]>([
    ['absent: written (new), then the manifest', [file(RULE, 'a')], [], undefined, false, [['write', RULE, 'new'], ['manifest', 1]]],
    ['identical: unchanged, and an unchanged manifest is not rewritten', [file(RULE, 'a')], [[RULE, onDisk('a')]], manifestOf({ [RULE]: { hash: hashOf('a') } }), false, [['unchanged', RULE], ['unchanged', MANIFEST_STEP]]],
    ['identical but another mode: chmod', [file(RULE, 'a')], [[RULE, onDisk('a', 0o600)]], manifestOf({ [RULE]: { hash: hashOf('a') } }), false, [['chmod', RULE], ['unchanged', MANIFEST_STEP]]],
    ['as sanhook wrote it, the package changed: update', [file(RULE, 'b')], [[RULE, onDisk('a')]], manifestOf({ [RULE]: { hash: hashOf('a') } }), false, [['write', RULE, 'update'], ['manifest', 1]]],
    ['edited by an admin: kept', [file(RULE, 'b')], [[RULE, onDisk('edited')]], manifestOf({ [RULE]: { hash: hashOf('a') } }), false, [['kept', RULE, 'edited since sanhook installed it'], ['unchanged', MANIFEST_STEP]]],
    ['edited, --force: replaced', [file(RULE, 'b')], [[RULE, onDisk('edited')]], manifestOf({ [RULE]: { hash: hashOf('a') } }), true, [['write', RULE, 'forced'], ['manifest', 1]]],
    ['someone else\'s file at that path: kept, not recorded', [file(RULE, 'b')], [[RULE, onDisk('theirs')]], undefined, false, [['kept', RULE, 'not installed by sanhook'], ['manifest', 0]]],
    ['a directory where a file goes: kept', [file(RULE, 'b')], [[RULE, { kind: 'other' }]], undefined, false, [['kept', RULE, 'not installed by sanhook'], ['manifest', 0]]],
    ['a link: made when absent', [{ kind: 'link', path: LINK, target: SCRIPT }], [], undefined, false, [['link', LINK, 'new'], ['manifest', 1]]],
    ['a link already right: unchanged', [{ kind: 'link', path: LINK, target: SCRIPT }], [[LINK, { kind: 'link', target: SCRIPT }]], manifestOf({ [LINK]: { link: SCRIPT } }), false, [['unchanged', LINK], ['unchanged', MANIFEST_STEP]]],
    ['a link pointing elsewhere, not ours: kept', [{ kind: 'link', path: LINK, target: SCRIPT }], [[LINK, { kind: 'link', target: '/opt/x' }]], undefined, false, [['kept', LINK, "a link to /opt/x, not sanhook's"], ['manifest', 0]]],
    ['a file the package no longer ships, still ours: removed', [file(RULE, 'a')], [[RULE, onDisk('a')], [UNIT, onDisk('u')]], manifestOf({ [RULE]: { hash: hashOf('a') }, [UNIT]: { hash: hashOf('u') } }), false, [['unchanged', RULE], ['remove', UNIT], ['manifest', 1]]],
    ['no longer shipped and edited: kept and still recorded', [file(RULE, 'a')], [[RULE, onDisk('a')], [UNIT, onDisk('edited')]], manifestOf({ [RULE]: { hash: hashOf('a') }, [UNIT]: { hash: hashOf('u') } }), false, [['unchanged', RULE], ['kept', UNIT, 'no longer shipped, but edited since sanhook installed it'], ['unchanged', MANIFEST_STEP]]],
  ])('%s', (_name, wanted, present, manifest, force, expected) => {
    expect(shape(plan(wanted, present, manifest, force))).toEqual(expected);
  });

  it('records the directories it creates (and the manifest\'s), never ones that were there', () => {
    const steps = planInstall({ wanted: [file(RULE, 'a')], present: new Map<string, Present>([['/usr', { kind: 'dir' }], ['/usr/lib', { kind: 'dir' }]]), entry: ENTRY, force: false, manifestPath: MANIFEST });
    const manifest = steps.at(-1) as Extract<Step, { kind: 'manifest' }>;
    expect(manifest.manifest?.dirs).toEqual(['/usr/lib/udev', '/usr/lib/udev/rules.d', '/usr/share', '/usr/share/sanhook']);
  });
});

describe('planUninstall', () => {
  const manifest = manifestOf({ [RULE]: { hash: hashOf('a') }, [UNIT]: { hash: hashOf('u') }, [LINK]: { link: SCRIPT } }, ['/usr/lib/udev', '/usr/lib/udev/rules.d', '/etc/networkd-dispatcher', '/etc/networkd-dispatcher/off.d']);
  const present = (unit: Present): Map<string, Present> =>
    new Map<string, Present>([[RULE, onDisk('a')], [UNIT, unit], [LINK, { kind: 'link', target: SCRIPT }], ...(manifest.dirs ?? []).map((d): [string, Present] => [d, { kind: 'dir' }])]);

  it('removes exactly what sanhook wrote, then the manifest, then its directories deepest first', () => {
    expect(shape(planUninstall({ present: present(onDisk('u')), manifest, force: false }))).toEqual([
      ['remove', RULE],
      ['remove', UNIT],
      ['remove', LINK],
      ['manifest', null],
      ['rmdir', '/etc/networkd-dispatcher/off.d'],
      ['rmdir', '/etc/networkd-dispatcher'],
      ['rmdir', '/usr/lib/udev/rules.d'],
      ['rmdir', '/usr/lib/udev'],
    ]);
  });
  it('keeps an edited file (its directory then stays: the executor leaves a directory that is not empty); --force removes it', () => {
    expect(shape(planUninstall({ present: present(onDisk('edited')), manifest, force: false }))[1]).toEqual(['kept', UNIT, 'edited since sanhook installed it']);
    expect(shape(planUninstall({ present: present(onDisk('edited')), manifest, force: true }))[1]).toEqual(['remove', UNIT]);
  });
  it('a file already gone is skipped; no manifest means nothing to do', () => {
    expect(shape(planUninstall({ present: present({ kind: 'absent' }), manifest, force: false })).map((s) => s[1])).not.toContain(UNIT);
    expect(planUninstall({ present: new Map(), force: false })).toEqual([]);
  });
});
