/**
 * The shipped initramfs integration (initramfs/, docs/initramfs.md), run by
 * /bin/sh against fakes: initramfs-tools' hook with fake copy_exec /
 * copy_file / manual_add_modules that copy into a temp DESTDIR and log their
 * calls; its boot script with a fake `sanhook`, `modprobe` and
 * /scripts/functions; dracut's module-setup.sh with fake inst_* functions,
 * and its online hook. The real image build and boot are the VM suite's
 * (test/system/scenarios/nvmf-initramfs.sh).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO } from './harness.js';

const HOOK = path.join(REPO, 'initramfs/initramfs-tools/hooks/sanhook');
const BOOT = path.join(REPO, 'initramfs/initramfs-tools/scripts/local-top/sanhook');
const DRACUT_SETUP = path.join(REPO, 'initramfs/dracut/95sanhook/module-setup.sh');
const DRACUT_HOOK = path.join(REPO, 'initramfs/dracut/95sanhook/sanhook-connect.sh');

let dir: string;
let root: string;
let destdir: string;
let calls: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sanhook-initramfs-'));
  root = path.join(dir, 'root');
  destdir = path.join(dir, 'image');
  calls = path.join(dir, 'calls');
  mkdirSync(destdir, { recursive: true });
  writeFileSync(calls, '');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function put(relative: string, text: string, mode = 0o644): string {
  const file = path.join(root, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}
const logged = () => readFileSync(calls, 'utf8').split('\n').filter((l) => l !== '');
const sh = (args: string[], env: Record<string, string>) => spawnSync('/bin/sh', args, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ...env } });

describe('initramfs-tools hook', () => {
  /** initramfs-tools' hook-functions as far as the hook uses them: copy into DESTDIR, log each call. */
  const hookFunctions = () =>
    put(
      'usr/share/initramfs-tools/hook-functions',
      `copy_file() { echo "copy_file $1 \${2#$ROOT} $3" >>"$CALLS"; mkdir -p "$DESTDIR\${3%/*}"; cp "$2" "$DESTDIR$3"; }
copy_exec() { echo "copy_exec \${1#$ROOT} $2" >>"$CALLS"; mkdir -p "$DESTDIR\${2%/*}"; cp "$1" "$DESTDIR$2"; }
manual_add_modules() { echo "manual_add_modules $*" >>"$CALLS"; }
`,
    );
  const host = () => {
    hookFunctions();
    put('usr/bin/node', '#!/bin/sh\n', 0o755);
    put('usr/sbin/nvme', '#!/bin/sh\n', 0o755);
    put('usr/sbin/sanhook', '#!/bin/sh\nexec /usr/bin/node /usr/lib/sanhook/bin/sanhook.js "$@"\n', 0o755);
    put('usr/lib/sanhook/bin/sanhook.js', '// entry\n');
    put('usr/lib/sanhook/dist/bundle/cli.js', '// bundle\n');
    put('usr/lib/sanhook/package.json', '{}\n');
    put('etc/nvme/discovery.conf', '-t tcp -a 127.0.0.1 -s 8009 --persistent\n');
    put('etc/nvme/hostnqn', 'nqn.2014-08.org.nvmexpress:uuid:x\n');
    put('etc/sanhook/sanhook.yaml', 'nvmf: {}\n');
  };
  const runHook = (...args: string[]) => sh([HOOK, ...args], { SANHOOK_INITRAMFS_ROOT: root, DESTDIR: destdir, CALLS: calls, ROOT: root });

  it('prereqs: none', () => {
    const run = runHook('prereqs');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('\n');
  });

  it('not opted in: the image is left as it was', () => {
    host();
    const run = runHook();
    expect(run.status, run.stderr).toBe(0);
    expect(logged()).toEqual([]);
  });

  it.each([['SANHOOK_INITRAMFS=no\n'], ['# SANHOOK_INITRAMFS=yes\n'], ['SANHOOK_INITRAMFS=yes # comment\n']])('%j is not an opt-in', (conf) => {
    host();
    put('etc/sanhook/initramfs.conf', conf);
    expect(runHook().status).toBe(0);
    expect(logged()).toEqual([]);
  });

  it('opted in: node, nvme-cli, sanhook, its configuration and the NVMe-oF modules go into the image', () => {
    host();
    put('etc/sanhook/initramfs.conf', '# sanhook in the initramfs\nSANHOOK_INITRAMFS=yes\n');
    const run = runHook();
    expect(run.status, run.stderr).toBe(0);
    expect(logged()).toEqual([
      'copy_exec /usr/bin/node /usr/bin/node',
      'copy_exec /usr/sbin/nvme /usr/sbin/nvme',
      'copy_file script /usr/sbin/sanhook /usr/sbin/sanhook',
      'copy_file program /usr/lib/sanhook/bin/sanhook.js /usr/lib/sanhook/bin/sanhook.js',
      'copy_file program /usr/lib/sanhook/dist/bundle/cli.js /usr/lib/sanhook/dist/bundle/cli.js',
      'copy_file program /usr/lib/sanhook/package.json /usr/lib/sanhook/package.json',
      'copy_file config /etc/sanhook/initramfs.conf /etc/sanhook/initramfs.conf',
      'copy_file config /etc/sanhook/sanhook.yaml /etc/sanhook/sanhook.yaml',
      'copy_file config /etc/nvme/discovery.conf /etc/nvme/discovery.conf',
      'copy_file config /etc/nvme/hostnqn /etc/nvme/hostnqn',
      'manual_add_modules nvme-fabrics nvme-tcp nvme-rdma nvme-fc',
    ]);
    expect(readFileSync(path.join(destdir, 'etc/nvme/discovery.conf'), 'utf8')).toBe('-t tcp -a 127.0.0.1 -s 8009 --persistent\n');
    expect(readFileSync(path.join(destdir, 'usr/lib/sanhook/dist/bundle/cli.js'), 'utf8')).toBe('// bundle\n');
    expect(existsSync(path.join(destdir, 'etc/nvme/hostid'))).toBe(false); // absent on the host: not made up
  });

  it('a file another hook already put in the image (copy_* returns 1) does not fail the hook', () => {
    host();
    put('etc/sanhook/initramfs.conf', 'SANHOOK_INITRAMFS=yes\n');
    put('usr/share/initramfs-tools/hook-functions', `copy_file() { echo "copy_file $3" >>"$CALLS"; return 1; }\ncopy_exec() { echo "copy_exec $2" >>"$CALLS"; return 1; }\nmanual_add_modules() { echo "manual_add_modules" >>"$CALLS"; }\n`);
    const run = runHook();
    expect(run.status, run.stderr).toBe(0);
    expect(logged().at(-1)).toBe('manual_add_modules');
  });

  it.each([['usr/sbin/nvme'], ['usr/bin/node'], ['usr/sbin/sanhook']])('opted in without /%s: the hook fails (update-initramfs fails) and says why', (missing) => {
    host();
    put('etc/sanhook/initramfs.conf', 'SANHOOK_INITRAMFS=yes\n');
    rmSync(path.join(root, missing));
    const run = runHook();
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(`sanhook: /${missing} is missing: the initramfs could not run sanhook's boot connect (SANHOOK_INITRAMFS=yes in /etc/sanhook/initramfs.conf)\n`);
    expect(logged()).toEqual([]);
  });
});

describe('initramfs-tools boot script (local-top)', () => {
  let bin: string;
  beforeEach(() => {
    bin = path.join(dir, 'bin');
    mkdirSync(bin);
    put(
      'scripts/functions',
      `configure_networking() { echo "configure_networking" >>"$CALLS"; }
log_begin_msg() { echo "log_begin_msg $*" >>"$CALLS"; }
log_end_msg() { echo "log_end_msg" >>"$CALLS"; }
log_failure_msg() { echo "log_failure_msg $*" >>"$CALLS"; }
log_warning_msg() { echo "log_warning_msg $*" >>"$CALLS"; }
`,
    );
    put('proc/cmdline', 'root=/dev/nvme0n1p2 ro quiet\n');
    for (const name of ['modprobe']) {
      writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >>"$CALLS"\n`);
      chmodSync(path.join(bin, name), 0o755);
    }
  });
  const fakeSanhook = (exit = 0) => {
    writeFileSync(path.join(bin, 'sanhook'), `#!/bin/sh\necho "sanhook $*" >>"$CALLS"\nexit ${exit}\n`);
    chmodSync(path.join(bin, 'sanhook'), 0o755);
  };
  const runBoot = (...args: string[]) => sh([BOOT, ...args], { PATH: `${bin}:/usr/bin:/bin`, SANHOOK_INITRAMFS_ROOT: root, CALLS: calls });

  it('prereqs: none', () => {
    expect(runBoot('prereqs').stdout).toBe('\n');
  });

  it('loads the fabrics, brings the network up, then runs the boot connect of the initramfs stage', () => {
    fakeSanhook();
    const run = runBoot();
    expect(run.status, run.stderr).toBe(0);
    expect(logged()).toEqual([
      'modprobe -q nvme-fabrics',
      'modprobe -q nvme-tcp',
      'configure_networking',
      'log_begin_msg sanhook: connecting NVMe-oF subsystems (sanhook connect --all --initramfs)',
      'sanhook connect --all --initramfs',
      'log_end_msg',
    ]);
  });

  it('a failed connect does not stop the boot: a failure message, exit 0', () => {
    fakeSanhook(1);
    const run = runBoot();
    expect(run.status).toBe(0);
    expect(logged().at(-1)).toBe("log_failure_msg sanhook: some NVMe-oF paths did not connect (exit 1); the real root's sanhook retries them");
  });

  it.each([['sanhook=off'], ['sanhook=0'], ['sanhook=no']])('%s on the kernel command line: skipped for this boot', (arg) => {
    fakeSanhook();
    put('proc/cmdline', `root=/dev/nvme0n1p2 ${arg} ro\n`);
    const run = runBoot();
    expect(run.status).toBe(0);
    expect(logged()).toEqual([`log_warning_msg sanhook: skipped (${arg.replace(/=.*/, '=off')} on the kernel command line)`]);
  });

  it('an image without sanhook (not opted in): nothing at all', () => {
    const run = runBoot();
    expect(run.status).toBe(0);
    expect(logged()).toEqual([]);
  });
});

describe('dracut module', () => {
  /** dracut's module API as far as module-setup.sh uses it: each call logged. */
  const api = `require_binaries() { echo "require_binaries $*" >>"$CALLS"; return "\${REQUIRE:-0}"; }
inst_multiple() { echo "inst_multiple $*" >>"$CALLS"; }
inst_hook() { echo "inst_hook $1 $2 \${3##*/}" >>"$CALLS"; }
instmods() { echo "instmods $*" >>"$CALLS"; }
`;
  const runSetup = (fn: string, env: Record<string, string> = {}) =>
    sh(['-c', `${api}. "$SETUP"; ${fn}`], { SETUP: DRACUT_SETUP, CALLS: calls, dracutsysrootdir: root, initdir: destdir, moddir: '/usr/lib/dracut/modules.d/95sanhook', ...env });

  it('check: 255 (only when asked for) until the admin opts in, then 0; 1 without node, nvme or sanhook', () => {
    expect(runSetup('check').status).toBe(255);
    put('etc/sanhook/initramfs.conf', 'SANHOOK_INITRAMFS=yes\n');
    expect(runSetup('check').status).toBe(0);
    expect(runSetup('check', { REQUIRE: '1' }).status).toBe(1);
    expect(logged()[0]).toBe('require_binaries node nvme sanhook');
  });

  it('depends on the network; installs the modules, the programs, the configuration and the online hook', () => {
    put('usr/lib/sanhook/bin/sanhook.js', '');
    put('usr/lib/sanhook/dist/bundle/cli.js', '');
    put('etc/sanhook/sanhook.yaml', '');
    expect(runSetup('depends').stdout).toBe('network\n');
    const run = runSetup('installkernel; install');
    expect(run.status, run.stderr).toBe(0);
    expect(logged()).toEqual([
      'instmods nvme_fabrics nvme_tcp nvme_rdma nvme_fc',
      'inst_multiple node nvme sanhook',
      'inst_multiple /usr/lib/sanhook/bin/sanhook.js /usr/lib/sanhook/dist/bundle/cli.js',
      'inst_multiple /etc/sanhook/sanhook.yaml',
      'inst_multiple -o /etc/nvme/discovery.conf /etc/nvme/hostnqn /etc/nvme/hostid',
      'inst_hook initqueue/online 95 sanhook-connect.sh',
    ]);
    expect(readFileSync(path.join(destdir, 'etc/cmdline.d/95sanhook.conf'), 'utf8')).toBe('rd.neednet=1\n');
  });

  /** The online hook, sourced as dracut does, with dracut-lib's functions. */
  const runOnline = (getarg: number, sanhookExit = 0) => {
    const bin = path.join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'sanhook'), `#!/bin/sh\necho "sanhook $*" >>"$CALLS"\nexit ${sanhookExit}\n`);
    chmodSync(path.join(bin, 'sanhook'), 0o755);
    const lib = `getargbool() { echo "getargbool $*" >>"$CALLS"; return ${getarg}; }\ninfo() { echo "info $*" >>"$CALLS"; }\nwarn() { echo "warn $*" >>"$CALLS"; }\n`;
    return sh(['-c', `${lib}. "$HOOK"; echo "after the hook" >>"$CALLS"`], { PATH: `${bin}:/usr/bin:/bin`, HOOK: DRACUT_HOOK, CALLS: calls });
  };

  it('online hook: runs the initramfs boot connect and returns to dracut (sourced: no exit)', () => {
    expect(runOnline(0).status).toBe(0);
    expect(logged()).toEqual(['getargbool 1 rd.sanhook', 'info sanhook: connecting NVMe-oF subsystems (sanhook connect --all --initramfs)', 'sanhook connect --all --initramfs', 'after the hook']);
  });

  it('online hook: a failed connect is a warning; rd.sanhook=0 skips it', () => {
    expect(runOnline(0, 1).status).toBe(0);
    expect(logged()).toContain("warn sanhook: some NVMe-oF paths did not connect; the real root's sanhook retries them");
    writeFileSync(calls, '');
    expect(runOnline(1).status).toBe(0);
    expect(logged()).toEqual(['getargbool 1 rd.sanhook', 'after the hook']);
  });
});
