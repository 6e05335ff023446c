/**
 * fcoe-utils' config files: the KEY="value" parser (cfg-file.ts), the
 * validators it feeds (validate.ts), the per-interface and global configs
 * (fcoe-config.ts, pure and on a temp /etc/fcoe).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, EnvironmentError, UsageError } from '../../src/core/errors.js';
import type { System } from '../../src/core/system.js';
import { parseCfgFile, VALUE_MAX_BYTES } from '../../src/hooks/fcoe/cfg-file.js';
import {
  FILE_MAX_BYTES,
  globalConfigFromText,
  ifnameOfFile,
  interfaceConfigFromText,
  readFcoeConfig,
  readGlobalConfig,
  readInterfaceConfig,
} from '../../src/hooks/fcoe/fcoe-config.js';
import { driverList, ifname, mode, yesNo } from '../../src/hooks/fcoe/validate.js';
import { tempSystem } from '../support/system.js';

const CFG = '/etc/fcoe/cfg-eth0';
const GLOBAL = '/etc/fcoe/config';

/**
 * The shape of fcoe-utils' template etc/cfg-ethx (openSUSE/fcoe-utils, as
 * installed to /etc/fcoe/cfg-ethx): "## Type:" / "## Default:" comment
 * blocks (tabs in some), the values it ships, FIP_RESP commented out. The
 * prose comments are paraphrased; the settings lines are the file's.
 */
const CFG_ETHX = [
  '## Type:       yes/no',
  '## Default:    no',
  '# Whether FCoE runs on this Ethernet port',
  'FCOE_ENABLE="yes"',
  '',
  '## Type:       yes/no',
  '## Default:    no',
  '# Whether the port needs DCB',
  'DCB_REQUIRED="yes"',
  '',
  '## Type:\tyes/no',
  '## Default:\tno',
  '# Whether fcoemon does FIP VLAN discovery',
  'AUTO_VLAN="yes"',
  '',
  '## Type:\tfabric/vn2vn',
  '## Default:\tfabric',
  '# fabric or vn2vn',
  'MODE="fabric"',
  '',
  '## Type:\tyes/no',
  '## Default:\tno',
  '# FIP VLAN responder (vn2vn)',
  '#FIP_RESP="yes"',
  '',
].join('\n');

/** The shape of fcoe-utils' etc/config (DEBUG and USE_SYSLOG as shipped) with SUPPORTED_DRIVERS as fcoe.service reads it. */
const CONFIG = ['## Type:       yes/no', '## Default:    yes', '# debug messages', 'DEBUG="yes"', '', 'USE_SYSLOG="yes"', 'SUPPORTED_DRIVERS="libfc fcoe bnx2fc"', ''].join('\n');

/** The error `fn` throws, checked to be of `type`. */
function thrown<T extends Error>(fn: () => unknown, type: new (...args: never[]) => T): T {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as T;
  }
  throw new Error(`expected a ${type.name}`);
}

async function rejected<T extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  return error as T;
}

describe('parseCfgFile', () => {
  it('reads the template: keys, values without quotes, 1-based lines; comments and blank lines skipped', () => {
    expect([...parseCfgFile(CFG_ETHX, CFG)]).toEqual([
      ['FCOE_ENABLE', { value: 'yes', line: 4 }],
      ['DCB_REQUIRED', { value: 'yes', line: 9 }],
      ['AUTO_VLAN', { value: 'yes', line: 14 }],
      ['MODE', { value: 'fabric', line: 19 }],
    ]);
  });

  it.each([
    ['blanks around the line, CRLF', '  \tMODE="vn2vn" \r\n', 'MODE', 'vn2vn'],
    ['a comment after the value', 'MODE="vn2vn"   # target side', 'MODE', 'vn2vn'],
    ['an empty value', 'SUPPORTED_DRIVERS=""', 'SUPPORTED_DRIVERS', ''],
    ['spaces inside the quotes', 'SUPPORTED_DRIVERS="libfc  fcoe"', 'SUPPORTED_DRIVERS', 'libfc  fcoe'],
    ['a # inside the quotes', 'X_1="a#b"', 'X_1', 'a#b'],
    ['a key starting with _', '_K="v"', '_K', 'v'],
    [`a value of exactly ${VALUE_MAX_BYTES} bytes`, `K="${'a'.repeat(VALUE_MAX_BYTES)}"`, 'K', 'a'.repeat(VALUE_MAX_BYTES)],
  ])('accepts %s', (_what, text, key, value) => {
    expect(parseCfgFile(text, CFG).get(key)).toEqual({ value, line: 1 });
  });

  it('reads a file without a final newline and an empty file', () => {
    expect(parseCfgFile('A="1"\nB="2"', CFG).get('B')).toEqual({ value: '2', line: 2 });
    expect(parseCfgFile('', CFG).size).toBe(0);
    expect(parseCfgFile('\n\n# only comments\n', CFG).size).toBe(0);
  });

  it.each([
    ['an unquoted value', '# c\nFCOE_ENABLE=yes\n', `${CFG}:2: FCOE_ENABLE: the value must be in double quotes (FCOE_ENABLE="…"), got "yes"`],
    ['a single-quoted value', "MODE='fabric'", `${CFG}:1: MODE: the value must be in double quotes (MODE="…"), got "'fabric'"`],
    ['an unterminated quote', 'MODE="fabric', `${CFG}:1: MODE: the value must be in double quotes (MODE="…"), got "\\"fabric"`],
    ['text after the closing quote', 'MODE="fabric"x', `${CFG}:1: MODE: the value must be in double quotes (MODE="…"), got "\\"fabric\\"x"`],
    ['a second quoted word', 'MODE="fab" "ric"', `${CFG}:1: MODE: the value must be in double quotes (MODE="…"), got "\\"fab\\" \\"ric\\""`],
    ['a $ the shell would expand', 'MODE="$MODE"', `${CFG}:1: MODE: the value must not contain \\, $ or \` (the shell would expand them), got "$MODE"`],
    ['a backquote', 'MODE="`id`"', `${CFG}:1: MODE: the value must not contain \\, $ or \` (the shell would expand them), got "\`id\`"`],
    [
      'an overlong value',
      `\nSUPPORTED_DRIVERS="${'a'.repeat(VALUE_MAX_BYTES + 1)}"`,
      `${CFG}:2: SUPPORTED_DRIVERS: the value is ${VALUE_MAX_BYTES + 1} bytes, more than the ${VALUE_MAX_BYTES} allowed`,
    ],
    ['an overlong value in UTF-8 bytes', `K="${'é'.repeat(129)}"`, `${CFG}:1: K: the value is 258 bytes, more than the ${VALUE_MAX_BYTES} allowed`],
    ['a duplicate key', 'MODE="fabric"\n\nMODE="vn2vn"', `${CFG}:3: MODE: set again (first set on line 1)`],
    ['a garbage line', 'MODE="fabric"\nhello world', `${CFG}:2: expected KEY="value", a # comment or a blank line, got "hello world"`],
    ['a line starting with =', '="yes"', `${CFG}:1: expected KEY="value", a # comment or a blank line, got "=\\"yes\\""`],
    [
      'a lower-case key',
      'mode="fabric"',
      `${CFG}:1: expected KEY="value" with KEY of A-Z, 0-9 and _ (not starting with a digit) and no spaces around =, got "mode=\\"fabric\\""`,
    ],
    [
      'spaces around =',
      'MODE = "fabric"',
      `${CFG}:1: expected KEY="value" with KEY of A-Z, 0-9 and _ (not starting with a digit) and no spaces around =, got "MODE = \\"fabric\\""`,
    ],
    [
      'export KEY=',
      'export MODE="fabric"',
      `${CFG}:1: expected KEY="value" with KEY of A-Z, 0-9 and _ (not starting with a digit) and no spaces around =, got "export MODE=\\"fabric\\""`,
    ],
    [
      'a key starting with a digit',
      '1MODE="fabric"',
      `${CFG}:1: expected KEY="value" with KEY of A-Z, 0-9 and _ (not starting with a digit) and no spaces around =, got "1MODE=\\"fabric\\""`,
    ],
  ])('refuses %s, naming file, line and key', (_what, text, message) => {
    const error = thrown(() => parseCfgFile(text, CFG), ConfigError);
    expect(error.message).toBe(message);
    expect(error.file).toBe(CFG);
  });
});

describe('validators', () => {
  it.each([
    ['eth0', 'eth0'],
    ['eth0.100', 'eth0.100'],
    ['eth0.100.200', 'eth0.100.200'],
    ['a'.repeat(15), 'a'.repeat(15)],
    ['enp3s0f1-fcoe', 'enp3s0f1-fcoe'],
    ['vlan@x', 'vlan@x'],
  ])('ifname accepts %s', (value, expected) => expect(ifname(value, '--interface')).toBe(expected));

  it.each([
    ['', 'must be a network interface name, not empty'],
    ['.', 'must be a network interface name, not . or ..'],
    ['..', 'must be a network interface name, not . or ..'],
    ['a'.repeat(16), 'must be a network interface name of at most 15 bytes'],
    ['a/b', "must be a network interface name without '/', ':' or spaces"],
    ['eth0:1', "must be a network interface name without '/', ':' or spaces"],
    ['eth 0', "must be a network interface name without '/', ':' or spaces"],
    ['eth0\t', 'must be a network interface name in printable ASCII'],
    ['eth0\n', 'must be a network interface name in printable ASCII'],
    ['eth\x7f', 'must be a network interface name in printable ASCII'],
    ['éth0', 'must be a network interface name in printable ASCII'],
  ])('ifname refuses %j', (value, why) => {
    const error = thrown(() => ifname(value, '--interface'), UsageError);
    expect(error.message).toBe(`--interface: ${why}, got ${JSON.stringify(value)}`);
    expect(error.option).toBe('--interface');
  });

  it('yesNo and mode take any case, as fcoemon does', () => {
    expect([yesNo('yes', 'K'), yesNo('YES', 'K'), yesNo('Yes', 'K'), yesNo('no', 'K'), yesNo('NO', 'K')]).toEqual([true, true, true, false, false]);
    expect([mode('fabric', 'MODE'), mode('VN2VN', 'MODE'), mode('Fabric', 'MODE')]).toEqual(['fabric', 'vn2vn', 'fabric']);
    expect(thrown(() => yesNo('yess', 'K'), UsageError).message).toBe('K: must be yes or no, got "yess"');
    expect(thrown(() => yesNo('', 'K'), UsageError).message).toBe('K: must be yes or no, got ""');
    expect(thrown(() => mode('loop', 'MODE'), UsageError).message).toBe('MODE: must be fabric or vn2vn, got "loop"');
  });

  it('driverList splits on blanks and checks each module name', () => {
    expect(driverList(' libfc\tfcoe  bnx2fc ', 'D')).toEqual(['libfc', 'fcoe', 'bnx2fc']);
    expect(driverList('', 'D')).toEqual([]);
    expect(driverList('qla-2xxx_x', 'D')).toEqual(['qla-2xxx_x']);
    const why = 'must be kernel module names (letters, digits, _ and -, at most 55 each) separated by spaces';
    expect(thrown(() => driverList('fcoe bnx2fc;reboot', 'D'), UsageError).message).toBe(`D: ${why}, got "bnx2fc;reboot"`);
    expect(thrown(() => driverList('m'.repeat(56), 'D'), UsageError).message).toBe(`D: ${why}, got "${'m'.repeat(56)}"`);
  });
});

describe('interfaceConfigFromText', () => {
  it('reads the template', () => {
    expect(interfaceConfigFromText(CFG_ETHX, CFG, 'eth0')).toEqual({
      ifname: 'eth0',
      file: CFG,
      enabled: true,
      dcbRequired: true,
      autoVlan: true,
      mode: 'fabric',
      fipResponder: false,
    });
  });

  it("takes fcoe-utils' defaults for absent keys: every flag no, MODE fabric", () => {
    expect(interfaceConfigFromText('# nothing set\n', CFG, 'eth0')).toEqual({
      ifname: 'eth0',
      file: CFG,
      enabled: false,
      dcbRequired: false,
      autoVlan: false,
      mode: 'fabric',
      fipResponder: false,
    });
  });

  it('reads a vn2vn target with upper-case values', () => {
    const text = 'FCOE_ENABLE="YES"\nDCB_REQUIRED="no"\nAUTO_VLAN="No"\nMODE="VN2VN"\nFIP_RESP="yes"\n';
    expect(interfaceConfigFromText(text, CFG, 'eth0.100')).toMatchObject({ ifname: 'eth0.100', enabled: true, dcbRequired: false, autoVlan: false, mode: 'vn2vn', fipResponder: true });
  });

  it.each([
    ['a bad yes/no', 'MODE="fabric"\nFCOE_ENABLE="maybe"', `${CFG}:2: FCOE_ENABLE: must be yes or no, got "maybe"`],
    ['an empty yes/no', 'DCB_REQUIRED=""', `${CFG}:1: DCB_REQUIRED: must be yes or no, got ""`],
    ['a bad MODE', '\n\nMODE="loop"', `${CFG}:3: MODE: must be fabric or vn2vn, got "loop"`],
    ['an unknown key', 'FCOE_ENABLE="yes"\nFCOE_ENABLED="yes"', `${CFG}:2: FCOE_ENABLED: unknown key; the known keys are FCOE_ENABLE, DCB_REQUIRED, AUTO_VLAN, MODE, FIP_RESP`],
    ['a global key', 'DEBUG="yes"', `${CFG}:1: DEBUG: unknown key; the known keys are FCOE_ENABLE, DCB_REQUIRED, AUTO_VLAN, MODE, FIP_RESP`],
    ['an unquoted value', 'FCOE_ENABLE=yes', `${CFG}:1: FCOE_ENABLE: the value must be in double quotes (FCOE_ENABLE="…"), got "yes"`],
  ])('refuses %s', (_what, text, message) => {
    expect(thrown(() => interfaceConfigFromText(text, CFG, 'eth0'), ConfigError).message).toBe(message);
  });
});

describe('globalConfigFromText', () => {
  it('reads DEBUG, USE_SYSLOG and SUPPORTED_DRIVERS', () => {
    expect(globalConfigFromText(CONFIG, GLOBAL)).toEqual({ file: GLOBAL, debug: true, useSyslog: true, supportedDrivers: ['libfc', 'fcoe', 'bnx2fc'] });
  });

  it('defaults absent keys to no and no drivers (the init script passes --debug/--syslog only for yes)', () => {
    expect(globalConfigFromText('', GLOBAL)).toEqual({ file: GLOBAL, debug: false, useSyslog: false, supportedDrivers: [] });
  });

  it.each([
    ['a bad driver', 'SUPPORTED_DRIVERS="fcoe ../x"', `${GLOBAL}:1: SUPPORTED_DRIVERS: must be kernel module names (letters, digits, _ and -, at most 55 each) separated by spaces, got "../x"`],
    ['a bad DEBUG', 'DEBUG="1"', `${GLOBAL}:1: DEBUG: must be yes or no, got "1"`],
    ['an unknown key', 'DEBUG="no"\nMODE="fabric"', `${GLOBAL}:2: MODE: unknown key; the known keys are DEBUG, USE_SYSLOG, SUPPORTED_DRIVERS`],
  ])('refuses %s', (_what, text, message) => {
    expect(thrown(() => globalConfigFromText(text, GLOBAL), ConfigError).message).toBe(message);
  });
});

describe('ifnameOfFile', () => {
  it('is the name after cfg-', () => {
    expect(ifnameOfFile('cfg-eth0.100', '/etc/fcoe/cfg-eth0.100')).toBe('eth0.100');
  });

  it.each([
    ['cfg-', 'must be a network interface name, not empty, got ""'],
    ['cfg-.', 'must be a network interface name, not . or .., got "."'],
    ['cfg-..', 'must be a network interface name, not . or .., got ".."'],
    ['cfg-a:b', `must be a network interface name without '/', ':' or spaces, got "a:b"`],
    ['cfg-eth 0', `must be a network interface name without '/', ':' or spaces, got "eth 0"`],
    ['cfg-0123456789abcdef', 'must be a network interface name of at most 15 bytes, got "0123456789abcdef"'],
    ['cfg-ethé', 'must be a network interface name in printable ASCII, got "ethé"'],
  ])('refuses %j as a ConfigError naming the file', (name, why) => {
    const file = `/etc/fcoe/${name}`;
    const error = thrown(() => ifnameOfFile(name, file), ConfigError);
    expect(error.message).toBe(`${file}: the file name does not name a network interface: ${why}`);
    expect(error.file).toBe(file);
    expect(error.line).toBeUndefined();
  });
});

describe('reading /etc/fcoe', () => {
  /** A System whose /etc/fcoe holds `files` (name → text). */
  function withFiles(files: Record<string, string>): { system: System; dir: string } {
    const system = tempSystem();
    const dir = path.join(system.paths.etc, 'fcoe');
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    return { system, dir };
  }

  it('reads every cfg-* but the template (and its backups), sorted by ifname, and the global file', async () => {
    const { system, dir } = withFiles({
      'cfg-ethx': 'this template line is not valid and must not be read\n',
      'cfg-ethx.rpmnew': 'nor this one\n',
      'cfg-eth10': 'FCOE_ENABLE="yes"\n',
      'cfg-eth2.100': 'FCOE_ENABLE="yes"\nDCB_REQUIRED="yes"\n',
      'cfg-eth2': 'FCOE_ENABLE="no"\n',
      config: CONFIG,
      README: 'not a config file\n',
    });
    const { global, interfaces } = await readFcoeConfig(system);
    expect(global).toEqual({ file: path.join(dir, 'config'), debug: true, useSyslog: true, supportedDrivers: ['libfc', 'fcoe', 'bnx2fc'] });
    expect(interfaces.map((c) => [c.ifname, c.file, c.enabled, c.dcbRequired])).toEqual([
      ['eth2', path.join(dir, 'cfg-eth2'), false, false],
      ['eth2.100', path.join(dir, 'cfg-eth2.100'), true, true],
      ['eth10', path.join(dir, 'cfg-eth10'), true, false],
    ]);
  });

  it('no /etc/fcoe: no interfaces and the global defaults', async () => {
    const system = tempSystem();
    const file = path.join(system.paths.etc, 'fcoe', 'config');
    expect(await readFcoeConfig(system)).toEqual({ global: { file, debug: false, useSyslog: false, supportedDrivers: [] }, interfaces: [] });
    expect(await readInterfaceConfig(system, 'eth0')).toBeUndefined();
    expect(await readGlobalConfig(system)).toEqual({ file, debug: false, useSyslog: false, supportedDrivers: [] });
  });

  it('readInterfaceConfig: one file, absent → undefined, the template → undefined, a bad name → UsageError', async () => {
    const { system, dir } = withFiles({ 'cfg-eth0': 'FCOE_ENABLE="yes"\nMODE="vn2vn"\n', 'cfg-ethx': 'FCOE_ENABLE="yes"\n' });
    expect(await readInterfaceConfig(system, 'eth0')).toEqual({
      ifname: 'eth0',
      file: path.join(dir, 'cfg-eth0'),
      enabled: true,
      dcbRequired: false,
      autoVlan: false,
      mode: 'vn2vn',
      fipResponder: false,
    });
    expect(await readInterfaceConfig(system, 'eth1')).toBeUndefined();
    expect(await readInterfaceConfig(system, 'ethx')).toBeUndefined();
    expect((await rejected(readInterfaceConfig(system, '../../passwd'), UsageError)).message).toBe(
      `interface: must be a network interface name without '/', ':' or spaces, got "../../passwd"`,
    );
  });

  it('an error in one file names that file, line and key', async () => {
    const { system, dir } = withFiles({ 'cfg-eth0': 'FCOE_ENABLE="yes"\n', 'cfg-eth1': '# eth1\nFCOE_ENABLE=yes\n' });
    expect((await rejected(readFcoeConfig(system), ConfigError)).message).toBe(
      `${path.join(dir, 'cfg-eth1')}:2: FCOE_ENABLE: the value must be in double quotes (FCOE_ENABLE="…"), got "yes"`,
    );
  });

  it('a file name that is no interface name is a ConfigError naming the file (the first in order)', async () => {
    const { system, dir } = withFiles({ 'cfg-eth0': '', 'cfg-b c': '', 'cfg-a:b': '' });
    expect((await rejected(readFcoeConfig(system), ConfigError)).message).toBe(
      `${path.join(dir, 'cfg-a:b')}: the file name does not name a network interface: must be a network interface name without '/', ':' or spaces, got "a:b"`,
    );
  });

  it('a bad global file names itself', async () => {
    const { system, dir } = withFiles({ config: 'USE_SYSLOG="sometimes"\n' });
    expect((await rejected(readFcoeConfig(system), ConfigError)).message).toBe(`${path.join(dir, 'config')}:1: USE_SYSLOG: must be yes or no, got "sometimes"`);
  });

  it('a directory, a FIFO, a huge file and a non-UTF-8 file are ConfigErrors naming the file', async () => {
    const { system, dir } = withFiles({ 'cfg-eth1': `# ${'x'.repeat(FILE_MAX_BYTES)}\n`, 'cfg-eth2': `#${'x'.repeat(FILE_MAX_BYTES - 2)}\n` });
    mkdirSync(path.join(dir, 'cfg-eth0'));
    writeFileSync(path.join(dir, 'cfg-eth3'), Buffer.from('# caf\xe9\n', 'latin1'));
    execFileSync('mkfifo', [path.join(dir, 'cfg-eth4')]);
    const message = async (ifname: string) => (await rejected(readInterfaceConfig(system, ifname), ConfigError)).message;
    expect(await message('eth0')).toBe(`${path.join(dir, 'cfg-eth0')}: is a directory, not a file`);
    expect(await message('eth1')).toBe(`${path.join(dir, 'cfg-eth1')}: is larger than ${FILE_MAX_BYTES} bytes; fcoe-utils' config files are a few hundred`);
    // Exactly the cap is read.
    expect(await readInterfaceConfig(system, 'eth2')).toMatchObject({ ifname: 'eth2', enabled: false });
    expect(await message('eth3')).toBe(`${path.join(dir, 'cfg-eth3')}: is not UTF-8 text`);
    expect(await message('eth4')).toBe(`${path.join(dir, 'cfg-eth4')}: is not a regular file`);
    // readFcoeConfig meets the first of them in order.
    expect((await rejected(readFcoeConfig(system), ConfigError)).message).toBe(`${path.join(dir, 'cfg-eth0')}: is a directory, not a file`);
  });

  it('a file that cannot be read is an EnvironmentError naming it', async () => {
    const { system, dir } = withFiles({});
    symlinkSync('cfg-eth0', path.join(dir, 'cfg-eth0'));
    const error = await rejected(readInterfaceConfig(system, 'eth0'), EnvironmentError);
    expect(error.message).toBe(`cannot read ${path.join(dir, 'cfg-eth0')} (FCoE interface configuration): too many symbolic links encountered (ELOOP)`);
  });

  it.skipIf(process.getuid?.() === 0)('an unreadable file (EACCES) is an EnvironmentError naming it', async () => {
    const { system, dir } = withFiles({ 'cfg-eth0': 'FCOE_ENABLE="yes"\n' });
    chmodSync(path.join(dir, 'cfg-eth0'), 0o000);
    const error = await rejected(readInterfaceConfig(system, 'eth0'), EnvironmentError);
    expect(error.message).toBe(`cannot read ${path.join(dir, 'cfg-eth0')} (FCoE interface configuration): permission denied (EACCES); sanhook must run as root`);
  });

  it('an /etc/fcoe that is not a directory is an EnvironmentError naming it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sanhook-fcoe-'));
    const base = tempSystem();
    const system: System = { ...base, paths: { ...base.paths, etc: dir } };
    writeFileSync(path.join(dir, 'fcoe'), '');
    const error = await rejected(readFcoeConfig(system), EnvironmentError);
    expect(error.message).toMatch(new RegExp(`^cannot list ${path.join(dir, 'fcoe')} \\(FCoE configuration directory\\): not a directory \\(ENOTDIR\\)`));
  });
});
