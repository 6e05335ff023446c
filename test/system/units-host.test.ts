/**
 * The shipped systemd units pass `systemd-analyze verify` (systemd 252, the
 * Debian 12 one): no unknown keys, bad values, missing dependencies. systemd
 * is not started; verify loads the units in an offline manager. The only
 * change to the shipped bytes is /usr/bin/sanhook -> this checkout's
 * bin/sanhook.js, because verify also checks that ExecStart is executable.
 * Missing systemd-analyze: fails when $CI is set, else skips with the reason.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const UNITS = path.join(REPO, 'systemd');
const ANALYZE = (process.env.PATH ?? '/usr/bin:/bin')
  .split(':')
  .map((d) => path.join(d, 'systemd-analyze'))
  .find((p) => existsSync(p));

describe('shipped systemd units', () => {
  it('pass `systemd-analyze verify` with no warnings', (ctx) => {
    if (!ANALYZE) {
      if (process.env.CI) throw new Error('systemd-analyze is missing (apt-get install systemd)');
      ctx.skip('systemd-analyze not available (apt-get install systemd)');
    }
    const names = readdirSync(UNITS).filter((n) => /\.(service|socket|timer|path|target)$/.test(n));
    expect(names).toContain('sanhook-connect-boot.service');
    const dir = mkdtempSync(path.join(tmpdir(), 'sanhook-units-'));
    try {
      for (const name of names) {
        writeFileSync(path.join(dir, name), readFileSync(path.join(UNITS, name), 'utf8').replaceAll('/usr/bin/sanhook', path.join(REPO, 'bin', 'sanhook.js')));
      }
      const result = spawnSync(ANALYZE!, ['verify', ...names.map((n) => path.join(dir, n))], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, SYSTEMD_LOG_LEVEL: 'notice' } });
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
    for (const key of ['PrivateDevices', 'ProtectKernelTunables', 'ProtectClock', 'DeviceAllow', 'DevicePolicy', 'PrivateNetwork', 'MemoryDenyWriteExecute']) {
      expect(get(key), key).toEqual([]);
    }
    expect(get('RuntimeDirectory')).toEqual(['sanhook']);
    expect(get('RuntimeDirectoryPreserve')).toEqual(['yes']);
  });
});
