/**
 * FreeBSD devd event lines, parsed and classified (pure; no I/O).
 *
 * Contract: `parseDevdEvent()` turns one raw line as devd receives it from
 * /dev/devctl (`!system=nvme subsystem=controller type=RECONNECT
 * name="nvme0"`) into its type and variables, or throws a UsageError naming
 * what is wrong; `classifyDevdEvent()` says whether sanhook acts on it.
 *
 * Format (devctl(4), sys/kern/subr_bus.c, sbin/devd/devd.cc): the first
 * character is the event type (`!` notify, `+` attach, `-` detach, `?`
 * nomatch); a notify event is space-separated `key=value` pairs; a value is
 * either bare (no spaces) or double-quoted, the kernel escaping `"` and `\`
 * inside quotes with a backslash (devctl_safe_quote_sb).
 *
 * Two forms of the nvmf host driver's reconnect notification are accepted:
 *   landed  `!system=nvme subsystem=controller type=RECONNECT name="nvme0"`
 *   draft   `!system=nvmf subsystem=nvme0 type=reconnect` (an earlier review
 *           draft of the same change)
 */
import { UsageError } from '../../core/errors.js';
import { device as validDevice, showValue } from './validate.js';

/** devctl's own buffer is 1 KiB per event; anything longer is not from the kernel. */
export const DEVD_LINE_MAX = 1024;

export type DevdEventType = 'notify' | 'attach' | 'detach' | 'nomatch';

export interface DevdEvent {
  readonly type: DevdEventType;
  /** The variables of a notify event (system, subsystem, type, and the event's data). */
  readonly vars: Readonly<Record<string, string>>;
}

const TYPES: Readonly<Record<string, DevdEventType>> = { '!': 'notify', '+': 'attach', '-': 'detach', '?': 'nomatch' };
const KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

const bad = (line: string, problem: string) => new UsageError(`devd event ${showValue(line)}: ${problem}`, 'devd event', line);

export function parseDevdEvent(raw: string): DevdEvent {
  const line = raw.replace(/\r?\n$/, '');
  if (line.length === 0) throw bad(line, 'empty');
  if (line.length > DEVD_LINE_MAX) throw bad(line.slice(0, 40), `longer than ${DEVD_LINE_MAX} characters`);
  if (/[\0-\x08\x0a-\x1f\x7f]/.test(line)) throw bad(line, 'contains control characters');
  const type = TYPES[line[0]!];
  if (!type) throw bad(line, 'must start with ! (notify), + (attach), - (detach) or ? (nomatch)');
  if (type !== 'notify') return { type, vars: {} };
  const vars: Record<string, string> = {};
  let i = 1;
  while (i < line.length) {
    if (line[i] === ' ' || line[i] === '\t') {
      i += 1;
      continue;
    }
    const eq = line.indexOf('=', i);
    const key = eq < 0 ? '' : line.slice(i, eq);
    if (!KEY.test(key)) throw bad(line, `expected key=value at column ${i + 1}, got ${showValue(line.slice(i, i + 20))}`);
    let value = '';
    i = eq + 1;
    if (line[i] === '"') {
      i += 1;
      for (;;) {
        if (i >= line.length) throw bad(line, `unterminated quoted value of ${key}`);
        const c = line[i]!;
        if (c === '\\' && i + 1 < line.length) {
          value += line[i + 1];
          i += 2;
        } else if (c === '"') {
          i += 1;
          break;
        } else {
          value += c;
          i += 1;
        }
      }
      if (i < line.length && line[i] !== ' ' && line[i] !== '\t') throw bad(line, `text right after the closing quote of ${key}`);
    } else {
      const end = line.slice(i).search(/[ \t]/);
      value = end < 0 ? line.slice(i) : line.slice(i, i + end);
      if (value.includes('"')) throw bad(line, `stray quote in the value of ${key}`);
      i += value.length;
    }
    if (Object.hasOwn(vars, key)) throw bad(line, `${key} given twice`);
    vars[key] = value;
  }
  if (vars.system === undefined) throw bad(line, 'a notify event has no system=');
  return { type, vars };
}

export type DevdAction = { readonly kind: 'reconnect'; readonly device: string; readonly form: 'landed' | 'draft' } | { readonly kind: 'irrelevant'; readonly why: string };

/** Which sanhook action a parsed event asks for; a reconnect's controller name is validated here. */
export function classifyDevdEvent(event: DevdEvent): DevdAction {
  if (event.type !== 'notify') return { kind: 'irrelevant', why: `${event.type} event` };
  // devd matches case-insensitively (regcomp REG_ICASE in devd.cc); so does this.
  const system = event.vars.system?.toLowerCase();
  const subsystem = event.vars.subsystem;
  const type = event.vars.type?.toLowerCase();
  if (system === 'nvme' && subsystem?.toLowerCase() === 'controller' && type === 'reconnect') {
    if (event.vars.name === undefined) throw new UsageError('devd event: nvme RECONNECT without name=', 'devd event');
    return { kind: 'reconnect', device: validDevice(event.vars.name, 'devd event name'), form: 'landed' };
  }
  if (system === 'nvmf' && type === 'reconnect' && subsystem !== undefined) {
    return { kind: 'reconnect', device: validDevice(subsystem, 'devd event subsystem'), form: 'draft' };
  }
  const v = event.vars;
  return { kind: 'irrelevant', why: `system=${v.system ?? '?'} subsystem=${v.subsystem ?? '?'} type=${v.type ?? '?'}` };
}
