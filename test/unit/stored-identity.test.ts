/**
 * The early-add identity table (test/fixtures/stored-identity-rows.ts) through
 * the pure storedIdentity(); the same rows run through a real systemd-udevd
 * with the shipped rules in test/system/udev-host.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { classifyLostUevent } from '../../src/hooks/nvmf/lost.js';
import { IDENTITY_FIELDS, identified, storable, storedIdentity, type IdentityEvent, type StoredIdentity } from '../../src/hooks/nvmf/stored-identity.js';
import * as validate from '../../src/hooks/nvmf/validate.js';
import { HOSTILE_NQN, HOSTNQN, IO_NQN, STORED_IDENTITY_ROWS } from '../fixtures/stored-identity-rows.js';

describe('storedIdentity: what the udev database holds after an event of a fabrics controller', () => {
  it.each(STORED_IDENTITY_ROWS.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    expect(storedIdentity(row.event, row.previous)).toEqual(row.stored);
  });

  it('the table covers every branch: add and change, identified and not, connected and rediscover, gone, hostile, PCIe, remove', () => {
    const events = STORED_IDENTITY_ROWS.map((r) => r.event);
    expect(new Set(events.map((e) => e.action))).toEqual(new Set(['add', 'change', 'remove']));
    expect(events.some((e) => e.action === 'add' && !identified(e))).toBe(true);
    expect(events.some((e) => e.action === 'add' && identified(e))).toBe(true);
    expect(events.some((e) => e.nvmeEvent === 'connected' && e.state !== 'live')).toBe(true);
    expect(events.some((e) => e.nvmeEvent === 'rediscover')).toBe(true);
    expect(events.some((e) => e.action === 'change' && e.state === undefined && Object.keys(e.attributes).length === 0)).toBe(true);
    expect(events.some((e) => Object.values(e.attributes).includes(HOSTILE_NQN))).toBe(true);
    expect(events.some((e) => !e.fabrics)).toBe(true);
    // every stored value is one sanhook accepts
    for (const row of STORED_IDENTITY_ROWS) for (const value of Object.values(row.stored)) expect(storable(value), value).toBe(true);
  });

  it('identified: only the connected event or a state that reads live', () => {
    const base: IdentityEvent = { action: 'change', fabrics: true, attributes: {} };
    expect(identified({ ...base, nvmeEvent: 'connected' })).toBe(true);
    expect(identified({ ...base, state: 'live' })).toBe(true);
    for (const state of ['new', 'connecting', 'resetting', 'deleting', 'deleting (no IO)', 'dead', 'Live', 'live ', '']) {
      expect(identified({ ...base, state }), state).toBe(false);
    }
    for (const nvmeEvent of ['rediscover', 'connectedx', 'Connected']) expect(identified({ ...base, nvmeEvent }), nvmeEvent).toBe(false);
  });

  it('storable: exactly the characters validate.nqn() accepts after `nqn.<date>.<domain>:`, never empty', () => {
    expect(storable(undefined)).toBe(false);
    expect(storable('')).toBe(false);
    for (let code = 0x20; code < 0x7f; code += 1) {
      const c = String.fromCharCode(code);
      let accepted = true;
      try {
        validate.nqn(`nqn.2014-08.org.example:a${c}b`);
      } catch {
        accepted = false;
      }
      expect(storable(`a${c}b`), JSON.stringify(c)).toBe(accepted);
    }
    expect(storable('line\nbreak')).toBe(false);
  });

  it('other actions (bind, move, online) store nothing: udevd writes the database from the event alone', () => {
    const previous: StoredIdentity = { subnqn: IO_NQN, cntrltype: 'io', hostnqn: HOSTNQN };
    for (const action of ['bind', 'unbind', 'move', 'online', 'offline']) {
      expect(storedIdentity({ action, fabrics: true, state: 'live', attributes: { subsysnqn: IO_NQN, cntrltype: 'io', hostnqn: HOSTNQN } }, previous), action).toEqual({});
    }
  });

  it('the stored names are the ones `lost --uevent` reads: a remove row gives lost the identity it stores', () => {
    expect(IDENTITY_FIELDS.map(([, property]) => property)).toEqual(['SANHOOK_SUBNQN', 'SANHOOK_CNTRLTYPE', 'SANHOOK_HOSTNQN']);
    const stored = storedIdentity({ action: 'remove', fabrics: true, attributes: {} }, { subnqn: IO_NQN, cntrltype: 'io', hostnqn: HOSTNQN });
    const env: Record<string, string> = { SUBSYSTEM: 'nvme', ACTION: 'remove', NVME_TRTYPE: 'tcp', NVME_TRADDR: '192.0.2.10', NVME_TRSVCID: '4420' };
    for (const [field, property] of IDENTITY_FIELDS) if (stored[field] !== undefined) env[property] = stored[field];
    expect(classifyLostUevent(env)).toMatchObject({ kind: 'lost', cntrltype: 'io', options: { nqn: IO_NQN, hostnqn: HOSTNQN } });
  });
});
