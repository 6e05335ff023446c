/**
 * `sanhook coexist` next to nvme-cli's autoconnect, end to end: the real program, the
 * fake nvme as Debian 12's 2.3 (its 70-nvmf-autoconnect.rules is masked, as always) or
 * as an nvme-cli 3.0 that honours discovery-controller ownership (the rule is left
 * running, `owner-aware`, and status says why), and the persistent discovery controller
 * a discovery round creates recorded as sanhook's in the documented registry layout.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectExit, readAttributes, readUevent, Sandbox } from './harness.js';

const TARGET = ['-t', 'tcp', '-a', '127.0.0.1', '-s', '4420'];
const RULES = '70-nvmf-autoconnect.rules';
const SERVICE = 'nvmf-autoconnect.service';
const VENDOR_RULES = 'ACTION=="change", SUBSYSTEM=="nvme", ENV{NVME_AEN}=="0x70f002", RUN+="/bin/systemctl --no-block restart nvmf-connect@--device\\x3d$kernel.service"\n';

let box: Sandbox;
beforeEach(() => {
  box = new Sandbox();
  box.writeRootFile(`usr/lib/udev/rules.d/${RULES}`, VENDOR_RULES);
  box.writeRootFile(`lib/systemd/system/${SERVICE}`, '[Service]\nExecStart=/usr/sbin/nvme connect-all\n');
});
afterEach(async () => {
  await box.cleanup();
});

const rulesMask = () => path.join(box.root, 'etc', 'udev', 'rules.d', RULES);
const serviceMask = () => path.join(box.root, 'etc', 'systemd', 'system', SERVICE);
const registry = () => path.join(box.root, 'run', 'nvme', 'registry');
const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);
const asNvmeCli30 = () => writeFileSync(path.join(box.state, 'registry-version'), '3.0\n');
const items = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((i) => i.hook === 'coexist');
const byTarget = (stdout: string) => Object.fromEntries(items(stdout).map((i) => [i.target, i]));

describe('nvme-cli 2.3 (no ownership registry): masked as before', () => {
  it('mask masks the rule and the boot service; status says why the rule is not left running; unmask removes both links', async () => {
    const masked = await box.run(['-o', 'json', 'coexist', 'mask']);
    expectExit(masked, 0);
    expect(readlinkSync(rulesMask())).toBe('/dev/null');
    expect(readlinkSync(serviceMask())).toBe('/dev/null');
    expect(byTarget(masked.stdout)['nvme-cli udev rule']).toMatchObject({ outcome: 'masked', path: rulesMask() });

    const unmasked = await box.run(['coexist', 'unmask']);
    expectExit(unmasked, 0);
    expect(existsSync(rulesMask()) || existsSync(serviceMask())).toBe(false);
    const status = await box.run(['coexist', 'status']);
    expectExit(status, 0);
    expect(status.stdout).toContain(`nvme-cli udev rule: active (${path.join(box.root, 'usr/lib/udev/rules.d', RULES)}): the installed nvme-cli has no controller ownership registry`);
    expect(box.probes().map((c) => c.argv)).toContainEqual(['connect-all', '--help']);
  });

  it('the persistent discovery controller a round creates is recorded as sanhook\'s (sanhook writes the entry)', async () => {
    const result = await box.run(['-o', 'json', 'connect', ...TARGET, '--persistent']);
    expectExit(result, 0);
    const discover = box.nvmeCalls('discover');
    expect(discover).toHaveLength(1);
    expect(discover[0]!.argv).toContain('--persistent');
    expect(discover[0]!.argv).not.toContain('--owner'); // 2.3 would reject it
    const dc = String(discover[0]!.device);
    expect(readFileSync(path.join(box.sysfs, 'class', 'nvme', dc, 'cntrltype'), 'utf8').trim()).toBe('discovery');
    expect(readFileSync(path.join(registry(), dc, 'owner'), 'utf8')).toBe('sanhook\n');
    expect(Number(readFileSync(path.join(registry(), dc, 'seqnum'), 'utf8'))).toBeGreaterThan(0);
    expect(readdirSync(path.join(registry(), dc)).sort()).toEqual(['owner', 'seqnum']);
    expect([mode(path.join(registry(), dc)), mode(path.join(registry(), dc, 'owner')), mode(path.join(registry(), dc, 'seqnum'))]).toEqual(['755', '644', '644']);
    const claim = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((i) => i.outcome === 'claimed' && i.cntrltype === 'discovery');
    expect(claim).toMatchObject({ device: dc, owner: 'sanhook' });

    // the next round reads the log through it: nothing new is created or claimed
    const again = await box.run(['-o', 'json', 'connect', ...TARGET, '--persistent']);
    expectExit(again, 0);
    expect(again.stdout).not.toMatch(/"cntrltype":"discovery"/);
  });
});

describe('nvme-cli 3.0 (honours discovery-controller ownership)', () => {
  beforeEach(asNvmeCli30);

  it('mask leaves the rule running (owner-aware) and still masks the boot service; status says why; unmask undoes only the service mask', async () => {
    const masked = await box.run(['-o', 'json', 'coexist', 'mask']);
    expectExit(masked, 0);
    expect(existsSync(rulesMask())).toBe(false);
    expect(lstatSync(serviceMask()).isSymbolicLink()).toBe(true);
    const rule = byTarget(masked.stdout)['nvme-cli udev rule'];
    expect(rule).toMatchObject({ outcome: 'owner-aware', path: path.join(box.root, 'usr/lib/udev/rules.d', RULES) });
    expect(rule!.reason).toMatch(/the installed nvme-cli skips discovery controllers another orchestrator owns \(`nvme connect-all --help`\); sanhook owns the persistent ones it creates/);
    expect(byTarget(masked.stdout)['nvme-cli boot service']).toMatchObject({ outcome: 'masked', path: serviceMask() });

    const status = await box.run(['coexist', 'status']);
    expectExit(status, 0);
    expect(status.stdout).toMatch(/nvme-cli udev rule: owner-aware \(.*70-nvmf-autoconnect\.rules\): the installed nvme-cli skips discovery controllers/);
    expect(status.stdout).toMatch(/nvme-cli boot service: masked/);

    const unmasked = await box.run(['-o', 'json', 'coexist', 'unmask']);
    expectExit(unmasked, 0);
    expect(existsSync(serviceMask())).toBe(false);
    expect(byTarget(unmasked.stdout)['nvme-cli udev rule']).toMatchObject({ outcome: 'owner-aware' });
    expect(readFileSync(path.join(box.root, 'usr/lib/udev/rules.d', RULES), 'utf8')).toBe(VENDOR_RULES);
  });

  it('with nvme_fc loaded the rule is masked as before, and status names the FC events', async () => {
    mkdirSync(path.join(box.sysfs, 'class', 'fc', 'fc_udev_device'), { recursive: true });
    const masked = await box.run(['-o', 'json', 'coexist', 'mask']);
    expectExit(masked, 0);
    expect(readlinkSync(rulesMask())).toBe('/dev/null');
    expect(byTarget(masked.stdout)['nvme-cli udev rule']).toMatchObject({ outcome: 'masked' });
    const status = await box.run(['coexist', 'unmask']).then(() => box.run(['coexist', 'status']));
    expect(status.stdout).toMatch(/nvme-cli udev rule: active .*nvme_fc is loaded: the rule's FC nvmediscovery events/);
  });

  it('the persistent discovery controller is created with --owner sanhook and nvme-cli records it; sanhook writes nothing itself', async () => {
    const result = await box.run(['-o', 'json', 'connect', ...TARGET, '--persistent']);
    expectExit(result, 0);
    const discover = box.nvmeCalls('discover');
    expect(discover[0]!.argv).toEqual(expect.arrayContaining(['--persistent', '--owner', 'sanhook']));
    const dc = String(discover[0]!.device);
    expect(readFileSync(path.join(registry(), dc, 'owner'), 'utf8')).toBe('sanhook\n');
    expect(result.stdout).not.toMatch(/"outcome":"claimed"/);
    expect(box.probes().map((c) => c.argv)).toEqual(expect.arrayContaining([['discover', '--help'], ['connect', '--help']]));
    const status = await box.run(['status']);
    expect(status.stdout).toMatch(new RegExp(`${dc}: discovery controller .*owner sanhook`));
  });
});

describe("another orchestrator's discovery controller", () => {
  it("its discovery-log AEN is left to its owner: no get-log, no discover, no connect (exit 0, owned-by-other)", async () => {
    box.addController('nvme1', readAttributes('sysfs-discovery-ctrl.txt'));
    mkdirSync(path.join(registry(), 'nvme1'), { recursive: true });
    writeFileSync(path.join(registry(), 'nvme1', 'owner'), 'stas\n');
    writeFileSync(path.join(registry(), 'nvme1', 'seqnum'), '99999\n');
    const result = await box.run(['-o', 'json', 'connect', '--uevent'], { env: readUevent('uevent-aen.txt') });
    expectExit(result, 0);
    expect(box.calls()).toEqual([]);
    const item = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((i) => i.outcome === 'owned-by-other');
    expect(item).toMatchObject({ device: 'nvme1', owner: 'stas', cntrltype: 'discovery' });
  });
});
