/**
 * The shipped systemd units let every process under them write what it writes.
 *
 * The table is derived from the source: each unit's ExecStart names a sanhook
 * command (timerd also runs the hooks of src/timerd/hooks.ts inside its unit),
 * commandWrites() (src/core/registry.ts: the core's COMMAND_WRITES and
 * every fabric's commandWrites) says what that command writes, and locate()
 * turns it into a host path (the Linux directories of src/core/platform.ts). Each row is checked against the unit's sandbox settings
 * (systemd.exec(5): ProtectSystem=, Runtime/StateDirectory=, ReadWritePaths=,
 * PrivateDevices=, ProtectKernelTunables=, ...: src/core/unit-sandbox.ts, which
 * `sanhook doctor` also uses). The transient unit the udev rule starts with
 * systemd-run is checked the same way.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { locate, type Location } from '../../src/core/fs-errors.js';
import { resolvePaths } from '../../src/core/system.js';
import { socketPathFor } from '../../src/timerd/client.js';
import { DEFAULT_TEXTFILE } from '../../src/core/config.js';
import { commandWrites, timerHookTable } from '../../src/core/registry.js';
import { FABRICS } from '../../src/hooks/index.js';
import { allOf, denial, execInvocations, lastOf, parseUnit, type UnitSettings } from '../../src/core/unit-sandbox.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const UNITS = path.join(REPO, 'systemd');
const RULES = path.join(REPO, 'rules.d', '70-sanhook-nvmf.rules');
const SANHOOK = '/usr/bin/sanhook';
const HOST = resolvePaths('/', '/sys', 'linux');
const WRITES = commandWrites(FABRICS);

const writesOf = (command: string) => WRITES.get(command);

type Settings = UnitSettings;
const all = allOf;
const last = lastOf;

/** Commands run inside a unit: its ExecStart's, and for timerd every hook it may start. */
function commandsOf(unit: Settings): string[] {
  const commands = execInvocations(unit).map((c) => c.command);
  return commands.flatMap((c) => (c === 'timerd' ? [c, ...timerHookTable(FABRICS).keys()] : [c]));
}

interface Sandbox {
  readonly name: string;
  readonly settings: Settings;
}

function shippedUnits(): Sandbox[] {
  return readdirSync(UNITS)
    .filter((n) => /\.(service|socket|timer|path|mount)$/.test(n))
    .map((name) => ({ name, settings: parseUnit(readFileSync(path.join(UNITS, name), 'utf8')) }));
}

/** The transient units the udev rules start: `systemd-run --property=K=V ... /usr/bin/sanhook CMD`. */
function transientUnits(): Sandbox[] {
  const text = readFileSync(RULES, 'utf8').replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .flatMap((line) => [...line.matchAll(/RUN\+="([^"]*systemd-run [^"]*)"/g)].map((m) => m[1]!))
    .map((run, i) => {
      const words = run.split(/\s+/);
      const properties = words.filter((w) => w.startsWith('--property=')).map((w) => w.slice('--property='.length));
      const settings: [string, string][] = properties.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]);
      const at = words.indexOf(SANHOOK);
      settings.push(['ExecStart', words.slice(at).join(' ')]);
      return { name: `${path.basename(RULES)} systemd-run #${i + 1}`, settings };
    });
}

interface Row {
  readonly unit: string;
  readonly command: string;
  readonly location: Location;
  readonly file: string;
}

function rowsFor(sandbox: Sandbox): Row[] {
  return commandsOf(sandbox.settings).flatMap((command) => {
    const writes = writesOf(command);
    if (!writes) throw new Error(`${sandbox.name} runs \`sanhook ${command}\`, which commandWrites() (src/core/registry.ts) does not list`);
    return writes.map((location) => ({ unit: sandbox.name, command, location, file: locate(HOST, location).path.replaceAll('*', 'nvme0') }));
  });
}

function violations(sandbox: Sandbox): string[] {
  return rowsFor(sandbox).flatMap((row) => {
    const why = denial(sandbox.settings, row.file);
    return why ? [`${row.unit}: \`sanhook ${row.command}\` writes ${row.file} (${row.location.what}): ${why}`] : [];
  });
}

const UNIT_LIST = shippedUnits();
const TRANSIENT = transientUnits();
const ROWS = [...UNIT_LIST, ...TRANSIENT].flatMap(rowsFor);
const unitNamed = (name: string) => UNIT_LIST.find((u) => u.name === name)!;

describe('every write a process under a unit makes is allowed by that unit', () => {
  it.each(ROWS.map((r) => [r.unit, r.command, r.file, r] as const))('%s: sanhook %s writes %s', (_unit, _command, _file, row) => {
    const sandbox = [...UNIT_LIST, ...TRANSIENT].find((u) => u.name === row.unit)!;
    expect(denial(sandbox.settings, row.file)).toBeUndefined();
  });

  it('the table covers the units and what they write (derived, not empty)', () => {
    const of = (unit: string) => ROWS.filter((r) => r.unit === unit).map((r) => `${r.command} ${r.file}`);
    expect(of('sanhook-connect-boot.service')).toEqual(
      expect.arrayContaining(['connect /run/sanhook/locks', 'connect /run/sanhook/pending', 'connect /var/lib/sanhook/nvmf/managed', 'connect /dev/nvme-fabrics', 'connect /sys/class/nvme/nvme0/delete_controller']),
    );
    expect(of('sanhook-timerd.service')).toEqual(
      expect.arrayContaining(['timerd /run/sanhook/timerd.sock', 'timerd /var/lib/sanhook/timers.journal', 'reconnect /var/lib/sanhook/nvmf/managed', 'reconnect /dev/nvme-fabrics', 'reconnect /run/sanhook/locks']),
    );
    expect(TRANSIENT.length).toBeGreaterThan(0);
    expect(ROWS.filter((r) => r.unit === TRANSIENT[0]!.name).map((r) => r.command)).toContain('connect');
    // No unit runs `sanhook coexist`: /etc stays read-only everywhere.
    expect(ROWS.filter((r) => r.location.base === 'etc')).toEqual([]);
  });
});

describe('the check fails when a unit misses a writable path', () => {
  const boot = unitNamed('sanhook-connect-boot.service');
  const without = (unit: Sandbox, key: string): Sandbox => ({ name: unit.name, settings: unit.settings.filter(([k]) => k !== key) });
  const plus = (unit: Sandbox, ...extra: [string, string][]): Sandbox => ({ name: unit.name, settings: [...unit.settings, ...extra] });

  it('the boot unit as shipped before issue 9 (no StateDirectory=): managed records are refused', () => {
    expect(violations(without(boot, 'StateDirectory'))).toEqual([
      'sanhook-connect-boot.service: `sanhook connect` writes /var/lib/sanhook/nvmf/managed (state directory for managed NVMe-oF paths): ProtectSystem=strict and no Runtime/StateDirectory= or ReadWritePaths= covers /var/lib/sanhook/nvmf/managed',
      'sanhook-connect-boot.service: `sanhook connect` writes /var/lib/sanhook/nvmf/disconnected (state directory for NVMe-oF paths disconnected on purpose): ProtectSystem=strict and no Runtime/StateDirectory= or ReadWritePaths= covers /var/lib/sanhook/nvmf/disconnected',
      'sanhook-connect-boot.service: `sanhook connect` writes /var/lib/sanhook/nvmf/discovery (state directory for the persistent discovery controllers sanhook created): ProtectSystem=strict and no Runtime/StateDirectory= or ReadWritePaths= covers /var/lib/sanhook/nvmf/discovery',
    ]);
    // ... and ReadWritePaths= is the other way to allow it.
    expect(violations(plus(without(boot, 'StateDirectory'), ['ReadWritePaths', '/var/lib/sanhook']))).toEqual([]);
  });

  it('no RuntimeDirectory=: locks are refused', () => {
    expect(violations(without(boot, 'RuntimeDirectory')).join('\n')).toContain('writes /run/sanhook/locks (lock directory): ProtectSystem=strict');
  });

  it('timerd without StateDirectory=: its journal and its hooks are refused', () => {
    const found = violations(without(unitNamed('sanhook-timerd.service'), 'StateDirectory')).join('\n');
    expect(found).toContain('`sanhook timerd` writes /var/lib/sanhook/timers.journal');
    expect(found).toContain('`sanhook reconnect` writes /var/lib/sanhook/nvmf/managed');
  });

  it('PrivateDevices=, ProtectKernelTunables=, ProtectClock=, a read-only override', () => {
    expect(violations(plus(boot, ['PrivateDevices', 'yes'])).join('\n')).toContain('writes /dev/nvme-fabrics (NVMe-oF controller creation): PrivateDevices=yes');
    expect(violations(plus(boot, ['ProtectKernelTunables', 'yes'])).join('\n')).toContain('delete_controller (NVMe controller deletion): ProtectKernelTunables=yes');
    expect(violations(plus(boot, ['ProtectClock', 'yes'])).join('\n')).toContain('/dev/nvme-fabrics (NVMe-oF controller creation): ProtectClock=yes');
    expect(violations(plus(boot, ['ReadOnlyPaths', '/var/lib/sanhook/nvmf'])).join('\n')).toContain('/var/lib/sanhook/nvmf/managed (state directory for managed NVMe-oF paths): ReadOnlyPaths=');
  });

  it('a unit that ran `sanhook coexist mask` would need /etc writable', () => {
    const coexist: Sandbox = { name: 'x.service', settings: [['ExecStart', '/usr/bin/sanhook --log-level debug coexist mask'], ['ProtectSystem', 'full']] };
    expect(violations(coexist)).toEqual([
      "x.service: `sanhook coexist` writes /etc/udev/rules.d (udev rules directory for the mask of nvme-cli's autoconnect rule): ProtectSystem=full makes /etc/udev/rules.d read-only",
      "x.service: `sanhook coexist` writes /etc/systemd/system (systemd unit directory for the mask of nvme-cli's nvmf-autoconnect.service): ProtectSystem=full makes /etc/systemd/system read-only",
      "x.service: `sanhook coexist` writes /etc/systemd/system (systemd unit directory for the mask of fcoe-utils' fcoe.service): ProtectSystem=full makes /etc/systemd/system read-only",
      "x.service: `sanhook coexist` writes /etc/systemd/system (systemd unit directory for the mask of fcoe-utils' fcoemon.socket): ProtectSystem=full makes /etc/systemd/system read-only",
    ]);
  });

  it('a command commandWrites() does not know is an error, not a silent pass', () => {
    expect(() => rowsFor({ name: 'y.service', settings: [['ExecStart', '/usr/bin/sanhook frobnicate']] })).toThrow(/does not list/);
  });
});

describe('shared directories and the socket agree across units', () => {
  const services = UNIT_LIST.filter((u) => commandsOf(u.settings).length > 0);

  it('every unit that runs sanhook declares /run/sanhook and /var/lib/sanhook, preserved, root only', () => {
    const run = path.relative('/run', HOST.run);
    const state = path.relative('/var/lib', HOST.state);
    expect(services.map((u) => u.name).sort()).toEqual(['sanhook-connect-boot.service', 'sanhook-dcb-recheck.service', 'sanhook-metrics.service', 'sanhook-timerd.service']);
    for (const unit of services) {
      expect(last(unit.settings, 'ProtectSystem'), unit.name).toBe('strict');
      expect(all(unit.settings, 'RuntimeDirectory'), unit.name).toEqual([run]);
      // A stop must not take the socket, a hook's lock or another unit's pending event with it.
      expect(all(unit.settings, 'RuntimeDirectoryPreserve'), unit.name).toEqual(['yes']);
      expect(all(unit.settings, 'RuntimeDirectoryMode'), unit.name).toEqual(['0700']);
      expect(all(unit.settings, 'StateDirectory'), unit.name).toEqual([state]);
      expect(all(unit.settings, 'StateDirectoryMode'), unit.name).toEqual(['0700']);
    }
  });

  it("the socket unit listens where clients look, in its service's run directory, with its mode", () => {
    const socket = unitNamed('sanhook-timerd.socket');
    const service = unitNamed(last(socket.settings, 'Service')!);
    expect(all(socket.settings, 'ListenStream')).toEqual([socketPathFor(HOST.run)]);
    expect(all(socket.settings, 'ListenStream')).toEqual([locate(HOST, 'timerdSocket').path]);
    expect(last(socket.settings, 'DirectoryMode')).toBe(last(service.settings, 'RuntimeDirectoryMode'));
    expect(commandsOf(socket.settings)).toEqual([]); // nothing runs under the socket unit itself
  });

  it('MemoryDenyWriteExecute=yes wherever sanhook runs, because bin/sanhook.js starts node --jitless; no NODE_OPTIONS needed', () => {
    const shebang = readFileSync(path.join(REPO, 'bin', 'sanhook.js'), 'utf8').split('\n')[0]!;
    expect(shebang).toMatch(/^#!.*\bnode\b.* --jitless\b/);
    for (const unit of [...services, ...TRANSIENT]) {
      expect(last(unit.settings, 'MemoryDenyWriteExecute'), unit.name).toBe('yes');
      expect(all(unit.settings, 'Environment').join(' '), unit.name).not.toMatch(/NODE_OPTIONS/);
    }
    const rc = readFileSync(path.join(REPO, 'rc.d', 'sanhook_timerd'), 'utf8');
    expect(rc).not.toMatch(/^: \$\{sanhook_timerd_env:=.*NODE_OPTIONS/m);
  });
});

/** fnmatch(3)-style match of one path (no FNM_PATHNAME subtleties: the patterns below glob in the last component only). */
function globMatch(pattern: string, file: string): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const c = pattern[i]!;
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      const body = pattern.slice(i + 1, end);
      source += body.startsWith('!') ? `[^/${body.slice(1)}]` : `[${body}]`;
      i = end;
    } else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`).test(file);
}

/** systemd.unit(5): all plain conditions must hold, and at least one `|` (triggering) condition if there are any. */
function conditionsHold(unit: Settings, exists: (file: string) => boolean, files: readonly string[]): boolean {
  const conditions = unit
    .filter(([k]) => k === 'ConditionPathExistsGlob' || k === 'ConditionPathExists')
    .map(([key, value]) => {
      const triggering = value.startsWith('|');
      const negated = value.replace(/^\|/, '').startsWith('!');
      const target = value.replace(/^\|?!?/, '');
      const found = key === 'ConditionPathExists' ? exists(target) : files.some((f) => globMatch(target, f));
      return { triggering, holds: found !== negated };
    });
  const triggering = conditions.filter((c) => c.triggering);
  return conditions.filter((c) => !c.triggering).every((c) => c.holds) && (triggering.length === 0 || triggering.some((c) => c.holds));
}

describe('sanhook-dcb-recheck.timer and .service: `dcb-check --all` every 30 s, only where FCoE is configured', () => {
  const timer = unitNamed('sanhook-dcb-recheck.timer');
  const service = unitNamed('sanhook-dcb-recheck.service');
  const seconds = (value: string | undefined) => {
    const m = /^(\d+)\s*(ms|s|sec|min|m)?$/.exec(value ?? '');
    if (!m) throw new Error(`not a simple time span: ${value}`);
    return Number(m[1]) * ({ ms: 0.001, s: 1, sec: 1, min: 60, m: 60 }[m[2] ?? 's'] ?? 1);
  };

  it('the timer starts the service 30 s after the end of each run, with a first run, to the second', () => {
    expect(last(timer.settings, 'Unit')).toBe('sanhook-dcb-recheck.service');
    expect(seconds(last(timer.settings, 'OnUnitInactiveSec'))).toBe(30);
    // without a first trigger, OnUnitInactiveSec= never fires for a unit that never ran
    expect(all(timer.settings, 'OnActiveSec').length + all(timer.settings, 'OnBootSec').length).toBeGreaterThan(0);
    // the default AccuracySec= (1 min) would stretch the 30 s bound to 90 s
    expect(seconds(last(timer.settings, 'AccuracySec'))).toBeLessThanOrEqual(1);
    expect(all(timer.settings, 'RandomizedDelaySec')).toEqual([]);
    expect(all(timer.settings, 'WantedBy')).toEqual(['timers.target']);
  });

  it('the service is a oneshot `sanhook dcb-check --all`, enabled only through the timer', () => {
    expect(all(service.settings, 'Type')).toEqual(['oneshot']);
    expect(all(service.settings, 'ExecStart')).toEqual(['/usr/bin/sanhook dcb-check --all']);
    expect(commandsOf(service.settings)).toEqual(['dcb-check']);
    expect(all(service.settings, 'WantedBy')).toEqual([]);
    // a hung run would hold back every later one (the timer counts from a run's end)
    expect(seconds(last(service.settings, 'TimeoutStartSec'))).toBeLessThanOrEqual(60);
    // dcb-check writes sysfs control files under /sys/bus/fcoe and /sys/devices (see the unit's header)
    expect(all(service.settings, 'ProtectKernelTunables')).toEqual([]);
    expect(all(service.settings, 'PrivateNetwork')).toEqual([]);
  });

  const NAMES = ['ethx', 'eth0', 'eth0.100', 'enp3s0f1', 'e', 'et', 'eth', 'etx', 'ethy', 'ethxy', 'ethx0', 'x', 'ib0', 'e0'];
  const cases = [[], ['ethx'], ...NAMES.filter((n) => n !== 'ethx').map((n) => ['ethx', n]), ['eth0']];

  it.each(cases.map((names) => [names.join(' ') || '(none)', names] as const))(
    'its conditions hold exactly when /etc/fcoe has a cfg file other than the fcoe-utils template cfg-ethx: %s',
    (_label, names) => {
      const files = names.map((n) => `/etc/fcoe/cfg-${n}`);
      expect(conditionsHold(service.settings, (f) => files.includes(f), files)).toBe(names.some((n) => n !== 'ethx'));
    },
  );

  it("systemd's own evaluation agrees (`systemd-analyze condition`, conditions pointed at a temp /etc/fcoe)", (ctx) => {
    const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
    if (!analyze) {
      if (process.env.CI) throw new Error('systemd-analyze is missing (apt-get install systemd)');
      ctx.skip('systemd-analyze not available');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'sanhook-fcoe-cond-'));
    try {
      const conditions = service.settings.filter(([k]) => k.startsWith('Condition')).map(([k, v]) => `${k}=${v.replace('/etc/fcoe/', `${dir}/fcoe/`)}`);
      expect(conditions.length).toBeGreaterThan(1);
      for (const names of cases) {
        rmSync(path.join(dir, 'fcoe'), { recursive: true, force: true });
        mkdirSync(path.join(dir, 'fcoe'));
        for (const n of names) writeFileSync(path.join(dir, 'fcoe', `cfg-${n}`), '');
        const r = spawnSync(analyze!, ['condition', ...conditions], { encoding: 'utf8', timeout: 30_000 });
        expect(r.status, `${names.join(' ') || '(none)'}: ${r.stdout}${r.stderr}`).toBe(names.some((n) => n !== 'ethx') ? 0 : 1);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sanhook-metrics.timer and .service: `sanhook metrics` every 30 s into node_exporter\'s textfile directory', () => {
  const timer = unitNamed('sanhook-metrics.timer');
  const service = unitNamed('sanhook-metrics.service');
  const textDir = path.dirname(DEFAULT_TEXTFILE);

  it('the timer starts the service 30 s after the end of each run, with a first run', () => {
    expect(last(timer.settings, 'Unit')).toBe('sanhook-metrics.service');
    expect(last(timer.settings, 'OnUnitInactiveSec')).toBe('30s');
    expect(all(timer.settings, 'OnActiveSec').length + all(timer.settings, 'OnBootSec').length).toBeGreaterThan(0);
    expect(all(timer.settings, 'WantedBy')).toEqual(['timers.target']);
  });

  it('the service is a oneshot `sanhook metrics` that may write the default textfile, and runs only where that directory exists', () => {
    expect(all(service.settings, 'Type')).toEqual(['oneshot']);
    expect(all(service.settings, 'ExecStart')).toEqual(['/usr/bin/sanhook metrics']);
    expect(all(service.settings, 'WantedBy')).toEqual([]);
    expect(denial(service.settings, DEFAULT_TEXTFILE)).toBeUndefined();
    expect(all(service.settings, 'ConditionPathIsDirectory')).toEqual([textDir]);
    // the check bites: without ReadWritePaths= the textfile is refused
    expect(denial(service.settings.filter(([k]) => k !== 'ReadWritePaths'), DEFAULT_TEXTFILE)).toMatch(/ProtectSystem=strict/);
  });
});
