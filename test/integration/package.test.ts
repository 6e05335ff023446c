/**
 * The npm package as a user gets it: `npm pack` holds exactly what runs
 * sanhook (the entry, the bundle, the rules, units, dispatcher scripts,
 * devd/rc.d files, docs, man pages), and `npm install -g ./sanhook-*.tgz` into a temp
 * prefix gives a `sanhook` that starts, knows its version and finds its own
 * files (`sanhook install --dry-run`, `sanhook doctor`, which lists the
 * package's rules and units).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from './harness.js';

let work: string;
let packed: { filename: string; files: { path: string; mode: number }[] };
beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'sanhook-pack-'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  packed = (JSON.parse(out) as (typeof packed)[])[0]!;
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const version = () => (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

describe('npm pack', () => {
  it('holds the entry, the bundle and the files sanhook install puts in place; no sources, tests or unbundled build', () => {
    const paths = packed.files.map((f) => f.path);
    const top = [...new Set(paths.map((p) => (/^dist\/(bundle|manpages)\//.test(p) ? p.slice(0, p.indexOf('/', 5)) : p.includes('/') ? p.slice(0, p.indexOf('/')) : p)))].sort();
    expect(top).toEqual(['LICENSE', 'README.md', 'bin', 'devd', 'dispatcher', 'dist/bundle', 'dist/manpages', 'docs', 'package.json', 'rc.d', 'rules.d', 'systemd', 'tmpfiles.d']);
    expect(paths).toContain('bin/sanhook.js');
    expect(paths).toContain('dist/bundle/cli.js');
    expect(paths.filter((p) => p.startsWith('dist/manpages/')).sort()).toEqual(['dist/manpages/sanhook-timerd.8', 'dist/manpages/sanhook.8', 'dist/manpages/sanhook.conf.5']);
    for (const dir of ['rules.d', 'systemd', 'dispatcher', 'devd', 'rc.d', 'tmpfiles.d']) expect(paths.some((p) => p.startsWith(`${dir}/`)), dir).toBe(true);
    expect(paths.filter((p) => /\.(ts|map)$/.test(p) || p.startsWith('test/') || p.startsWith('src/'))).toEqual([]);
    // the entry and the dispatcher scripts stay executable
    for (const file of ['bin/sanhook.js', 'dispatcher/NetworkManager/90-sanhook-fcoe', 'rc.d/sanhook_timerd']) expect(packed.files.find((f) => f.path === file)!.mode & 0o111, file).not.toBe(0);
  });

  it('npm install -g of the tarball into a temp prefix: sanhook runs, --version, and install finds its own files', () => {
    const prefix = path.join(work, 'prefix');
    execFileSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', path.join(work, packed.filename)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const sanhook = path.join(prefix, 'bin', 'sanhook');
    expect(execFileSync(sanhook, ['--version'], { encoding: 'utf8' })).toBe(`${version()}\n`);
    const plan = execFileSync(sanhook, ['--log-level', 'warn', 'install', '--dry-run', '--destdir', path.join(work, 'dest')], { encoding: 'utf8' });
    expect(plan).toContain('would-install');
    expect(plan).toContain('/usr/lib/udev/rules.d/70-sanhook-srp.rules');
    // package.json "man": npm links the pages into the prefix's man path
    for (const page of ['man8/sanhook.8', 'man8/sanhook-timerd.8', 'man5/sanhook.conf.5']) expect(readFileSync(path.join(prefix, 'share', 'man', page), 'utf8'), page).toMatch(/^\.TH /m);

    // doctor in a bare temp root: it may find blocking problems (exit 1), but answers in JSON, never with a stack trace
    const root = path.join(work, 'root');
    const sysfs = path.join(work, 'sys');
    for (const dir of [root, sysfs]) mkdirSync(dir, { recursive: true });
    const doctor = spawnSync(sanhook, ['--log-level', 'warn', '--root', root, '--sysfs', sysfs, '-o', 'json', 'doctor'], { encoding: 'utf8', timeout: 60_000 });
    expect([0, 1], doctor.stderr).toContain(doctor.status);
    const items = doctor.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { hook: string; outcome: string; check?: string; status?: string; seen?: string; fail?: number });
    const checks = items.filter((i) => i.check !== undefined);
    expect(checks.length).toBeGreaterThan(10);
    for (const check of checks) {
      expect(check.hook).toBe('doctor');
      expect(['pass', 'warn', 'fail']).toContain(check.status);
      expect(typeof check.seen).toBe('string');
    }
    // the package's own rule files and units were found and checked
    expect(checks.map((c) => c.check)).toEqual(expect.arrayContaining(['rules:70-sanhook-nvmf.rules', 'unit:sanhook-timerd.service', 'timerd']));
    const summary = items.at(-1)!;
    expect(summary.outcome).toBe('summary');
    expect(doctor.status).toBe(summary.fail! > 0 ? 1 : 0);
    expect(doctor.stderr).not.toMatch(/\n\s+at |internal error/);
  }, 180_000);
});
