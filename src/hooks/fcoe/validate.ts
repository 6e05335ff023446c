/**
 * FCoE's validators: interface names and the values of fcoe-utils' config
 * files, built on core/validate.ts (same contract: raw string and the
 * option's name in, normalised value or a UsageError naming the option and
 * showing the bad value out). The config readers (fcoe-config.ts) pass the
 * file's KEY as the option and turn the UsageError into a ConfigError.
 */
import { IFNAME_MAX, invalid } from '../../core/validate.js';

/**
 * A network interface name, by the kernel's dev_valid_name() (net/core/dev.c):
 * non-empty, shorter than IFNAMSIZ (16 bytes with the NUL, so at most 15),
 * not "." or "..", and no '/', ':' or whitespace (isspace). The kernel takes
 * any other byte; this also refuses control characters and non-ASCII, so that
 * a name is safe in a file name (cfg-<ifname>), a lock key and a log line,
 * and its length in bytes is its length in characters.
 */
export function ifname(value: string, option: string): string {
  if (value === '') return invalid(option, value, 'must be a network interface name, not empty');
  if (!/^[\x20-\x7e]*$/.test(value)) return invalid(option, value, 'must be a network interface name in printable ASCII');
  if (value.length > IFNAME_MAX) return invalid(option, value, `must be a network interface name of at most ${IFNAME_MAX} bytes`);
  if (value === '.' || value === '..') return invalid(option, value, 'must be a network interface name, not . or ..');
  if (/[/: ]/.test(value)) return invalid(option, value, "must be a network interface name without '/', ':' or spaces");
  return value;
}

/** The order interface names are listed in: eth2 before eth10, the same on every host (fixed locale, code-unit tie-break). */
export function compareIfnames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true }) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * "yes" or "no", in any case: fcoemon compares the cfg-<ifname> flags with
 * strncasecmp() (fcoemon.c fcm_read_config_files), and fcoe-utils' init
 * script takes "yes" and "YES" in /etc/fcoe/config. Stricter than fcoemon in
 * one way: it reads anything that is not "yes…" as "no" (a typo silently
 * disables), this refuses it.
 */
export function yesNo(value: string, option: string): boolean {
  const lower = value.toLowerCase();
  if (lower === 'yes' || lower === 'no') return lower === 'yes';
  return invalid(option, value, 'must be yes or no');
}

export const FCOE_MODES = ['fabric', 'vn2vn'] as const;
export type FcoeMode = (typeof FCOE_MODES)[number];

/** MODE: "fabric" or "vn2vn", in any case as fcoemon reads it (strncasecmp), returned lower-cased. */
export function mode(value: string, option: string): FcoeMode {
  const lower = value.toLowerCase();
  if ((FCOE_MODES as readonly string[]).includes(lower)) return lower as FcoeMode;
  return invalid(option, value, `must be ${FCOE_MODES.join(' or ')}`);
}

/** include/linux/module.h: MODULE_NAME_LEN is 64 - sizeof(unsigned long), with the NUL: 55 on 64-bit hosts. */
export const MODULE_NAME_MAX = 55;

/**
 * SUPPORTED_DRIVERS: kernel module names separated by spaces or tabs (the
 * init script and fcoe.service pass the words to `modprobe -a`); each one
 * letters, digits, '_' and '-'. An empty list is allowed.
 */
export function driverList(value: string, option: string): string[] {
  const names = value.split(/[ \t]+/).filter((word) => word !== '');
  for (const name of names) {
    if (name.length > MODULE_NAME_MAX || !/^[A-Za-z0-9_-]+$/.test(name)) {
      invalid(option, name, `must be kernel module names (letters, digits, _ and -, at most ${MODULE_NAME_MAX} each) separated by spaces`);
    }
  }
  return names;
}
