/**
 * `sanhook install` end to end, into a temp --destdir: what lands where, with
 * which mode and the entry filled in; a re-run that changes nothing; an edited
 * file kept (exit 1) until --force; --dry-run writing nothing; --uninstall
 * leaving nothing behind; FreeBSD's devd conf and rc.d script.
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectExit, Sandbox } from './harness.js';

const ENTRY = '/opt/sanhook/bin/sanhook';
let box: Sandbox;
let dest: string;
beforeEach(() => {
  box = new Sandbox({ prefix: 'sanhook-install-' });
  dest = mkdtempSync(path.join(os.tmpdir(), 'sanhook-destdir-'));
});
afterEach(async () => {
  await box.cleanup();
  rmSync(dest, { recursive: true, force: true });
});

const install = (...args: string[]) => box.run(['--log-level', 'warn', 'install', '--destdir', dest, '--entry', ENTRY, ...args]);
/** Every file and link below the destdir: relative path → mode (octal) or `-> target`. */
function tree(root = dest): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      const stat = lstatSync(file);
      if (stat.isDirectory()) walk(file);
      else out[path.relative(root, file)] = stat.isSymbolicLink() ? `-> ${readlinkSync(file)}` : (stat.mode & 0o777).toString(8);
    }
  };
  walk(root);
  return out;
}

describe('sanhook install (Linux)', () => {
  it('puts rules, units and dispatcher scripts in place with their modes, the entry filled in, and a manifest', async () => {
    const result = await install();
    expectExit(result, 0);
    const files = tree();
    expect(files).toMatchObject({
      'usr/lib/udev/rules.d/70-sanhook-nvmf.rules': '644',
      'usr/lib/udev/rules.d/70-sanhook-srp.rules': '644',
      'usr/lib/udev/rules.d/81-sanhook-fcoe.rules': '644',
      'usr/lib/systemd/system/sanhook-timerd.service': '644',
      'usr/lib/systemd/system/sanhook-timerd.socket': '644',
      'usr/lib/tmpfiles.d/sanhook-nvme-registry.conf': '644',
      'usr/lib/systemd/system/sanhook-metrics.service': '644',
      'usr/lib/systemd/system/sanhook-metrics.timer': '644',
      'etc/NetworkManager/dispatcher.d/90-sanhook-fcoe': '755',
      'usr/lib/sanhook/networkd-dispatcher/sanhook-fcoe': '755',
      'etc/networkd-dispatcher/carrier.d/sanhook-fcoe': '-> /usr/lib/sanhook/networkd-dispatcher/sanhook-fcoe',
      'usr/share/sanhook/install-manifest.json': '644',
    });
    for (const [file, mode] of Object.entries(files)) {
      if (mode.startsWith('->') || file.endsWith('.json')) continue;
      const text = readFileSync(path.join(dest, file), 'utf8');
      expect(text, file).not.toContain('/usr/bin/sanhook');
    }
    expect(readFileSync(path.join(dest, 'usr/lib/systemd/system/sanhook-timerd.service'), 'utf8')).toMatch(new RegExp(`^ExecStart=${ENTRY} timerd`, 'm'));
    expect(readFileSync(path.join(dest, 'usr/lib/udev/rules.d/70-sanhook-srp.rules'), 'utf8')).toContain(`RUN+="${ENTRY} srp-setup --uevent"`);
  });

  it('a re-run changes nothing: every file unchanged, not even rewritten', async () => {
    expectExit(await install(), 0);
    const before = Object.fromEntries(Object.keys(tree()).map((f) => [f, lstatSync(path.join(dest, f)).mtimeMs]));
    const again = await install();
    expectExit(again, 0);
    expect(again.stdout.trim().split('\n').every((line) => line.startsWith('unchanged'))).toBe(true);
    expect(Object.fromEntries(Object.keys(tree()).map((f) => [f, lstatSync(path.join(dest, f)).mtimeMs]))).toEqual(before);
  });

  it('an edited unit is kept (exit 1, naming it) until --force; other files still installed', async () => {
    expectExit(await install(), 0);
    const unit = path.join(dest, 'usr/lib/systemd/system/sanhook-timerd.service');
    writeFileSync(unit, 'edited by the admin\n');
    const result = await install();
    expectExit(result, 1);
    expect(result.stderr).toBe('sanhook: kept 1 file(s) sanhook did not write or an admin changed (--force replaces them): /usr/lib/systemd/system/sanhook-timerd.service (edited since sanhook installed it)\n');
    expect(readFileSync(unit, 'utf8')).toBe('edited by the admin\n');
    expectExit(await install('--force'), 0);
    expect(readFileSync(unit, 'utf8')).toContain('ExecStart=');
  });

  it("a file sanhook never wrote is kept, and uninstall leaves it alone", async () => {
    const rule = path.join(dest, 'usr/lib/udev/rules.d/70-sanhook-nvmf.rules');
    mkdirSync(path.dirname(rule), { recursive: true });
    writeFileSync(rule, 'the admin\'s own\n');
    expectExit(await install(), 1);
    expectExit(await install('--uninstall'), 0);
    expect(tree()).toEqual({ 'usr/lib/udev/rules.d/70-sanhook-nvmf.rules': '644' });
    expect(readFileSync(rule, 'utf8')).toBe("the admin's own\n");
  });

  it('--dry-run lists what it would write and writes nothing', async () => {
    const result = await install('--dry-run');
    expectExit(result, 0);
    expect(result.stdout).toContain(`would-install     ${dest}/usr/lib/udev/rules.d/70-sanhook-srp.rules`);
    expect(result.stdout).toContain(`would-link        ${dest}/etc/networkd-dispatcher/off.d/sanhook-fcoe`);
    expect(tree()).toEqual({});
  });

  it('--uninstall removes exactly what it installed, and the directories it created', async () => {
    expectExit(await install(), 0);
    expectExit(await install('--uninstall'), 0);
    expect(readdirSync(dest)).toEqual([]);
    const again = await install('--uninstall');
    expectExit(again, 0);
    expect(again.stdout).toContain('nothing to uninstall');
  });

  it('--entry must be an absolute path udev and systemd will not split: exit 2', async () => {
    const result = await box.run(['install', '--destdir', dest, '--entry', 'sanhook']);
    expectExit(result, 2);
    expect(result.stderr).toMatch(/^sanhook: --entry: must be an absolute path/);
    expect(statSync(dest).isDirectory() && readdirSync(dest)).toEqual([]);
  });
});

describe('sanhook install (FreeBSD)', () => {
  it('devd conf and the rc.d script under /usr/local/etc, the entry filled in', async () => {
    const result = await box.run(['--platform', 'freebsd', '--log-level', 'warn', 'install', '--destdir', dest, '--entry', ENTRY]);
    expectExit(result, 0);
    expect(tree()).toEqual({
      'usr/local/etc/devd/sanhook.conf': '644',
      'usr/local/etc/rc.d/sanhook_timerd': '755',
      'usr/local/share/sanhook/install-manifest.json': '644',
    });
    expect(readFileSync(path.join(dest, 'usr/local/etc/devd/sanhook.conf'), 'utf8')).toContain(ENTRY);
    expect(readFileSync(path.join(dest, 'usr/local/etc/devd/sanhook.conf'), 'utf8')).not.toContain('/usr/local/bin/sanhook');
  });
});
