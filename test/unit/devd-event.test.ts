/** devd event lines: parsing (both reconnect forms, quoting) and classification; garbage is a UsageError (exit 2). */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { classifyDevdEvent, parseDevdEvent } from '../../src/hooks/nvmf/devd-event.js';

const classify = (line: string) => classifyDevdEvent(parseDevdEvent(line));

describe('parseDevdEvent', () => {
  it.each([
    ['the landed reconnect form', '!system=nvme subsystem=controller type=RECONNECT name="nvme0"', { system: 'nvme', subsystem: 'controller', type: 'RECONNECT', name: 'nvme0' }],
    ['the draft form', '!system=nvmf subsystem=nvme3 type=reconnect', { system: 'nvmf', subsystem: 'nvme3', type: 'reconnect' }],
    ['a trailing newline as read from a pipe', '!system=nvmf subsystem=nvme3 type=reconnect\n', { system: 'nvmf', subsystem: 'nvme3', type: 'reconnect' }],
    ['quoted values with spaces', '!system=IFNET subsystem=em0 type=LINK_STATE_CHANGED msg="link went down"', { system: 'IFNET', subsystem: 'em0', type: 'LINK_STATE_CHANGED', msg: 'link went down' }],
    ['escaped quote and backslash inside quotes (devctl_safe_quote_sb)', '!system=X subsystem=y type=z v="a \\"b\\" c\\\\d"', { system: 'X', subsystem: 'y', type: 'z', v: 'a "b" c\\d' }],
    ['an empty quoted value', '!system=X type=z v=""', { system: 'X', type: 'z', v: '' }],
    ['runs of spaces and tabs between pairs', '!system=nvme  subsystem=controller\ttype=RECONNECT name=nvme1', { system: 'nvme', subsystem: 'controller', type: 'RECONNECT', name: 'nvme1' }],
    ['a shell metacharacter value stays data', '!system=nvme subsystem=controller type=RECONNECT name="nvme0; rm -rf /"', { system: 'nvme', subsystem: 'controller', type: 'RECONNECT', name: 'nvme0; rm -rf /' }],
  ])('%s', (_name, line, vars) => {
    expect(parseDevdEvent(line)).toEqual({ type: 'notify', vars });
  });

  it.each([
    ['attach', '+nvme0 at nvmf0 on ...', 'attach'],
    ['detach', '-nvme0 at ...', 'detach'],
    ['nomatch', '? at pnpinfo ...', 'nomatch'],
  ])('%s events carry no variables here', (_name, line, type) => {
    expect(parseDevdEvent(line)).toEqual({ type, vars: {} });
  });

  it.each([
    ['empty', '', /empty/],
    ['no event type', 'system=nvme subsystem=controller type=RECONNECT', /must start with/],
    ['a word without =', '!system=nvme controller', /expected key=value at column 14/],
    ['an empty key', '!=nvme', /expected key=value/],
    ['a key with a shell character', '!sys$tem=nvme', /expected key=value/],
    ['an unterminated quote', '!system=nvme name="nvme0', /unterminated quoted value of name/],
    ['text glued to a closing quote', '!system=nvme name="nvme0"x', /right after the closing quote/],
    ['a stray quote in a bare value', '!system=nvme name=nv"me0', /stray quote/],
    ['a key twice', '!system=nvme system=nvmf', /system given twice/],
    ['no system=', '!subsystem=controller type=RECONNECT', /no system=/],
    ['a NUL byte', '!system=nvme\0 type=x', /control characters/],
    ['an embedded newline (two events in one)', '!system=nvme\n!system=nvmf', /control characters/],
    ['an overlong line', `!system=nvme v=${'a'.repeat(2000)}`, /longer than 1024/],
  ])('garbage: %s', (_name, line, message) => {
    expect(() => parseDevdEvent(line)).toThrow(UsageError);
    expect(() => parseDevdEvent(line)).toThrow(message);
  });
});

describe('classifyDevdEvent', () => {
  it.each([
    ['landed RECONNECT', '!system=nvme subsystem=controller type=RECONNECT name="nvme0"', { kind: 'reconnect', device: 'nvme0', form: 'landed' }],
    ['landed, unquoted name', '!system=nvme subsystem=controller type=RECONNECT name=nvme12', { kind: 'reconnect', device: 'nvme12', form: 'landed' }],
    ['draft reconnect', '!system=nvmf subsystem=nvme3 type=reconnect', { kind: 'reconnect', device: 'nvme3', form: 'draft' }],
    ['another nvme event', '!system=nvme subsystem=controller type=DISCONNECTED name="nvme0"', { kind: 'irrelevant', why: 'system=nvme subsystem=controller type=DISCONNECTED' }],
    ['case does not matter (devd matches case-insensitively)', '!system=NVME subsystem=Controller type=reconnect name="nvme0"', { kind: 'reconnect', device: 'nvme0', form: 'landed' }],
    ['another system', '!system=IFNET subsystem=em0 type=LINK_UP', { kind: 'irrelevant', why: 'system=IFNET subsystem=em0 type=LINK_UP' }],
    ['an attach event', '+nvme0 at nvmf0', { kind: 'irrelevant', why: 'attach event' }],
  ])('%s', (_name, line, action) => {
    expect(classify(line)).toEqual(action);
  });

  it.each([
    ['a hostile name', '!system=nvme subsystem=controller type=RECONNECT name="nvme0; rm -rf /"', /devd event name: must be an NVMe controller name/],
    ['a path in the name', '!system=nvme subsystem=controller type=RECONNECT name="../nvme0"', /must be an NVMe controller name/],
    ['a RECONNECT without name', '!system=nvme subsystem=controller type=RECONNECT', /without name=/],
    ['a draft event on a non-controller', '!system=nvmf subsystem=nvmf0 type=reconnect', /devd event subsystem: must be an NVMe controller name/],
  ])('rejects %s', (_name, line, message) => {
    expect(() => classify(line)).toThrow(UsageError);
    expect(() => classify(line)).toThrow(message);
  });
});
