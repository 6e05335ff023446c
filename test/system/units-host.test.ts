/**
 * The shipped systemd units pass `systemd-analyze verify` (systemd 252, the
 * Debian 12 one): no unknown keys, bad values, missing dependencies. systemd
 * is not started; verify loads the units in an offline manager. The only
 * change to the shipped bytes is /usr/bin/sanhook -> this checkout's
 * bin/sanhook.js, because verify also checks that ExecStart is executable,
 * and verify finds the Documentation= man pages (it runs man(1) on each) in
 * the pages this build wrote (dist/manpages, through MANPATH).
 * `systemd-analyze security --offline=yes` must not rate a service worse
 * than it is rated now (5.1), and MemoryDenyWriteExecute= holds: sanhook
 * runs, and timerd runs its hooks, under the seccomp filter systemd 252
 * installs for it (emulated here, since systemd is not PID 1).
 * Missing systemd-analyze: fails when $CI is set, else skips with the reason.
 * Which paths each unit must make writable is test/unit/units.test.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createTimerdClient, socketPathFor } from '../../src/timerd/client.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const UNITS = path.join(REPO, 'systemd');
const onPath = (name: string) =>
  (process.env.PATH ?? '/usr/bin:/bin')
    .split(':')
    .map((d) => path.join(d, name))
    .find((p) => existsSync(p));
const ANALYZE = onPath('systemd-analyze');

/** The shipped units in a temp dir, ExecStart pointing at this checkout. */
function unitCopies(): { dir: string; names: string[] } {
  const names = readdirSync(UNITS).filter((n) => /\.(service|socket|timer|path|target)$/.test(n));
  const dir = mkdtempSync(path.join(tmpdir(), 'sanhook-units-'));
  for (const name of names) {
    writeFileSync(path.join(dir, name), readFileSync(path.join(UNITS, name), 'utf8').replaceAll('/usr/bin/sanhook', path.join(REPO, 'bin', 'sanhook.js')));
  }
  return { dir, names };
}

function needAnalyze(ctx: { skip: (note: string) => void }): void {
  if (ANALYZE) return;
  if (process.env.CI) throw new Error('systemd-analyze is missing (apt-get install systemd)');
  ctx.skip('systemd-analyze not available (apt-get install systemd)');
}

describe('shipped systemd units', () => {
  it('pass `systemd-analyze verify` with no warnings', (ctx) => {
    needAnalyze(ctx);
    const { dir, names } = unitCopies();
    expect(names).toContain('sanhook-connect-boot.service');
    try {
      const man = path.join(dir, 'man');
      for (const page of readdirSync(path.join(REPO, 'dist', 'manpages'))) {
        const section = path.join(man, `man${page.slice(page.lastIndexOf('.') + 1)}`);
        mkdirSync(section, { recursive: true });
        writeFileSync(path.join(section, page), readFileSync(path.join(REPO, 'dist', 'manpages', page)));
      }
      const result = spawnSync(ANALYZE!, ['verify', ...names.map((n) => path.join(dir, n))], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, SYSTEMD_LOG_LEVEL: 'notice', MANPATH: man } });
      expect(`${result.stdout}${result.stderr}`).toBe('');
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sanhook-connect-boot.service: oneshot `sanhook connect --all` after network-online, hardened without breaking connect', () => {
    const unit = readFileSync(path.join(UNITS, 'sanhook-connect-boot.service'), 'utf8');
    const settings = unit
      .split('\n')
      .filter((l) => /^[A-Za-z]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const);
    const get = (key: string) => settings.filter(([k]) => k === key).map(([, v]) => v);
    expect(get('Type')).toEqual(['oneshot']);
    expect(get('ExecStart')).toEqual(['/usr/bin/sanhook connect --all']);
    expect(get('After')).toContain('network-online.target');
    expect(get('Wants')).toContain('network-online.target');
    expect(get('WantedBy')).toEqual(['multi-user.target']);
    expect(get('ProtectSystem')).toEqual(['strict']);
    expect(get('NoNewPrivileges')).toEqual(['yes']);
    // Each of these breaks `nvme connect`/`discover` (see the unit's header).
    for (const key of ['PrivateDevices', 'ProtectKernelTunables', 'ProtectClock', 'DeviceAllow', 'DevicePolicy', 'PrivateNetwork']) {
      expect(get(key), key).toEqual([]);
    }
    // node runs --jitless (bin/sanhook.js), so no W+X memory (see the MDWE tests below).
    expect(get('MemoryDenyWriteExecute')).toEqual(['yes']);
    expect(get('RuntimeDirectory')).toEqual(['sanhook']);
    expect(get('RuntimeDirectoryPreserve')).toEqual(['yes']);
    // connect records managed paths in /var/lib/sanhook (issue 9: 1 of 3 connected, then EROFS).
    expect(get('StateDirectory')).toEqual(['sanhook']);
  });

  it('`systemd-analyze security --offline=yes`: no service rated worse than 5.1, MemoryDenyWriteExecute= counted', (ctx) => {
    needAnalyze(ctx);
    const { dir, names } = unitCopies();
    try {
      for (const name of names.filter((n) => n.endsWith('.service'))) {
        // --threshold: exit non-zero when the exposure (x10) is above it.
        const rated = spawnSync(ANALYZE!, ['security', '--offline=yes', '--threshold=51', '--no-pager', path.join(dir, name)], { encoding: 'utf8', timeout: 60_000 });
        expect(rated.stdout, name).toMatch(/Overall exposure level for .*: [0-9.]+ /);
        expect(rated.status, `${name}\n${rated.stdout.split('\n').at(-2)}`).toBe(0);
        const json = spawnSync(ANALYZE!, ['security', '--offline=yes', '--json=short', '--no-pager', path.join(dir, name)], { encoding: 'utf8', timeout: 60_000 });
        const checks = JSON.parse(json.stdout) as { name: string; set: boolean }[];
        expect(checks.find((c) => c.name === 'MemoryDenyWriteExecute='), name).toMatchObject({ set: true });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * systemd 252 implements MemoryDenyWriteExecute=yes as a seccomp filter
 * (src/shared/seccomp-util.c, seccomp_memory_deny_write_execute): EPERM for
 * mmap() with PROT_WRITE|PROT_EXEC, mprotect()/pkey_mprotect() with PROT_EXEC,
 * shmat() with SHM_EXEC. This program installs the same filter and execs its
 * arguments, so a process runs as it would in the unit (children inherit it).
 */
const MDWE_C = `
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#define ARG2 (offsetof(struct seccomp_data, args) + 16)
#define DENY BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
int main(int argc, char **argv) {
  struct sock_filter filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    ALLOW,
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 5),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG2),
    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 6),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 1),
    DENY,
    ALLOW,
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect, 1, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pkey_mprotect, 0, 4),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG2),
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 4, 0, 1),
    DENY,
    ALLOW,
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_shmat, 0, 3),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG2),
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0100000, 0, 1),
    DENY,
    ALLOW,
  };
  struct sock_fprog prog = { sizeof filter / sizeof filter[0], filter };
  if (argc < 2) return 2;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) { perror("seccomp"); return 125; }
  execvp(argv[1], argv + 1);
  perror(argv[1]);
  return 127;
}
`;

describe('MemoryDenyWriteExecute=yes holds: sanhook under systemd 252\'s filter (emulated)', () => {
  const CC = onPath('cc') ?? onPath('gcc');
  const work = mkdtempSync(path.join(tmpdir(), 'sanhook-mdwe-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  let built: string | undefined;
  const mdwe = (ctx: { skip: (note: string) => void }): string => {
    if (process.arch !== 'x64' || process.platform !== 'linux') ctx.skip('the emulated filter is written for Linux x86-64');
    if (!CC) ctx.skip('no C compiler to build the seccomp filter (apt-get install gcc)');
    if (!built) {
      writeFileSync(path.join(work, 'mdwe.c'), MDWE_C);
      const cc = spawnSync(CC!, ['-O2', '-o', path.join(work, 'mdwe'), path.join(work, 'mdwe.c')], { encoding: 'utf8' });
      expect(cc.stderr).toBe('');
      built = path.join(work, 'mdwe');
    }
    return built;
  };
  /** A sanhook root for one test; PATH as a unit gets it (node from the host's PATH). */
  const box = (name: string) => {
    const root = path.join(work, name, 'root');
    const sysfs = path.join(work, name, 'sys');
    mkdirSync(path.join(root, 'etc'), { recursive: true });
    mkdirSync(sysfs, { recursive: true });
    return { root, sysfs, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' } };
  };

  it('the filter bites: node with its JIT dies at its first compiled function (SIGTRAP), as under the unit', (ctx) => {
    const filter = mdwe(ctx);
    const jit = spawnSync(filter, [process.execPath, '-e', 'let s = 0; for (let i = 0; i < 1e6; i++) s += i; console.log(s)'], { encoding: 'utf8', timeout: 60_000 });
    expect(jit.signal).toBe('SIGTRAP');
    const jitless = spawnSync(filter, [process.execPath, '--jitless', '-e', 'let s = 0; for (let i = 0; i < 1e6; i++) s += i; console.log(s)'], { encoding: 'utf8', timeout: 60_000 });
    expect(jitless.stdout).toBe('499999500000\n');
    expect(jitless.status).toBe(0);
  });

  it('bin/sanhook.js through its #! line: `connect --all` (the boot unit) runs to the end', (ctx) => {
    const filter = mdwe(ctx);
    const { root, sysfs, env } = box('boot');
    const run = spawnSync(filter, [path.join(REPO, 'bin', 'sanhook.js'), '--root', root, '--sysfs', sysfs, 'connect', '--all'], { encoding: 'utf8', timeout: 60_000, env });
    expect(run.signal).toBeNull();
    expect(run.stdout).toContain('discovery.conf does not exist');
    expect(run.status).toBe(0);
  });

  it('timerd under the filter runs its hooks with the same node flags (the loss hook), and stops cleanly', async (ctx) => {
    const filter = mdwe(ctx);
    const { root, sysfs, env } = box('timerd');
    const child = spawn(filter, [path.join(REPO, 'bin', 'sanhook.js'), '--root', root, '--sysfs', sysfs, 'timerd'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    const records = () =>
      stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; hook?: string; exit_code?: number });
    const until = async (what: string, check: () => boolean) => {
      for (const deadline = Date.now() + 30_000; !check(); ) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; timerd stderr:\n${stderr}`);
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`timerd exited (${child.exitCode ?? child.signalCode}) before ${what}:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    try {
      await until('timerd to listen', () => records().some((r) => r.msg === 'listening'));
      const client = createTimerdClient(socketPathFor(path.join(root, 'run', 'sanhook')));
      const reply = await client.request({
        op: 'arm',
        hook: 'reconnect',
        lossHook: 'give-up',
        params: { transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', nqn: 'nqn.2026-11.io.sanhook:mdwe' },
        delay: 0,
        lossSeconds: 1,
      });
      expect(reply.ok).toBe(true);
      await until('the loss hook to finish', () => records().some((r) => r.msg === 'hook finished' && r.hook === 'give-up'));
      // 133 = killed by SIGTRAP: a hook started without --jitless would die like the control above.
      expect(records().find((r) => r.msg === 'hook finished' && r.hook === 'give-up')?.exit_code).toBe(0);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toEqual({ code: 0, signal: null });
  });
});
