/**
 * The syntax of fcoe-utils' shell-variable files (/etc/fcoe/cfg-<ifname>,
 * /etc/fcoe/config): a pure parser, no I/O and no knowledge of the keys.
 *
 * Contract: `parseCfgFile(text, file)` returns every KEY with its value
 * (quotes removed) and 1-based line, or throws a ConfigError naming file,
 * line and (when the line has one) the key. The format is the subset that
 * both of fcoe-utils' readers agree on, so a file means the same to sanhook,
 * to fcoemon and to the shell that sources it (fcoe.service's
 * EnvironmentFile=, the init script's `. /etc/fcoe/config`):
 *
 *   - blank lines, and lines whose first non-blank character is '#';
 *   - KEY="value": KEY is [A-Z_][A-Z0-9_]*, no spaces around '=', the value
 *     in double quotes. fcoemon (fcoemon.c fcm_read_config_variable and
 *     fcm_remove_quotes) rejects an unquoted value, and fcoe-utils' own files
 *     (etc/cfg-ethx, etc/config) always quote;
 *   - a trailing comment after the closing quote and a blank (`MODE="fabric"
 *     # …`): fcoemon stops the value at the first blank and the shell reads a
 *     comment;
 *   - leading and trailing blanks (and a CR, for a file edited on Windows).
 *
 * Refused, each as a ConfigError: anything else on a line, a key set twice
 * (fcoemon takes the first, the shell the last), '\', '$' or '`' inside the
 * quotes (the shell would expand them: the value would differ between the
 * two readers), and a value longer than VALUE_MAX_BYTES.
 */
import { ConfigError } from '../../core/errors.js';
import { showValue } from '../../core/validate.js';

/**
 * Longest value, in UTF-8 bytes. fcoemon itself reads at most 20 characters
 * (CONFIG_MAX_VAL_LEN); SUPPORTED_DRIVERS, which only the shell reads, is a
 * handful of module names ("libfc fcoe bnx2fc"), and 256 bytes holds more
 * than four of the longest (55 bytes). Anything longer is not a setting but
 * a mistake, and this keeps one out of messages and `sanhook status`.
 */
export const VALUE_MAX_BYTES = 256;

export interface CfgEntry {
  readonly value: string;
  /** 1-based line number, for messages. */
  readonly line: number;
}

const KEY = /^[A-Z_][A-Z0-9_]*$/;
/** The double-quoted value, then an optional comment after a blank. */
const QUOTED = /^"([^"]*)"(?:[ \t]+#.*)?$/;
const SHELL_SPECIAL = /[\\$`]/;

export function parseCfgFile(text: string, file: string): ReadonlyMap<string, CfgEntry> {
  const entries = new Map<string, CfgEntry>();
  const lines = text.split('\n');
  // A final newline ends the last line; it does not start an empty one.
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.replace(/^[ \t]+|[ \t\r]+$/g, '');
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) throw new ConfigError(file, line, undefined, `expected KEY="value", a # comment or a blank line, got ${showValue(trimmed)}`);
    const key = trimmed.slice(0, eq);
    if (!KEY.test(key)) {
      throw new ConfigError(file, line, undefined, `expected KEY="value" with KEY of A-Z, 0-9 and _ (not starting with a digit) and no spaces around =, got ${showValue(trimmed)}`);
    }
    const rest = trimmed.slice(eq + 1);
    const quoted = QUOTED.exec(rest);
    if (!quoted) throw new ConfigError(file, line, key, `the value must be in double quotes (${key}="…"), got ${showValue(rest)}`);
    const value = quoted[1]!;
    if (SHELL_SPECIAL.test(value)) throw new ConfigError(file, line, key, `the value must not contain \\, $ or \` (the shell would expand them), got ${showValue(value)}`);
    const bytes = Buffer.byteLength(value);
    if (bytes > VALUE_MAX_BYTES) throw new ConfigError(file, line, key, `the value is ${bytes} bytes, more than the ${VALUE_MAX_BYTES} allowed`);
    const first = entries.get(key);
    if (first) throw new ConfigError(file, line, key, `set again (first set on line ${first.line})`);
    entries.set(key, { value, line });
  });
  return entries;
}
