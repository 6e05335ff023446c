/**
 * fcoe-utils' configuration as sanhook reads it: /etc/fcoe/cfg-<ifname> (one
 * per FCoE interface) and /etc/fcoe/config (global), validated.
 *
 * Contract:
 * - `interfaceConfigFromText()` and `globalConfigFromText()` are pure: text
 *   in, a validated FcoeInterfaceConfig / FcoeGlobalConfig out, or a
 *   ConfigError naming file, line and key. Unknown keys are errors (the
 *   message lists the known ones); absent keys take fcoe-utils' defaults.
 * - `readInterfaceConfig()` reads one cfg-<ifname> (absent: undefined);
 *   `readFcoeConfig()` reads every cfg-* (sorted by ifname) and the global
 *   file. A missing /etc/fcoe means no interfaces and the global defaults.
 * - The interface name is the file name after "cfg-"; a name the kernel
 *   would refuse (validate.ts `ifname`) is a ConfigError naming the file.
 *   Names starting with "cfg-ethx" are skipped, as fcoemon skips them
 *   (fcm_read_config_files compares DEF_CFG_FILE with strncmp): "cfg-ethx" is
 *   fcoe-utils' template, and its backups (cfg-ethx.rpmnew) are too.
 * - A file that is a directory, not a regular file, larger than
 *   FILE_MAX_BYTES or not UTF-8 is a ConfigError; any other failure to read
 *   it (EACCES, ELOOP, ...) is an EnvironmentError naming the file.
 */
import { constants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, UsageError } from '../../core/errors.js';
import { fsError, type FsTarget } from '../../core/fs-errors.js';
import type { System } from '../../core/system.js';
import { parseCfgFile, type CfgEntry } from './cfg-file.js';
import type { FcoeGlobalConfig, FcoeInterfaceConfig } from './types.js';
import { compareIfnames, driverList, ifname as validIfname, mode, yesNo } from './validate.js';

/** /etc/fcoe below `paths.etc`: fcoe-utils' CONFIG_DIR. */
export const FCOE_DIR = 'fcoe';
/** Per-interface files are cfg-<ifname> (fcoemon's CFG_FILE_PREFIX). */
export const CFG_PREFIX = 'cfg-';
/** fcoe-utils' template (fcoemon's DEF_CFG_FILE); skipped with every name it starts. */
export const TEMPLATE_FILE = 'cfg-ethx';
export const GLOBAL_FILE = 'config';

/**
 * Most bytes read from one file. fcoe-utils' own files are under 1 KiB
 * (etc/cfg-ethx is 678 bytes, all comments but five lines); 64 KiB leaves
 * room for any amount of commentary, and stops a file put there by mistake (a
 * log, an image) from being read into memory by every hook run.
 */
export const FILE_MAX_BYTES = 64 * 1024;

export function fcoeDir(system: System): string {
  return path.join(system.paths.etc, FCOE_DIR);
}

/** fcoemon skips every cfg-* name that starts with the template's name. */
export function isTemplate(fileName: string): boolean {
  return fileName.startsWith(TEMPLATE_FILE);
}

// ---------------------------------------------------------------- pure part

/** The keys of cfg-<ifname> (fcoemon.c CFG_IF_VAR_*), with the defaults cfg-ethx documents ("## Default:"). */
export const INTERFACE_KEYS = ['FCOE_ENABLE', 'DCB_REQUIRED', 'AUTO_VLAN', 'MODE', 'FIP_RESP'] as const;
/** The keys of /etc/fcoe/config (fcoe-utils' etc/config, fcoe.service, the init scripts). */
export const GLOBAL_KEYS = ['DEBUG', 'USE_SYSLOG', 'SUPPORTED_DRIVERS'] as const;

/**
 * Absent /etc/fcoe/config or absent keys. etc/config documents "Default: yes"
 * for DEBUG and USE_SYSLOG, but that is the value the shipped file sets: the
 * init script and fcoe.service pass --debug / --syslog to fcoemon only when
 * the variable says yes, so an unset one means no. SUPPORTED_DRIVERS unset:
 * `modprobe -qa` with no names loads nothing.
 */
export function defaultGlobalConfig(file: string): FcoeGlobalConfig {
  return { file, debug: false, useSyslog: false, supportedDrivers: [] };
}

/** A UsageError from a validator (option = the key) becomes a ConfigError at the key's line. */
function setting<T>(file: string, key: string, entry: CfgEntry, convert: (value: string, option: string) => T): T {
  try {
    return convert(entry.value, key);
  } catch (error) {
    if (error instanceof UsageError && error.message.startsWith(`${key}: `)) {
      throw new ConfigError(file, entry.line, key, error.message.slice(key.length + 2), { cause: error });
    }
    throw error;
  }
}

function checkKeys(file: string, entries: ReadonlyMap<string, CfgEntry>, known: readonly string[]): void {
  for (const [key, entry] of entries) {
    if (!known.includes(key)) throw new ConfigError(file, entry.line, key, `unknown key; the known keys are ${known.join(', ')}`);
  }
}

/** cfg-<ifname>'s text, validated. `ifname` must already be valid (it names the file). */
export function interfaceConfigFromText(text: string, file: string, ifname: string): FcoeInterfaceConfig {
  const entries = parseCfgFile(text, file);
  checkKeys(file, entries, INTERFACE_KEYS);
  const flag = (key: (typeof INTERFACE_KEYS)[number]): boolean => {
    const entry = entries.get(key);
    // cfg-ethx: "## Default: no" for every yes/no key; fcoemon: "if not found, default to no".
    return entry ? setting(file, key, entry, yesNo) : false;
  };
  const modeEntry = entries.get('MODE');
  return {
    ifname,
    file,
    enabled: flag('FCOE_ENABLE'),
    dcbRequired: flag('DCB_REQUIRED'),
    autoVlan: flag('AUTO_VLAN'),
    mode: modeEntry ? setting(file, 'MODE', modeEntry, mode) : 'fabric',
    fipResponder: flag('FIP_RESP'),
  };
}

/** /etc/fcoe/config's text, validated. */
export function globalConfigFromText(text: string, file: string): FcoeGlobalConfig {
  const entries = parseCfgFile(text, file);
  checkKeys(file, entries, GLOBAL_KEYS);
  const defaults = defaultGlobalConfig(file);
  const debug = entries.get('DEBUG');
  const useSyslog = entries.get('USE_SYSLOG');
  const drivers = entries.get('SUPPORTED_DRIVERS');
  return {
    file,
    debug: debug ? setting(file, 'DEBUG', debug, yesNo) : defaults.debug,
    useSyslog: useSyslog ? setting(file, 'USE_SYSLOG', useSyslog, yesNo) : defaults.useSyslog,
    supportedDrivers: drivers ? setting(file, 'SUPPORTED_DRIVERS', drivers, driverList) : defaults.supportedDrivers,
  };
}

/** The interface a cfg-<ifname> file name names, or a ConfigError naming the file. */
export function ifnameOfFile(fileName: string, file: string): string {
  const name = fileName.slice(CFG_PREFIX.length);
  try {
    return validIfname(name, 'interface name');
  } catch (error) {
    if (error instanceof UsageError) {
      throw new ConfigError(file, undefined, undefined, `the file name does not name a network interface: ${error.message.slice('interface name: '.length)}`, { cause: error });
    }
    throw error;
  }
}

// ---------------------------------------------------------------- I/O

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A config file's text; undefined when it does not exist. Opened non-blocking
 * so that a FIFO put there cannot hang the hook (it is then refused as not a
 * regular file); read through the descriptor fstat() checked.
 */
async function readConfigFile(file: string, target: FsTarget): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EISDIR') throw new ConfigError(file, undefined, undefined, 'is a directory, not a file');
    throw fsError(error, 'read', file, target);
  }
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) throw new ConfigError(file, undefined, undefined, 'is a directory, not a file');
    if (!stats.isFile()) throw new ConfigError(file, undefined, undefined, 'is not a regular file');
    // One byte more than allowed tells a file that grew past the cap since fstat().
    const buffer = Buffer.alloc(Math.min(stats.size, FILE_MAX_BYTES) + 1);
    let length = 0;
    if (stats.size <= FILE_MAX_BYTES) {
      for (;;) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
        if (bytesRead === 0 || (length += bytesRead) === buffer.length) break;
      }
    }
    if (stats.size > FILE_MAX_BYTES || length > FILE_MAX_BYTES) {
      throw new ConfigError(file, undefined, undefined, `is larger than ${FILE_MAX_BYTES} bytes; fcoe-utils' config files are a few hundred`);
    }
    try {
      return utf8.decode(buffer.subarray(0, length));
    } catch {
      throw new ConfigError(file, undefined, undefined, 'is not UTF-8 text');
    }
  } catch (error) {
    throw fsError(error, 'read', file, target);
  } finally {
    await handle.close();
  }
}

function targets(dir: string) {
  return {
    dir: { what: 'FCoE configuration directory', top: dir },
    interface: { what: 'FCoE interface configuration', top: dir },
    global: { what: 'FCoE global configuration', top: dir },
  } as const satisfies Record<string, FsTarget>;
}

/**
 * /etc/fcoe/cfg-<ifname>, validated; undefined when there is none. `ifname`
 * is validated (UsageError naming `option`); a template name (ethx…) has no
 * config, as for fcoemon.
 */
export async function readInterfaceConfig(system: System, ifname: string, option = 'interface'): Promise<FcoeInterfaceConfig | undefined> {
  const name = validIfname(ifname, option);
  const fileName = CFG_PREFIX + name;
  if (isTemplate(fileName)) return undefined;
  const dir = fcoeDir(system);
  const file = path.join(dir, fileName);
  const text = await readConfigFile(file, targets(dir).interface);
  return text === undefined ? undefined : interfaceConfigFromText(text, file, name);
}

/** /etc/fcoe/config, validated; the defaults when there is none. */
export async function readGlobalConfig(system: System): Promise<FcoeGlobalConfig> {
  const dir = fcoeDir(system);
  const file = path.join(dir, GLOBAL_FILE);
  const text = await readConfigFile(file, targets(dir).global);
  return text === undefined ? defaultGlobalConfig(file) : globalConfigFromText(text, file);
}

/** Every cfg-<ifname> (not the template), sorted by ifname, and the global file. */
export async function readFcoeConfig(system: System): Promise<{ global: FcoeGlobalConfig; interfaces: readonly FcoeInterfaceConfig[] }> {
  const dir = fcoeDir(system);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(error, 'list', dir, targets(dir).dir);
    names = [];
  }
  // Sorted before validating, so that of several bad names the first in order is the one reported.
  const files = names
    .filter((name) => name.startsWith(CFG_PREFIX) && !isTemplate(name))
    .sort(compareIfnames)
    .map((name) => ({ file: path.join(dir, name), ifname: ifnameOfFile(name, path.join(dir, name)) }));
  const interfaces: FcoeInterfaceConfig[] = [];
  for (const { file, ifname } of files) {
    const text = await readConfigFile(file, targets(dir).interface);
    // Removed since the listing: as if never there.
    if (text !== undefined) interfaces.push(interfaceConfigFromText(text, file, ifname));
  }
  return { global: await readGlobalConfig(system), interfaces };
}
