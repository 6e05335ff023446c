/**
 * The validators every fabric and the CLI share: one per kind of input.
 *
 * Contract: each validator takes the raw string exactly as received (argv
 * word, uevent variable, config scalar) and the option's name as the user
 * spelled it, and returns a normalised value or throws a UsageError that names
 * the option and shows the bad value safely. Values that pass contain no
 * whitespace, shell metacharacters or path separators, so they are safe as
 * argv words, in keys and in log lines. A fabric's own validators (an NQN, a
 * WWN, a GID) live in its folder and are built from `invalid()`.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { UsageError } from './errors.js';

/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const IFNAME_MAX = 15;
/** Longest value we ever echo back in an error, so a hostile value cannot flood the log. */
const SHOWN_MAX = 64;

/** Render a bad value for a one-line message: quoted, control characters escaped, truncated. */
export function showValue(value: string): string {
  const cut = value.length > SHOWN_MAX ? `${value.slice(0, SHOWN_MAX)}…` : value;
  return JSON.stringify(cut) + (value.length > SHOWN_MAX ? ` (${value.length} characters)` : '');
}

/** The one shape of a validation failure: `<option>: <why>, got "<value>"`. */
export function invalid(option: string, value: string, why: string): never {
  throw new UsageError(`${option}: ${why}, got ${showValue(value)}`, option, value);
}

export function oneOf<T extends string>(value: string, allowed: readonly T[], option: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  return invalid(option, value, `must be one of ${allowed.join(', ')}`);
}

/** A directory option (--root, --sysfs): any non-empty path, made absolute. */
export function directory(value: string, option: string): string {
  if (value === '' || value.includes('\0')) return invalid(option, value, 'must be a directory path');
  return path.resolve(value);
}

/** A whole number in [min, max]; `what` says the unit and range as the message shows it. */
export function integer(value: string, option: string, min: number, max: number, what: string): number {
  if (/^-?[0-9]{1,10}$/.test(value)) {
    const n = Number(value);
    if (n >= min && n <= max) return n;
  }
  return invalid(option, value, what);
}

/** `true` or `false`, as YAML and argv spell them. */
export function boolean(value: string, option: string): boolean {
  if (value === 'true' || value === 'false') return value === 'true';
  return invalid(option, value, 'must be true or false');
}

/**
 * Seconds with up to three decimals (a millisecond), returned in milliseconds:
 * fcoemon's retry steps are 0.2 s, so schedules are not whole seconds.
 */
export function secondsAsMs(value: string, option: string, minMs: number, maxMs: number, what: string): number {
  if (/^[0-9]{1,9}(\.[0-9]{1,3})?$/.test(value)) {
    const ms = Math.round(Number(value) * 1000);
    if (ms >= minMs && ms <= maxMs) return ms;
  }
  return invalid(option, value, what);
}

/**
 * A delay in seconds to the millisecond, in milliseconds, where 0 means off:
 * 0, or [minMs, maxMs]. The minimum keeps "0.001" from meaning a hook started
 * back to back when 0 already says "no attempts".
 */
export function delaySecondsAsMs(value: string, option: string, minMs: number, maxMs: number, what: string): number {
  const ms = secondsAsMs(value, option, 0, maxMs, what);
  if (ms !== 0 && ms < minMs) return invalid(option, value, what);
  return ms;
}

/**
 * A timeout in seconds to the millisecond, in milliseconds, where -1 or 0 mean
 * never (ctrl-loss-tmo's spelling), both returned as 0.
 */
export function timeoutSecondsAsMs(value: string, option: string, maxMs: number, what: string): number {
  if (value === '-1') return 0;
  return secondsAsMs(value, option, 0, maxMs, what);
}

/** `name=value` (a repeated option such as --param): the name non-empty, the value anything; split at the first `=`. */
export function nameValue(value: string, option: string): [string, string] {
  const eq = value.indexOf('=');
  if (eq <= 0) return invalid(option, value, 'must be name=value');
  return [value.slice(0, eq), value.slice(eq + 1)];
}

/** One spelling per address (IPv6 compressed, lower case) so comparisons with sysfs hold. */
export function canonicalIp(value: string): string {
  if (isIP(value) !== 6) return value.toLowerCase();
  try {
    return new URL(`http://[${value}]/`).hostname.slice(1, -1);
  } catch {
    return value.toLowerCase();
  }
}

export function ipAddress(value: string, option: string, why: string): string {
  if (isIP(value) !== 0) return canonicalIp(value);
  return invalid(option, value, why);
}

export function port(value: string, option: string): string {
  if (/^[0-9]{1,5}$/.test(value)) {
    const n = Number(value);
    if (n >= 1 && n <= 65535) return String(n);
  }
  return invalid(option, value, 'must be a port number 1-65535');
}

export function interfaceName(value: string, option: string): string {
  if (value.length > IFNAME_MAX) return invalid(option, value, `must be an interface name of at most ${IFNAME_MAX} characters`);
  if (/^[A-Za-z0-9_][A-Za-z0-9_.@-]*$/.test(value) && value !== '.' && value !== '..') return value;
  return invalid(option, value, 'must be an interface name (letters, digits, _ . @ -)');
}
