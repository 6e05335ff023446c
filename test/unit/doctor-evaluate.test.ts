/**
 * `sanhook doctor`'s decisions (src/doctor/evaluate.ts, and NVMe-oF's own
 * checks in src/hooks/nvmf/doctor.ts) as tables: observation in, status and
 * advice out. No processes, no files.
 */
import { describe, expect, it } from 'vitest';
import type { CheckResult, ModuleNeed, ToolNeed, Usage } from '../../src/core/requirements.js';
import {
  compareVersions,
  evaluateCoexist,
  evaluateConfig,
  evaluateDir,
  evaluateModule,
  evaluateRule,
  evaluateTimerd,
  evaluateTool,
  evaluateUnit,
  summarize,
  sysfsModuleName,
  type DirSeen,
  type RuleSeen,
  type ToolSeen,
  type UnitSeen,
} from '../../src/doctor/evaluate.js';
import { FABRICS } from '../../src/hooks/index.js';
import { evaluateDiscoveryConf, evaluateHostFile } from '../../src/hooks/nvmf/doctor.js';

const none: Usage = new Map();
const tcpInUse: Usage = new Map([['nvmf:tcp', '/etc/nvme/discovery.conf line 1 uses tcp']]);
const need = (fabric: string, kind: 'modules' | 'tools', name: string) => {
  const doctor = FABRICS.find((f) => f.name === fabric)!.doctor!;
  return kind === 'modules' ? doctor.modules.find((m) => m.module === name)! : doctor.tools.find((t) => t.tool === name)!;
};
const fabricsDev = need('nvmf', 'modules', 'nvme-fabrics') as ModuleNeed;
const nvmeTcp = need('nvmf', 'modules', 'nvme-tcp') as ModuleNeed;
const nvmf = need('nvmf', 'modules', 'nvmf') as ModuleNeed;
const nvme = need('nvmf', 'tools', 'nvme') as ToolNeed;
const dcb = need('fcoe', 'tools', 'dcb') as ToolNeed;
const lldptool = need('fcoe', 'tools', 'lldptool') as ToolNeed;
const nvmecontrol = need('nvmf', 'tools', 'nvmecontrol') as ToolNeed;

const pick = (r: CheckResult) => [r.status, r.advice];

describe('kernel modules', () => {
  it('maps module names to /sys/module names as the kernel does', () => {
    expect(['nvme-fabrics', 'nvme_tcp', 'ib_srp', 'libfcoe'].map(sysfsModuleName)).toEqual(['nvme_fabrics', 'nvme_tcp', 'ib_srp', 'libfcoe']);
  });

  it.each([
    ['always needed, loaded', fabricsDev, { loaded: true, how: '/sys/module/nvme_fabrics' }, none, 'pass', undefined],
    ['always needed, built in', fabricsDev, { loaded: true, how: 'built in: /sys/class/nvme-fabrics' }, none, 'pass', undefined],
    ['always needed, missing', fabricsDev, { loaded: false, looked: '/sys/module/nvme_fabrics' }, none, 'fail', 'modprobe nvme-fabrics && echo nvme-fabrics > /etc/modules-load.d/nvme-fabrics.conf'],
    ['transport in use, missing', nvmeTcp, { loaded: false, looked: '/sys/module/nvme_tcp' }, tcpInUse, 'fail', 'modprobe nvme-tcp && echo nvme-tcp > /etc/modules-load.d/nvme-tcp.conf'],
    ['transport unused, missing: informational', nvmeTcp, { loaded: false, looked: '/sys/module/nvme_tcp' }, none, 'pass', 'when needed: modprobe nvme-tcp && echo nvme-tcp > /etc/modules-load.d/nvme-tcp.conf'],
    ['FreeBSD nvmf missing', nvmf, { loaded: false, looked: 'kldstat -q -m nvmf (exit 1)' }, none, 'fail', 'kldload nvmf && sysrc kld_list+=nvmf'],
  ] as const)('%s', (_name, module, seen, usage, status, advice) => {
    expect(pick(evaluateModule(module, seen, usage))).toEqual([status, advice]);
  });

  it('says why a missing module is needed', () => {
    expect(evaluateModule(nvmeTcp, { loaded: false, looked: '/sys/module/nvme_tcp' }, tcpInUse).seen).toContain('needed: /etc/nvme/discovery.conf line 1 uses tcp');
  });
});

describe('tools', () => {
  const ran = (stdout: string, exitCode = 0): ToolSeen => ({ found: true, exitCode, stdout, stderr: '' });
  it.each([
    ['nvme-cli 2.3 (Debian 12)', nvme, ran('nvme version 2.3 (git 2.3)\nlibnvme version 1.3 (git 1.3)\n'), none, 'pass', undefined, 'version 2.3'],
    ['nvme-cli 1.16: too old for its JSON', nvme, ran('nvme version 1.16\n'), none, 'fail', 'upgrade: apt install nvme-cli', 'older than 2.0'],
    ['nvme missing', nvme, { found: false } as ToolSeen, none, 'fail', 'apt install nvme-cli', 'not found on PATH'],
    ['nvme prints something else', nvme, ran('usage: ...\n', 1), none, 'warn', 'check that nvme on PATH is the real one; reinstall: apt install nvme-cli', 'exit 1: usage: ...'],
    ['dcb from iproute2 6.1', dcb, ran('dcb utility, iproute2-6.1.0\n'), new Map([['fcoe:dcb', 'x']]), 'pass', undefined, 'version 6.1.0'],
    ['dcb missing, needed', dcb, { found: false } as ToolSeen, new Map([['fcoe:dcb', 'cfg-eth1 has DCB_REQUIRED="yes"']]), 'fail', 'apt install iproute2', 'needed: cfg-eth1'],
    ['dcb missing, not needed', dcb, { found: false } as ToolSeen, none, 'pass', 'when needed: apt install iproute2', 'not needed'],
    ['lldptool 1.1.0', lldptool, ran('lldptool v1.1.0\nCopyright (c) 2007-2010, Intel Corporation\n'), none, 'pass', undefined, 'version 1.1.0'],
    ['lldptool missing, needed', lldptool, { found: false } as ToolSeen, new Map([['fcoe:lldpad', 'x']]), 'fail', 'apt install lldpad', 'not found'],
    ['nvmecontrol present (any exit)', nvmecontrol, ran('', 1), none, 'pass', undefined, 'of the base system'],
  ] as const)('%s', (_name, tool, seen, usage, status, advice, text) => {
    const result = evaluateTool(tool, seen, usage);
    expect(pick(result)).toEqual([status, advice]);
    expect(result.seen).toContain(text);
  });

  it.each([
    ['2.3', '2.0', 1],
    ['2.10', '2.3', 1],
    ['1.16', '2.0', -1],
    ['2.0', '2', 0],
    ['6.1.0', '6.1', 0],
  ] as const)('compareVersions(%s, %s) = %d', (a, b, sign) => expect(compareVersions(a, b)).toBe(sign));
});

describe('run and state directories', () => {
  const dir = (found: DirSeen['found'], runnerUid = 0): DirSeen => ({ name: 'state', path: '/var/lib/sanhook', what: 'state', found, runnerUid });
  it.each([
    ['root-owned 0700, writable', dir({ kind: 'dir', mode: 0o40700, uid: 0, writable: true }), 'pass', undefined],
    ['absent, creatable', dir({ kind: 'absent', parent: '/var/lib', creatable: true }), 'pass', undefined],
    ['absent, parent read-only', dir({ kind: 'absent', parent: '/var/lib', creatable: false, why: 'EROFS' }), 'fail', 'install -d -m 0700 -o root -g root /var/lib/sanhook'],
    ['world-writable', dir({ kind: 'dir', mode: 0o40777, uid: 0, writable: true }), 'fail', 'chmod 0700 /var/lib/sanhook'],
    ['group-readable', dir({ kind: 'dir', mode: 0o40750, uid: 0, writable: true }), 'warn', 'chmod 0700 /var/lib/sanhook'],
    ['owned by another user', dir({ kind: 'dir', mode: 0o40700, uid: 1000, writable: true }), 'fail', 'chown root:root /var/lib/sanhook'],
    ["owned by the (non-root) user running doctor", dir({ kind: 'dir', mode: 0o40700, uid: 1000, writable: true }, 1000), 'pass', undefined],
    ['read-only mount', dir({ kind: 'dir', mode: 0o40700, uid: 0, writable: false, why: 'EROFS' }), 'fail', 'make /var/lib/sanhook writable for root (a read-only mount? see `findmnt -T /var/lib/sanhook`)'],
    ['a file in its place', dir({ kind: 'not-dir', what: 'a file' }), 'fail', 'move /var/lib/sanhook away; sanhook creates the directory (0700) on first use'],
  ] as const)('%s', (_name, seen, status, advice) => {
    expect(pick(evaluateDir(seen))).toEqual([status, advice]);
  });
});

describe('timerd', () => {
  it.each([
    ['answers', { ok: true, socket: '/run/sanhook/timerd.sock', pid: 42, entries: 3 } as const, 'linux', 'pass', undefined],
    ['not running (Linux)', { ok: false, socket: '/run/sanhook/timerd.sock', why: 'not running' } as const, 'linux', 'fail', 'systemctl enable --now sanhook-timerd.socket sanhook-timerd.service'],
    ['not running (FreeBSD)', { ok: false, socket: '/var/run/sanhook/timerd.sock', why: 'not running' } as const, 'freebsd', 'fail', 'sysrc sanhook_timerd_enable=YES && service sanhook_timerd start'],
  ] as const)('%s', (_name, seen, platform, status, advice) => {
    expect(pick(evaluateTimerd(seen, platform))).toEqual([status, advice]);
  });
});

describe('rule files', () => {
  const base: Omit<RuleSeen, 'copies'> = {
    file: '70-sanhook-nvmf.rules',
    shadowing: true,
    dirs: ['/etc/udev/rules.d', '/usr/lib/udev/rules.d'],
    installedAt: '/usr/lib/udev/rules.d/70-sanhook-nvmf.rules',
    manifest: { found: true, path: '/usr/share/sanhook/install-manifest.json' },
  };
  const usr = { path: '/usr/lib/udev/rules.d/70-sanhook-nvmf.rules', kind: 'file', origin: 'ours' } as const;
  it.each([
    ['installed by sanhook install', { ...base, copies: [usr] }, 'pass', undefined],
    ['missing everywhere', { ...base, copies: [] }, 'fail', 'sanhook install'],
    ['masked in /etc', { ...base, copies: [{ path: '/etc/udev/rules.d/70-sanhook-nvmf.rules', kind: 'mask', origin: 'unknown' }, usr] }, 'fail', 'rm /etc/udev/rules.d/70-sanhook-nvmf.rules && udevadm control --reload'],
    [
      "an admin's copy in /etc shadows sanhook's",
      { ...base, copies: [{ path: '/etc/udev/rules.d/70-sanhook-nvmf.rules', kind: 'file', origin: 'unknown' }, usr] },
      'warn',
      "diff /usr/lib/udev/rules.d/70-sanhook-nvmf.rules /etc/udev/rules.d/70-sanhook-nvmf.rules; rm /etc/udev/rules.d/70-sanhook-nvmf.rules && udevadm control --reload to use sanhook's",
    ],
    ['edited in place', { ...base, copies: [{ ...usr, origin: 'edited' }] }, 'warn', 'sanhook install --force restores it (keep a copy of your edit first)'],
    ['no manifest, present (a distribution package)', { ...base, installedAt: undefined, manifest: { found: false, path: '/usr/share/sanhook/install-manifest.json' }, copies: [{ ...usr, origin: 'unknown' }] }, 'pass', undefined],
    [
      'devd: the conf in both directories runs twice',
      { ...base, file: 'sanhook.conf', shadowing: false, copies: [{ path: '/etc/devd/sanhook.conf', kind: 'file', origin: 'unknown' }, { path: '/usr/local/etc/devd/sanhook.conf', kind: 'file', origin: 'ours' }] },
      'warn',
      'keep one: rm /usr/local/etc/devd/sanhook.conf',
    ],
  ] as const)('%s', (_name, seen, status, advice) => {
    expect(pick(evaluateRule(seen as RuleSeen))).toEqual([status, advice]);
  });
});

describe('vendor autoconnect', () => {
  const rule = { file: '70-nvmf-autoconnect.rules', description: 'nvme-cli udev rule', path: '/usr/lib/udev/rules.d/70-nvmf-autoconnect.rules' };
  it.each([
    ['absent', { ...rule, state: 'absent', inUse: 'always' }, 'pass', undefined],
    ['masked', { ...rule, state: 'masked', inUse: 'always' }, 'pass', undefined],
    ['active, fabric in use', { ...rule, state: 'active', inUse: 'always' }, 'fail', 'sanhook coexist mask'],
    ['active, fabric unused', { ...rule, state: 'active' }, 'warn', 'sanhook coexist mask'],
  ] as const)('%s', (_name, seen, status, advice) => {
    expect(pick(evaluateCoexist(seen))).toEqual([status, advice]);
  });
});

describe('unit sandboxes', () => {
  const unit: UnitSeen = {
    unit: 'sanhook-connect-boot.service',
    found: { path: '/usr/lib/systemd/system/sanhook-connect-boot.service', dropIns: [] },
    commands: [{ command: 'connect', writes: 7 }],
    denials: [],
    unmodelled: [],
    unknown: [],
    root: '/',
  };
  it.each([
    ['allows every write', unit, 'pass', undefined],
    ['not installed', { ...unit, found: undefined }, 'warn', 'sanhook install'],
    ['masked', { ...unit, found: { ...unit.found!, masked: true } }, 'warn', 'systemctl unmask sanhook-connect-boot.service'],
    [
      'a drop-in removed StateDirectory=',
      { ...unit, denials: [{ command: 'connect', file: '/var/lib/sanhook/nvmf/managed', what: 'managed paths', why: 'ProtectSystem=strict and no Runtime/StateDirectory= or ReadWritePaths= covers /var/lib/sanhook/nvmf/managed', fix: 'under [Service] add StateDirectory=sanhook or ReadWritePaths=/var/lib/sanhook' }] },
      'fail',
      'systemctl edit sanhook-connect-boot.service: under [Service] add StateDirectory=sanhook or ReadWritePaths=/var/lib/sanhook',
    ],
    [
      'a denial with no known fix: open the file itself',
      { ...unit, denials: [{ command: 'connect', file: '/x/y', what: 'y', why: 'ProtectSystem=strict' }] },
      'fail',
      'systemctl edit sanhook-connect-boot.service: under [Service] add ReadWritePaths=/x/y',
    ],
    ['User= is not modelled', { ...unit, unmodelled: ['User'] }, 'warn', 'check by hand that sanhook-connect-boot.service may write /run/sanhook and /var/lib/sanhook (systemd-analyze security sanhook-connect-boot.service)'],
  ] as const)('%s', (_name, seen, status, advice) => {
    expect(pick(evaluateUnit(seen as UnitSeen))).toEqual([status, advice]);
  });
});

describe('sanhook.yaml', () => {
  it.each([
    [{ file: '/etc/sanhook/sanhook.yaml', state: 'absent' } as const, 'pass', undefined],
    [{ file: '/etc/sanhook/sanhook.yaml', state: 'valid' } as const, 'pass', undefined],
    [{ file: '/etc/sanhook/sanhook.yaml', state: 'invalid', message: '/etc/sanhook/sanhook.yaml:3: lock.stale: must be seconds' } as const, 'fail', "fix /etc/sanhook/sanhook.yaml (`sanhook --help` and the README's settings table list every key)"],
  ])('%j', (seen, status, advice) => expect(pick(evaluateConfig(seen))).toEqual([status, advice]));
});

describe("NVMe-oF's own checks", () => {
  const hostnqn = '/etc/nvme/hostnqn';
  it.each([
    [{ name: 'hostnqn', file: hostnqn, state: 'valid', value: 'nqn.2014-08.org.nvmexpress:uuid:0f7b718b-ca26-43e8-b50a-d4410d1afaf8' } as const, 'pass', undefined],
    [{ name: 'hostnqn', file: hostnqn, state: 'absent' } as const, 'warn', 'install -d /etc/nvme && nvme gen-hostnqn > /etc/nvme/hostnqn'],
    [{ name: 'hostnqn', file: hostnqn, state: 'invalid', message: '/etc/nvme/hostnqn:1: hostnqn: must be an NQN' } as const, 'fail', 'nvme gen-hostnqn > /etc/nvme/hostnqn'],
    [{ name: 'hostid', file: '/etc/nvme/hostid', state: 'absent' } as const, 'warn', 'install -d /etc/nvme && uuidgen > /etc/nvme/hostid'],
    [{ name: 'hostid', file: '/etc/nvme/hostid', state: 'invalid', message: 'bad' } as const, 'fail', 'uuidgen > /etc/nvme/hostid'],
  ])('%j', (seen, status, advice) => expect(pick(evaluateHostFile(seen))).toEqual([status, advice]));

  it('discovery.conf: absent passes, a bad line fails with the line', () => {
    expect(evaluateDiscoveryConf({ file: '/etc/nvme/discovery.conf', state: 'absent' }).status).toBe('pass');
    const bad = evaluateDiscoveryConf({ file: '/etc/nvme/discovery.conf', state: 'invalid', message: '/etc/nvme/discovery.conf:2: traddr: must not contain spaces' });
    expect(pick(bad)).toEqual(['fail', 'fix /etc/nvme/discovery.conf: one `nvme discover` argument list per line']);
    expect(bad.seen).toContain('discovery.conf:2');
  });
});

describe('summary', () => {
  it('counts and names the failures: the exit code follows fail, not warn', () => {
    const results: CheckResult[] = [
      { id: 'a', status: 'pass', seen: '' },
      { id: 'b', status: 'warn', seen: '' },
      { id: 'c', status: 'fail', seen: '' },
      { id: 'd', status: 'fail', seen: '' },
    ];
    expect(summarize(results)).toEqual({ pass: 1, warn: 1, fail: 2, failed: ['c', 'd'] });
    expect(summarize(results.slice(0, 2)).fail).toBe(0);
  });
});
