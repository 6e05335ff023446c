import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LOST_POLICY } from '../../src/hooks/nvmf/config.js';
import { matches } from '../../src/hooks/nvmf/disconnect.js';
import { armMessage, classifyLostUevent, decideLost } from '../../src/hooks/nvmf/lost.js';
import { decideReconnect } from '../../src/hooks/nvmf/reconnect.js';
import { ioParamsFromOptions } from '../../src/hooks/nvmf/io-request.js';
import { controllerFromAttributes } from '../../src/hooks/nvmf/sysfs.js';
import { timerHookTable } from '../../src/core/registry.js';
import { FABRICS } from '../../src/hooks/index.js';
import { parseRequest } from '../../src/timerd/protocol.js';

const S1 = 'nqn.2026-11.io.sanhook:subsys1';
const params = ioParamsFromOptions({ transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', nqn: S1 });
const managed = ioParamsFromOptions({ transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', nqn: S1, hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:x', 'ctrl-loss-tmo': '6' });

/** The real remove uevent of an I/O controller (6.1 kernel), plus what sanhook's rules store in the udev db. */
function removeEnv(): Record<string, string> {
  const text = readFileSync(new URL('../fixtures/nvme-cli/uevent-remove.txt', import.meta.url), 'utf8');
  const blocks = text.split(/\n(?=KERNEL\[|UDEV )/);
  const block = blocks.find((b) => /SUBSYSTEM=nvme\n/.test(b) && /NVME_TRTYPE=/.test(b)) ?? '';
  const env: Record<string, string> = {};
  for (const line of block.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return { ...env, SANHOOK_SUBNQN: S1, SANHOOK_CNTRLTYPE: 'io' };
}

describe('classifyLostUevent', () => {
  it('the real remove uevent gives the endpoint, with the subnqn from the udev db', () => {
    const input = classifyLostUevent(removeEnv());
    expect(input).toMatchObject({ kind: 'lost', cntrltype: 'io', options: { transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', nqn: S1 } });
    if (input.kind === 'lost') expect(input.options).not.toHaveProperty('host-traddr');
  });
  it.each([
    [{ SUBSYSTEM: 'nvme', ACTION: 'change', NVME_TRTYPE: 'tcp' }],
    [{ SUBSYSTEM: 'nvme', ACTION: 'remove' }],
    [{ SUBSYSTEM: 'block', ACTION: 'remove', NVME_TRTYPE: 'tcp' }],
  ])('irrelevant: %j', (env) => expect(classifyLostUevent(env).kind).toBe('irrelevant'));
});

describe('decideLost', () => {
  const policy = DEFAULT_LOST_POLICY;
  it.each([
    ['managed I/O controller → arm with the managed identity', { params, cntrltype: 'io', managed, tombstoned: false }, policy, 'arm'],
    ['unmanaged → ignored by default', { params, cntrltype: 'io', tombstoned: false }, policy, 'ignore:not-managed'],
    ['unmanaged, adopt all → arm', { params, cntrltype: 'io', tombstoned: false }, { ...policy, reconnectUnmanaged: true }, 'arm'],
    ['disconnected on purpose → never', { params, cntrltype: 'io', managed, tombstoned: true }, policy, 'ignore:disconnected-by-admin'],
    ['discovery controller → never', { params, cntrltype: 'discovery', managed, tombstoned: false }, policy, 'ignore:discovery-controller'],
    ['no subnqn in the event → cannot', { cntrltype: 'io', tombstoned: false }, policy, 'ignore:no-subnqn'],
  ] as const)('%s', (_name, observation, p, expected) => {
    const decision = decideLost(observation, p);
    expect(decision.action === 'arm' ? 'arm' : `ignore:${decision.reason}`).toBe(expected);
  });
  it('arms with the managed parameters (host NQN, kernel timers) and the policy', () => {
    const decision = decideLost({ params, cntrltype: 'io', managed, tombstoned: false }, policy);
    if (decision.action !== 'arm') throw new Error('expected arm');
    expect(decision.message).toEqual({
      op: 'arm',
      hook: 'reconnect',
      lossHook: 'give-up',
      params: { transport: 'tcp', nqn: S1, traddr: '127.0.0.1', trsvcid: '4420', hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:x', 'ctrl-loss-tmo': '6' },
      delay: 10,
      growth: 'fixed',
      lossSeconds: 600,
      lossAttempts: 0,
    });
    // and timerd accepts exactly that request
    expect(() => parseRequest(JSON.stringify(decision.message), timerHookTable(FABRICS))).not.toThrow();
  });
  it.each([
    [-1, -1],
    [0, -1],
    [30, 30],
  ])('ctrl-loss-tmo %i → lossSeconds %i', (ctrlLossTmo, lossSeconds) => {
    expect(armMessage(params, { ...DEFAULT_LOST_POLICY, ctrlLossTmo })).toMatchObject({ lossSeconds });
  });
});

describe('decideReconnect', () => {
  const ctrl = (state: string, extra: Record<string, string> = {}) =>
    controllerFromAttributes('nvme3', { transport: 'tcp', address: 'traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1', subsysnqn: S1, cntrltype: 'io', state, ...extra })!;
  it.each([
    ['nothing there → connect', [], false, 'connect'],
    ['live → done', [ctrl('live')], false, 'done:already-live'],
    ['connecting → the kernel is retrying', [ctrl('connecting')], false, 'wait:kernel-retrying'],
    ['resetting → the kernel is retrying', [ctrl('resetting')], false, 'wait:kernel-retrying'],
    ['deleting → connect a new one', [ctrl('deleting')], false, 'connect'],
    ['other subsystem live → connect', [ctrl('live', { subsysnqn: 'nqn.2026-11.io.sanhook:other' })], false, 'connect'],
    ['tombstoned → done, never connect', [], true, 'done:disconnected-by-admin'],
  ] as const)('%s', (_name, controllers, tombstoned, expected) => {
    const d = decideReconnect(params, [...controllers], tombstoned);
    expect(d.action === 'connect' ? 'connect' : `${d.action}:${d.reason}`).toBe(expected);
  });
});

describe('disconnect matching', () => {
  it.each([
    [{ device: 'nvme3' }, { device: 'nvme3', params }, true],
    [{ device: 'nvme3' }, { device: 'nvme4', params }, false],
    [{ device: 'nvme3' }, { params }, false],
    [{ nqn: S1 }, { params }, true],
    [{ nqn: S1, traddr: '127.0.0.1', trsvcid: '4420', transport: 'tcp' }, { params }, true],
    [{ nqn: S1, trsvcid: '4421' }, { params }, false],
    [{ nqn: 'nqn.2026-11.io.sanhook:other' }, { params }, false],
  ] as const)('%j vs %j → %s', (filter, path, expected) => expect(matches(filter, path)).toBe(expected));
});
