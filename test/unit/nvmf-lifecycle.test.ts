import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LOST_POLICY } from '../../src/hooks/nvmf/config.js';
import type { Action, Plan } from '../../src/core/plan.js';
import { decideConnected } from '../../src/hooks/nvmf/connected.js';
import { decideDisconnect, matches } from '../../src/hooks/nvmf/disconnect.js';
import { armMessage, classifyLostUevent, decideLost } from '../../src/hooks/nvmf/lost.js';
import { decideGiveUp, decideReconnect } from '../../src/hooks/nvmf/reconnect.js';
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

/** The plan in one word per action: `arm`, `note:<outcome>`, `run:<argv>`, nested `then` after `>`. */
function shape(plan: Plan): string[] {
  const one = (a: Action): string => {
    const head =
      a.kind === 'note' ? `note:${a.outcome}${a.fails ? '!' : ''}` : a.kind === 'run' ? `run:${a.argv.join(' ')}` : a.kind === 'record' || a.kind === 'forget' ? `${a.kind}:${a.store}` : a.kind === 'effect' ? `effect:${a.verb}` : a.kind;
    const then = 'then' in a && a.then && a.then.length > 0 ? ` > ${a.then.map(one).join(', ')}` : '';
    return head + then;
  };
  return plan.actions.map(one);
}

describe('decideLost: the plan', () => {
  const policy = DEFAULT_LOST_POLICY;
  it.each([
    ['managed I/O controller → arm with the managed identity', { params, cntrltype: 'io', managed, tombstoned: false }, policy, 'arm'],
    ['unmanaged → ignored by default', { params, cntrltype: 'io', tombstoned: false }, policy, 'ignore:not-managed'],
    ['unmanaged, adopt all → arm', { params, cntrltype: 'io', tombstoned: false }, { ...policy, reconnectUnmanaged: true }, 'arm'],
    ['disconnected on purpose → never', { params, cntrltype: 'io', managed, tombstoned: true }, policy, 'ignore:disconnected-by-admin'],
    ['discovery controller → never', { params, cntrltype: 'discovery', managed, tombstoned: false }, policy, 'ignore:discovery-controller'],
    ['no subnqn in the event → cannot', { cntrltype: 'io', tombstoned: false }, policy, 'ignore:no-subnqn'],
  ] as const)('%s', (_name, facts, p, expected) => {
    const plan = decideLost({ ...facts, trigger: 'uevent' }, p);
    expect(plan.actions).toHaveLength(1);
    const action = plan.actions[0]!;
    expect(action.kind === 'arm' ? 'arm' : `ignore:${String(action.fields?.reason)}`).toBe(expected);
    if (action.kind === 'note') expect(action.outcome).toBe('ignored');
  });
  it('arms with the managed parameters (host NQN, kernel timers) and the policy', () => {
    const plan = decideLost({ params, cntrltype: 'io', managed, tombstoned: false, device: 'nvme3', trigger: 'uevent' }, policy);
    expect(plan).toMatchObject({ hook: 'lost', key: 'nvmf:tcp:127.0.0.1:4420:nqn.2026-11.io.sanhook:subsys1:none:none', trigger: 'uevent' });
    const action = plan.actions[0]!;
    if (action.kind !== 'arm') throw new Error('expected arm');
    expect(action.fields).toEqual({ device: 'nvme3' });
    expect(action.request).toEqual({
      op: 'arm',
      hook: 'reconnect',
      lossHook: 'give-up',
      params: { transport: 'tcp', nqn: S1, traddr: '127.0.0.1', trsvcid: '4420', hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:x', 'ctrl-loss-tmo': '6' },
      delayMs: 10_000,
      growth: 'fixed',
      lossMs: 600_000,
      lossAttempts: 0,
    });
    // and timerd accepts exactly that request
    expect(() => parseRequest(JSON.stringify(action.request), timerHookTable(FABRICS))).not.toThrow();
  });
  it.each([
    [-1, -1],
    [0, -1],
    [30, 30_000],
  ])('ctrl-loss-tmo %i → lossMs %i', (ctrlLossTmo, lossMs) => {
    expect(armMessage(params, { ...DEFAULT_LOST_POLICY, ctrlLossTmo })).toMatchObject({ lossMs });
  });
});

describe('decideReconnect: the plan', () => {
  const ctrl = (state: string, extra: Record<string, string> = {}) =>
    controllerFromAttributes('nvme3', { transport: 'tcp', address: 'traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1', subsysnqn: S1, cntrltype: 'io', state, ...extra })!;
  const connect = `run:nvme connect --transport tcp --traddr 127.0.0.1 --trsvcid 4420 --nqn ${S1} --output-format json`;
  it.each([
    ['nothing there → connect, then record as managed', [], false, true, [`${connect} > effect:claim, record:managed`]],
    ['by hand: also disarm after connecting', [], false, false, [`${connect} > effect:claim, record:managed, disarm`]],
    ['live → done', [ctrl('live')], false, true, ['note:already-live']],
    ['live, by hand → done and disarm', [ctrl('live')], false, false, ['note:already-live', 'disarm']],
    ['connecting → the kernel is retrying: not yet (exit 1)', [ctrl('connecting')], false, true, ['note:not-yet!']],
    ['resetting → the kernel is retrying: not yet (exit 1)', [ctrl('resetting')], false, true, ['note:not-yet!']],
    ['deleting → connect a new one', [ctrl('deleting')], false, true, [`${connect} > effect:claim, record:managed`]],
    ['other subsystem live → connect', [ctrl('live', { subsysnqn: 'nqn.2026-11.io.sanhook:other' })], false, true, [`${connect} > effect:claim, record:managed`]],
    ['tombstoned → done, never connect', [], true, true, ['note:disconnected-by-admin']],
  ] as const)('%s', (_name, controllers, tombstoned, fromTimerd, expected) => {
    const plan = decideReconnect({ params, controllers: [...controllers], tombstoned, fromTimerd, trigger: fromTimerd ? 'timer' : 'manual' });
    expect(plan).toMatchObject({ hook: 'reconnect', key: 'nvmf:tcp:127.0.0.1:4420:nqn.2026-11.io.sanhook:subsys1:none:none' });
    expect(shape(plan)).toEqual(expected);
  });
  it('the connect is read by the nvme-connect interpreter and records the full parameters', () => {
    const [run] = decideReconnect({ params: managed, controllers: [], tombstoned: false, fromTimerd: true, trigger: 'timer' }).actions;
    expect(run).toMatchObject({ kind: 'run', interpret: 'nvme-connect', done: 'reconnected', then: [{ kind: 'effect', effect: 'nvme-registry-claim', data: { owner: 'sanhook' } }, { kind: 'record', store: 'managed', data: { params: { hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:x', 'ctrl-loss-tmo': '6' } } }] });
  });
});

describe('decideGiveUp, decideConnected, decideDisconnect: the plans', () => {
  it('give-up only says so (the kernel state is left alone)', () => {
    expect(shape(decideGiveUp(params, 'timer'))).toEqual(['note:given-up']);
  });
  it('connected disarms the path', () => {
    expect(decideConnected({ key: 'nvmf:k', device: 'nvme3' })).toMatchObject({ hook: 'connected', key: 'nvmf:k', actions: [{ kind: 'disarm', quiet: true }] });
  });
  it('disconnect: tombstone first; only then forget, disarm and disconnect the controller serving the path now', () => {
    expect(shape(decideDisconnect(params, 'nvme5'))).toEqual(['record:disconnected > forget:managed, disarm, run:nvme disconnect --device nvme5']);
  });
  it('disconnect of a path that is not connected: tombstone, forget, disarm', () => {
    expect(shape(decideDisconnect(params, undefined))).toEqual(['record:disconnected > forget:managed, disarm, note:disconnected']);
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
