/**
 * `sanhook doctor` end to end: the real CLI against a temp root (fake sysfs,
 * etc, run and state directories; rules and units put there by the real
 * `sanhook install --destdir`), the fake nvme-cli 2.3, iproute2 dcb and
 * lldptool on a prepended PATH, and a real timerd. A healthy host passes every
 * check (exit 0); a host with warnings only exits 0; a broken one fails each
 * check with its advice, in text and `-o json`, and exits 1 with one line on
 * stderr and no stack trace.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectExit, FAKES_BIN, Sandbox } from './harness.js';

const HOSTID = '0f7b718b-ca26-43e8-b50a-d4410d1afaf8';
type Item = { hook: string; outcome: string; check?: string; status?: string; seen?: string; advice?: string; pass?: number; warn?: number; fail?: number; failed?: string[] };

let box: Sandbox;
beforeEach(() => {
  box = new Sandbox({ prefix: 'sanhook-doctor-' });
});
afterEach(async () => {
  await box.cleanup();
});

/** The rules, units and manifest as `sanhook install` puts them, below the temp root. */
async function installIntoRoot(): Promise<void> {
  expectExit(await box.run(['--log-level', 'warn', 'install', '--destdir', box.root, '--entry', '/usr/bin/sanhook']), 0);
}

/** A healthy Linux host: modules loaded, NVMe/TCP configured, host NQN and ID, rules and units installed, timerd running. */
async function healthy(): Promise<void> {
  for (const module of ['nvme_fabrics', 'nvme_tcp']) mkdirSync(path.join(box.sysfs, 'module', module), { recursive: true });
  box.writeRootFile('etc/nvme/discovery.conf', '# the array\n-t tcp -a 127.0.0.1 -s 8009\n');
  box.writeRootFile('etc/nvme/hostid', `${HOSTID}\n`);
  await installIntoRoot();
  await box.startTimerd().ready();
}

const byCheck = (items: Item[]) => new Map(items.filter((i) => i.check).map((i) => [i.check!, i]));
const doctor = (args: string[] = [], env?: Record<string, string>) => box.runJson(['--log-level', 'warn', 'doctor', ...args], env ? { env } : {});

describe('sanhook doctor', () => {
  it('a healthy host: every check passes, a summary, exit 0', async () => {
    await healthy();
    const { result, items } = await doctor();
    expectExit(result, 0);
    const checks = byCheck(items as Item[]);
    const notPassed = [...checks.values()].filter((i) => i.status !== 'pass');
    expect(notPassed).toEqual([]);
    expect([...checks.keys()]).toEqual(
      expect.arrayContaining([
        'config',
        'module:nvme-fabrics',
        'module:nvme-tcp',
        'tool:nvme',
        'nvmf:hostnqn',
        'nvmf:hostid',
        'nvmf:discovery.conf',
        'tool:dcb',
        'tool:lldptool',
        'module:ib_srp',
        'rules:70-sanhook-nvmf.rules',
        'rules:70-sanhook-srp.rules',
        'rules:81-sanhook-fcoe.rules',
        'coexist:70-nvmf-autoconnect.rules',
        'dir:run',
        'dir:state',
        'timerd',
        'unit:sanhook-timerd.service',
        'unit:sanhook-connect-boot.service',
      ]),
    );
    expect(checks.get('tool:nvme')!.seen).toContain('version 2.3');
    expect(checks.get('tool:dcb')!.seen).toContain('version 6.1.0');
    expect(checks.get('tool:lldptool')!.seen).toContain('version 1.1.0');
    expect(checks.get('module:nvme-tcp')!.seen).toContain(path.join(box.sysfs, 'module', 'nvme_tcp'));
    expect(checks.get('rules:70-sanhook-nvmf.rules')!.seen).toContain('as sanhook install wrote it');
    expect(checks.get('unit:sanhook-timerd.service')!.seen).toContain('`sanhook timerd`');
    expect(checks.get('timerd')!.seen).toContain('answers at');
    const summary = (items as Item[]).at(-1)!;
    expect(summary).toMatchObject({ hook: 'doctor', outcome: 'summary', warn: 0, fail: 0, failed: [] });
    expect(summary.pass).toBe(checks.size);
    expect(result.stderr).toBe('');
  }, 60_000);

  it('warnings alone exit 0: no host ID, an unused transport, nvme-cli autoconnect masked', async () => {
    await healthy();
    rmSync(path.join(box.etcDir, 'nvme', 'hostid'));
    mkdirSync(path.join(box.root, 'etc', 'udev', 'rules.d'), { recursive: true });
    symlinkSync('/dev/null', path.join(box.root, 'etc', 'udev', 'rules.d', '70-nvmf-autoconnect.rules'));
    box.writeRootFile('usr/lib/udev/rules.d/70-nvmf-autoconnect.rules', 'ACTION=="change", RUN+="nvme connect-all"\n');
    const { result, items } = await doctor();
    expectExit(result, 0);
    const checks = byCheck(items as Item[]);
    expect(checks.get('nvmf:hostid')).toMatchObject({ status: 'warn', advice: `install -d ${path.join(box.etcDir, 'nvme')} && uuidgen > ${path.join(box.etcDir, 'nvme', 'hostid')}` });
    expect(checks.get('coexist:70-nvmf-autoconnect.rules')).toMatchObject({ status: 'pass' });
    expect(checks.get('coexist:70-nvmf-autoconnect.rules')!.seen).toContain('masked');
    expect(checks.get('module:nvme-rdma')).toMatchObject({ status: 'pass', advice: 'when needed: modprobe nvme-rdma && echo nvme-rdma > /etc/modules-load.d/nvme-rdma.conf' });
  }, 60_000);

  describe('a broken host', () => {
    /** Only the fake dcb and lldptool (and node) on PATH: no nvme. */
    function pathWithoutNvme(): string {
      const bin = path.join(box.dir, 'bin-without-nvme');
      mkdirSync(bin, { recursive: true });
      for (const tool of ['dcb', 'lldptool']) {
        writeFileSync(path.join(bin, tool), `#!/bin/sh\nexec node ${JSON.stringify(path.join(FAKES_BIN, '..', `${tool}.mjs`))} "$@"\n`);
        chmodSync(path.join(bin, tool), 0o755);
      }
      return `${bin}${path.delimiter}${path.dirname(process.execPath)}`;
    }

    async function broken(): Promise<void> {
      box.writeRootFile('etc/nvme/discovery.conf', '-t tcp -a 127.0.0.1 -s 8009\n');
      box.writeRootFile('etc/nvme/hostnqn', 'not-an-nqn\n');
      await installIntoRoot();
      box.writeConfig('bogus: 1\n'); // after install, which reads it too
      const etcRules = path.join(box.root, 'etc', 'udev', 'rules.d');
      mkdirSync(etcRules, { recursive: true });
      symlinkSync('/dev/null', path.join(etcRules, '70-sanhook-nvmf.rules'));
      writeFileSync(path.join(etcRules, '70-sanhook-srp.rules'), '# an admin copy\n');
      const fcoeRules = path.join(box.root, 'usr', 'lib', 'udev', 'rules.d', '81-sanhook-fcoe.rules');
      writeFileSync(fcoeRules, `${readFileSync(fcoeRules, 'utf8')}# edited\n`);
      box.writeRootFile('usr/lib/udev/rules.d/70-nvmf-autoconnect.rules', 'ACTION=="change", RUN+="nvme connect-all"\n');
      mkdirSync(box.stateDir, { recursive: true });
      chmodSync(box.stateDir, 0o777);
      box.writeRootFile('etc/systemd/system/sanhook-connect-boot.service.d/50-local.conf', '[Service]\nReadOnlyPaths=/var/lib/sanhook/nvmf\n');
      box.writeRootFile('etc/systemd/system/sanhook-timerd.service.d/50-user.conf', '[Service]\nUser=sanhook\n');
    }

    const STATE = () => box.stateDir;
    const EXPECTED = (): [string, string, string | undefined][] => [
      ['config', 'fail', `fix ${path.join(box.etcDir, 'sanhook', 'sanhook.yaml')} (\`sanhook --help\` and the README's settings table list every key)`],
      ['module:nvme-fabrics', 'fail', 'modprobe nvme-fabrics && echo nvme-fabrics > /etc/modules-load.d/nvme-fabrics.conf'],
      ['module:nvme-tcp', 'fail', 'modprobe nvme-tcp && echo nvme-tcp > /etc/modules-load.d/nvme-tcp.conf'],
      ['tool:nvme', 'fail', 'apt install nvme-cli'],
      ['nvmf:hostnqn', 'fail', `nvme gen-hostnqn > ${path.join(box.etcDir, 'nvme', 'hostnqn')}`],
      ['rules:70-sanhook-nvmf.rules', 'fail', `rm ${path.join(box.root, 'etc', 'udev', 'rules.d', '70-sanhook-nvmf.rules')} && udevadm control --reload`],
      ['rules:70-sanhook-srp.rules', 'warn', undefined],
      ['rules:81-sanhook-fcoe.rules', 'warn', 'sanhook install --force restores it (keep a copy of your edit first)'],
      ['coexist:70-nvmf-autoconnect.rules', 'fail', 'sanhook coexist mask'],
      ['dir:state', 'fail', `chmod 0700 ${STATE()}`],
      ['timerd', 'fail', 'systemctl enable --now sanhook-timerd.socket sanhook-timerd.service'],
      ['unit:sanhook-connect-boot.service', 'fail', 'systemctl edit sanhook-connect-boot.service: remove the ReadOnlyPaths= entry that covers /var/lib/sanhook/nvmf/managed'],
      ['unit:sanhook-timerd.service', 'warn', undefined],
    ];

    it('-o json: each check fails or warns with its advice; exit 1, one line on stderr', async () => {
      await broken();
      const { result, items } = await doctor([], { PATH: pathWithoutNvme() });
      expectExit(result, 1);
      const checks = byCheck(items as Item[]);
      for (const [id, status, advice] of EXPECTED()) {
        expect(checks.get(id), id).toMatchObject({ status, ...(advice === undefined ? {} : { advice }) });
      }
      expect(checks.get('rules:70-sanhook-srp.rules')!.seen).toContain("overrides sanhook's");
      expect(checks.get('unit:sanhook-timerd.service')!.seen).toContain('User= is not modelled');
      expect(checks.get('unit:sanhook-connect-boot.service')!.seen).toContain('50-local.conf');
      expect(checks.get('nvmf:hostnqn')!.seen).toContain('hostnqn:1');
      expect(checks.get('module:nvme-tcp')!.seen).toContain('discovery.conf line 1 uses tcp');
      const summary = (items as Item[]).at(-1)!;
      expect(summary.outcome).toBe('summary');
      expect(summary.failed).toEqual(EXPECTED().filter(([, s]) => s === 'fail').map(([id]) => id));
      expect(result.stderr.trim().split('\n')).toEqual([`sanhook: doctor: ${summary.fail} blocking problem(s): ${summary.failed!.join(', ')}`]);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }, 60_000);

    it('text: one line per check, status first, the advice on the same line', async () => {
      await broken();
      const result = await box.run(['--log-level', 'warn', 'doctor'], { env: { PATH: pathWithoutNvme() } });
      expectExit(result, 1);
      const lines = result.stdout.trim().split('\n');
      for (const [id, status, advice] of EXPECTED()) {
        const line = lines.find((l) => l.split(/\s+/)[1] === `${id}:`);
        expect(line, id).toBeDefined();
        expect(line!.startsWith(status), line).toBe(true);
        if (advice) expect(line, id).toContain(`; advice: ${advice}`);
      }
      expect(lines.at(-1)).toMatch(/^summary\s+\d+ passed, \d+ warning\(s\), \d+ failed$/);
    }, 60_000);
  });

  it('a bad option is exit 2 with one line naming it', async () => {
    const result = await box.run(['doctor', '--prefix', '']);
    expectExit(result, 2);
    expect(result.stderr).toContain('--prefix');
    expect(result.stdout).toBe('');
  });
});
