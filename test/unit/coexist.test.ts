import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { setMask, setMasks, type MaskMode } from '../../src/core/coexist.js';
import { coexistTargets } from '../../src/core/registry.js';
import { FABRICS } from '../../src/hooks/index.js';
import { NVMF_AUTOCONNECT_RULES, NVMF_AUTOCONNECT_SERVICE } from '../../src/hooks/nvmf/coexist.js';
import { FCOE_SERVICE, FCOEMON_SOCKET } from '../../src/hooks/fcoe/coexist.js';
import { ActionError } from '../../src/core/errors.js';
import type { System } from '../../src/core/system.js';
import { tempSystem } from '../support/system.js';

const RULES = '70-nvmf-autoconnect.rules';
const setNvmeCliAutoconnect = (system: System, mode: MaskMode) => setMask(system, NVMF_AUTOCONNECT_RULES, mode);
const setNvmeCliBootService = (system: System, mode: MaskMode) => setMask(system, NVMF_AUTOCONNECT_SERVICE, mode);
const VENDOR_RULES = `# nvme-cli's rules\nACTION!="change", GOTO="autoconnect_end"\n`;

function at(system: System, ...parts: string[]): string {
  return path.join(system.paths.root, ...parts);
}

function put(file: string, text: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** A temp root where nvme-cli is installed the Debian way. */
function withNvmeCli(): { system: System; vendor: string; mask: string } {
  const system = tempSystem();
  const vendor = put(at(system, 'usr/lib/udev/rules.d', RULES), VENDOR_RULES);
  return { system, vendor, mask: path.join(system.paths.etc, 'udev/rules.d', RULES) };
}

describe('setNvmeCliAutoconnect: status', () => {
  it('absent when no rules directory has the file; path is where the mask would go', async () => {
    const system = tempSystem();
    expect(await setNvmeCliAutoconnect(system, 'status')).toEqual({ state: 'absent', path: path.join(system.paths.etc, 'udev/rules.d', RULES) });
  });

  it("active: nvme-cli's file in effect, the highest-priority directory wins", async () => {
    const { system, vendor } = withNvmeCli();
    expect(await setNvmeCliAutoconnect(system, 'status')).toMatchObject({ state: 'active', path: vendor });
    const runtime = put(at(system, 'run/udev/rules.d', RULES), VENDOR_RULES);
    expect(await setNvmeCliAutoconnect(system, 'status')).toMatchObject({ state: 'active', path: runtime });
  });

  it('masked by any form udev honours: /dev/null link, empty file, a link resolving to /dev/null', async () => {
    const { system, mask } = withNvmeCli();
    mkdirSync(path.dirname(mask), { recursive: true });
    symlinkSync('/dev/null', mask);
    expect(await setNvmeCliAutoconnect(system, 'status')).toEqual({ state: 'masked', path: mask });

    const empty = withNvmeCli();
    put(empty.mask, '');
    expect(await setNvmeCliAutoconnect(empty.system, 'status')).toEqual({ state: 'masked', path: empty.mask });

    const indirect = withNvmeCli();
    mkdirSync(path.dirname(indirect.mask), { recursive: true });
    symlinkSync('../../../../../../../../../../../dev/null', indirect.mask);
    expect(await setNvmeCliAutoconnect(indirect.system, 'status')).toEqual({ state: 'masked', path: indirect.mask });
  });

  it('a runtime mask in /run counts, under an /etc that has nothing', async () => {
    const { system } = withNvmeCli();
    const runtime = at(system, 'run/udev/rules.d', RULES);
    mkdirSync(path.dirname(runtime), { recursive: true });
    symlinkSync('/dev/null', runtime);
    expect(await setNvmeCliAutoconnect(system, 'status')).toEqual({ state: 'masked', path: runtime });
  });
});

describe('setNvmeCliAutoconnect: mask', () => {
  it('writes /etc/udev/rules.d/70-nvmf-autoconnect.rules -> /dev/null, leaves the vendor file alone, is idempotent', async () => {
    const { system, vendor, mask } = withNvmeCli();
    expect(await setNvmeCliAutoconnect(system, 'mask')).toEqual({ state: 'masked', path: mask });
    expect(lstatSync(mask).isSymbolicLink()).toBe(true);
    expect(readlinkSync(mask)).toBe('/dev/null');
    expect(readFileSync(vendor, 'utf8')).toBe(VENDOR_RULES);
    expect(await setNvmeCliAutoconnect(system, 'mask')).toEqual({ state: 'masked', path: mask });
    expect(readlinkSync(mask)).toBe('/dev/null');
  });

  it('masks even when nvme-cli is not installed (a later install stays inert)', async () => {
    const system = tempSystem();
    const mask = path.join(system.paths.etc, 'udev/rules.d', RULES);
    expect(await setNvmeCliAutoconnect(system, 'mask')).toEqual({ state: 'masked', path: mask });
    expect(readlinkSync(mask)).toBe('/dev/null');
  });

  it("refuses to replace an administrator's file, directory or other link, and changes nothing", async () => {
    const admin = withNvmeCli();
    put(admin.mask, '# local override\nACTION=="change", GOTO="autoconnect_end"\n');
    const error = await setNvmeCliAutoconnect(admin.system, 'mask').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActionError);
    expect((error as ActionError).message).toContain(admin.mask);
    expect((error as ActionError).message).toContain('a regular file');
    expect((error as ActionError).fields).toMatchObject({ path: admin.mask, found: 'a regular file' });
    expect(readFileSync(admin.mask, 'utf8')).toContain('local override');

    const dir = withNvmeCli();
    mkdirSync(dir.mask, { recursive: true });
    await expect(setNvmeCliAutoconnect(dir.system, 'mask')).rejects.toThrow(/a directory.*refusing/);

    const link = withNvmeCli();
    mkdirSync(path.dirname(link.mask), { recursive: true });
    symlinkSync(link.vendor, link.mask);
    await expect(setNvmeCliAutoconnect(link.system, 'mask')).rejects.toThrow(/a symlink to .*refusing/);
    expect(readlinkSync(link.mask)).toBe(link.vendor);
  });

  it('accepts an existing empty-file mask without rewriting it', async () => {
    const { system, mask } = withNvmeCli();
    put(mask, '');
    expect(await setNvmeCliAutoconnect(system, 'mask')).toEqual({ state: 'masked', path: mask });
    expect(lstatSync(mask).isFile()).toBe(true);
  });
});

describe('setNvmeCliAutoconnect: unmask', () => {
  it("removes sanhook's link: nvme-cli's file is in effect again", async () => {
    const { system, vendor, mask } = withNvmeCli();
    await setNvmeCliAutoconnect(system, 'mask');
    expect(await setNvmeCliAutoconnect(system, 'unmask')).toMatchObject({ state: 'active', path: vendor });
    expect(existsSync(mask)).toBe(false);
    expect(lstatSync(path.dirname(mask)).isDirectory()).toBe(true);
    expect(await setNvmeCliAutoconnect(system, 'unmask')).toMatchObject({ state: 'active', path: vendor });
  });

  it('absent after unmasking when nvme-cli is not installed', async () => {
    const system = tempSystem();
    await setNvmeCliAutoconnect(system, 'mask');
    expect((await setNvmeCliAutoconnect(system, 'unmask')).state).toBe('absent');
  });

  it("leaves an administrator's override in place and reports it", async () => {
    const { system, mask } = withNvmeCli();
    put(mask, '# local override\n');
    expect(await setNvmeCliAutoconnect(system, 'unmask')).toMatchObject({ state: 'active', path: mask });
    expect(readFileSync(mask, 'utf8')).toBe('# local override\n');
  });

  it('refuses to remove a mask it did not write (an empty file)', async () => {
    const { system, mask } = withNvmeCli();
    put(mask, '');
    const error = await setNvmeCliAutoconnect(system, 'unmask').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActionError);
    expect((error as ActionError).message).toMatch(/an empty file, a mask sanhook did not write/);
    expect(existsSync(mask)).toBe(true);
  });

  it('reports a runtime mask in /run that is still in effect', async () => {
    const { system } = withNvmeCli();
    const runtime = at(system, 'run/udev/rules.d', RULES);
    mkdirSync(path.dirname(runtime), { recursive: true });
    symlinkSync('/dev/null', runtime);
    await setNvmeCliAutoconnect(system, 'mask');
    expect(await setNvmeCliAutoconnect(system, 'unmask')).toEqual({ state: 'masked', path: runtime });
  });
});

describe('setNvmeCliAutoconnect: nvme-cli that honours discovery-controller ownership (3.0)', () => {
  /** `nvme connect-all --help` of an nvme-cli with the registry: argconfig layout on stderr, --owner listed. */
  const HELP_30 = '  [  --transport=<STR>, -t <STR> ]      --- transport type\n  [  --owner=<STR>, -O <STR> ]          --- owner\n';
  const asked: string[][] = [];
  const exec30: System['exec'] = async (file, args) => {
    asked.push([file, ...args]);
    return { argv: [file, ...args], exitCode: 0, stdout: '', stderr: file === 'nvme' && args[0] === 'connect-all' && args[1] === '--help' ? HELP_30 : '' };
  };
  function with30(): { system: System; vendor: string; mask: string } {
    const system = tempSystem(exec30);
    const vendor = put(at(system, 'usr/lib/udev/rules.d', RULES), VENDOR_RULES);
    return { system, vendor, mask: path.join(system.paths.etc, 'udev/rules.d', RULES) };
  }

  it('mask leaves the rule running (owner-aware, with the reason); status says the same; unmask has nothing to undo', async () => {
    const { system, vendor, mask } = with30();
    const owned = { state: 'owner-aware', path: vendor, reason: expect.stringMatching(/skips discovery controllers another orchestrator owns \(`nvme connect-all --help`\)/) };
    expect(await setNvmeCliAutoconnect(system, 'mask')).toEqual(owned);
    expect(existsSync(mask)).toBe(false);
    expect(await setNvmeCliAutoconnect(system, 'status')).toEqual(owned);
    expect(await setNvmeCliAutoconnect(system, 'unmask')).toEqual(owned);
    expect(asked).toContainEqual(['nvme', 'connect-all', '--help']);
  });

  it('with nvme_fc loaded the rule is masked as before (its FC events connect through discovery controllers nobody owns)', async () => {
    const { system, mask } = with30();
    put(path.join(system.paths.sysfs, 'class/fc/fc_udev_device/uevent'), '');
    expect(await setNvmeCliAutoconnect(system, 'status')).toMatchObject({ state: 'active', reason: expect.stringMatching(/nvme_fc is loaded/) });
    expect(await setNvmeCliAutoconnect(system, 'mask')).toMatchObject({ state: 'masked', path: mask });
    expect(readlinkSync(mask)).toBe('/dev/null');
  });

  it('a mask written before the upgrade is kept by mask (it may be the admin\'s); unmask removes it and the rule runs owner-aware', async () => {
    const { system, vendor, mask } = with30();
    mkdirSync(path.dirname(mask), { recursive: true });
    symlinkSync('/dev/null', mask);
    expect(await setNvmeCliAutoconnect(system, 'mask')).toEqual({ state: 'masked', path: mask });
    expect(await setNvmeCliAutoconnect(system, 'unmask')).toMatchObject({ state: 'owner-aware', path: vendor });
    expect(existsSync(mask)).toBe(false);
  });

  it('the boot service is masked on 3.0 too (boot connect-all creates discovery controllers nobody owns yet)', async () => {
    const system = tempSystem(exec30);
    put(at(system, 'lib/systemd/system/nvmf-autoconnect.service'), '[Service]\nExecStart=/usr/sbin/nvme connect-all\n');
    expect(await setNvmeCliBootService(system, 'mask')).toEqual({ state: 'masked', path: path.join(system.paths.etc, 'systemd/system/nvmf-autoconnect.service') });
  });
});

describe('setNvmeCliBootService', () => {
  it('masks nvmf-autoconnect.service the way `systemctl mask` does, and unmasks it', async () => {
    const system = tempSystem();
    const vendor = put(at(system, 'lib/systemd/system/nvmf-autoconnect.service'), '[Service]\nExecStart=/usr/sbin/nvme connect-all\n');
    const mask = path.join(system.paths.etc, 'systemd/system/nvmf-autoconnect.service');
    expect(await setNvmeCliBootService(system, 'status')).toEqual({ state: 'active', path: vendor });
    expect(await setNvmeCliBootService(system, 'mask')).toEqual({ state: 'masked', path: mask });
    expect(readlinkSync(mask)).toBe('/dev/null');
    expect(await setNvmeCliBootService(system, 'unmask')).toEqual({ state: 'active', path: vendor });
  });
});

describe('setMasks: every registered target, in order', () => {
  it("nvme-cli's rule and boot service are NVMe-oF's targets (then fcoe-utils' for FCoE); one call masks, reports and unmasks both", async () => {
    expect(coexistTargets(FABRICS)).toEqual([NVMF_AUTOCONNECT_RULES, NVMF_AUTOCONNECT_SERVICE, FCOE_SERVICE, FCOEMON_SOCKET]);
    const { system, vendor } = withNvmeCli();
    const service = put(at(system, 'usr/lib/systemd/system/nvmf-autoconnect.service'), '[Service]\n');
    const rulesMask = path.join(system.paths.etc, 'udev/rules.d', RULES);
    const serviceMask = path.join(system.paths.etc, 'systemd/system/nvmf-autoconnect.service');
    const nvmeCli = coexistTargets(FABRICS).filter((t) => t.owner === 'nvme-cli');
    const summary = async (mode: MaskMode) => (await setMasks(system, nvmeCli, mode)).map((r) => [r.target.description, r.state, r.path]);
    expect(await summary('status')).toEqual([
      ['nvme-cli udev rule', 'active', vendor],
      ['nvme-cli boot service', 'active', service],
    ]);
    expect(await summary('mask')).toEqual([
      ['nvme-cli udev rule', 'masked', rulesMask],
      ['nvme-cli boot service', 'masked', serviceMask],
    ]);
    expect(await summary('unmask')).toEqual([
      ['nvme-cli udev rule', 'active', vendor],
      ['nvme-cli boot service', 'active', service],
    ]);
  });

  it("a target of another fabric is masked the same way, with its owner's name in messages", async () => {
    const system = tempSystem();
    const target = { description: 'acme udev rule', owner: 'acme-tools', file: '60-acme.rules', manager: 'udev', maskWhat: 'udev rules directory for the mask of acme' } as const;
    const mask = put(path.join(system.paths.etc, 'udev/rules.d/60-acme.rules'), '# mine\n');
    const error = await setMasks(system, [target], 'mask').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActionError);
    expect((error as Error).message).toBe(`${mask} is a regular file, an administrator's override of acme-tools's 60-acme.rules: refusing to replace it; move it away (or empty it) and mask again`);
  });
});
