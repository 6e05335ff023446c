import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ExcludeRule } from '../../src/hooks/nvmf/settings.js';
import type { Action } from '../../src/core/plan.js';
import { decideConnect, type ConnectObservation } from '../../src/hooks/nvmf/connect-decide.js';
import { decideAttach } from '../../src/hooks/nvmf/attach.js';
import { connectPlan } from '../../src/hooks/nvmf/connect.js';
import { ioParamsFromOptions } from '../../src/hooks/nvmf/io-request.js';
import type { ConnectRequest } from '../../src/hooks/nvmf/connect-request.js';
import { parseDiscoveryLog, type RawRecord } from '../../src/hooks/nvmf/discovery-log.js';
import { controllerFromAttributes, type Controller } from '../../src/hooks/nvmf/sysfs.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/nvme-cli/${name}`, import.meta.url), 'utf8');
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:0f7b718b-ca26-43e8-b50a-d4410d1afaf8';
const S1 = 'nqn.2026-11.io.sanhook:subsys1';
const S2 = 'nqn.2026-11.io.sanhook:subsys2';

const request = (extra: Partial<ConnectRequest> = {}): ConnectRequest => ({
  trigger: 'manual',
  persistent: false,
  discovery: { kind: 'nvmf-disc', transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', hostTraddr: 'none', hostIface: 'none' },
  ...extra,
});

const record = (over: Partial<RawRecord> = {}): RawRecord => ({ trtype: 'tcp', adrfam: 'ipv4', subtype: 'nvme subsystem', traddr: '127.0.0.1', trsvcid: '4420', subnqn: S1, ...over });

const ctrl = (name: string, attrs: Record<string, string>): Controller =>
  controllerFromAttributes(name, { transport: 'tcp', address: 'traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1', subsysnqn: S1, hostnqn: HOSTNQN, cntrltype: 'io', state: 'live', ...attrs })!;

const observe = (records: RawRecord[], controllers: Controller[] = []): ConnectObservation => ({ log: { genctr: 1, records }, controllers, hostnqn: HOSTNQN });

const decide = (obs: ConnectObservation, req = request(), exclude: ExcludeRule[] = []) =>
  decideConnect(obs, req, { exclude }).decisions.map((d) => (d.action === 'skip' ? `skip:${d.reason}` : d.action));

describe('decideConnect on the real captured log', () => {
  const log = parseDiscoveryLog(fixture('discover-2subsys.json'));
  it('connects both subsystems and skips the current discovery entry', () => {
    expect(decide({ log, controllers: [], hostnqn: HOSTNQN })).toEqual(['skip:discovery-entry', 'connect', 'connect']);
  });
  it('skips the one already connected (real sysfs attributes)', () => {
    const attrs = Object.fromEntries(fixture('sysfs-io-ctrl.txt').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const connected = controllerFromAttributes('nvme0', attrs)!;
    expect(decide({ log, controllers: [connected], hostnqn: HOSTNQN })).toEqual(['skip:discovery-entry', 'skip:already-connected', 'connect']);
  });
});

describe('decideConnect table', () => {
  it.each([
    ['nothing connected', [record()], [], request(), [], ['connect']],
    ['live controller serves it', [record()], [ctrl('nvme0', {})], request(), [], ['skip:already-connected']],
    ['connecting controller still serves it (kernel is retrying)', [record()], [ctrl('nvme0', { state: 'connecting' })], request(), [], ['skip:already-connected']],
    ['deleting controller does not', [record()], [ctrl('nvme0', { state: 'deleting' })], request(), [], ['connect']],
    ['dead controller does not', [record()], [ctrl('nvme0', { state: 'dead' })], request(), [], ['connect']],
    ['discovery controller to same address does not', [record()], [ctrl('nvme0', { cntrltype: 'discovery' })], request(), [], ['connect']],
    ['other port', [record()], [ctrl('nvme0', { address: 'traddr=127.0.0.1,trsvcid=4421' })], request(), [], ['connect']],
    ['other host nqn', [record()], [ctrl('nvme0', { hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:other' })], request(), [], ['connect']],
    ['other host iface when one is asked for', [record()], [ctrl('nvme0', { address: 'traddr=127.0.0.1,trsvcid=4420,host_iface=eth1' })], request({ discovery: { ...request().discovery, hostIface: 'eth0' } }), [], ['connect']],
    ['same host iface', [record()], [ctrl('nvme0', { address: 'traddr=127.0.0.1,trsvcid=4420,host_iface=eth0' })], request({ discovery: { ...request().discovery, hostIface: 'eth0' } }), [], ['skip:already-connected']],
    ['IPv6 spelled differently is the same address', [record({ traddr: '2001:db8:0:0::1', adrfam: 'ipv6' })], [ctrl('nvme0', { address: 'traddr=2001:db8::1,trsvcid=4420' })], request(), [], ['skip:already-connected']],
    ['duplicate records', [record(), record()], [], request(), [], ['connect', 'skip:duplicate-record']],
    ['--nqn filters', [record(), record({ subnqn: S2 })], [], request({ nqn: S2 }), [], ['skip:not-requested', 'connect']],
    ['exclude by subnqn', [record(), record({ subnqn: S2 })], [], request(), [{ subnqn: S2 }], ['connect', 'skip:excluded']],
    ['exclude needs every field to match', [record()], [], request(), [{ subnqn: S1, trsvcid: '4421' }], ['connect']],
    ['referral, with referrals off', [record({ subtype: 'discovery subsystem referral', subnqn: 'nqn.2014-08.org.nvmexpress.discovery' })], [], request(), [], ['skip:referrals-off']],
    ["nvme-cli 1.x's name for a referral", [record({ subtype: 'discovery subsystem' })], [], request(), [], ['skip:referrals-off']],
    ['the current discovery subsystem (the log’s own controller)', [record({ subtype: 'current discovery subsystem' })], [], request(), [], ['skip:discovery-entry']],
    ['unknown subtype', [record({ subtype: 'weird' })], [], request(), [], ['skip:unknown-subtype']],
    ['hostile traddr from the wire', [record({ traddr: '1.2.3.4;reboot' })], [], request(), [], ['skip:invalid-record']],
    ['option-like subnqn from the wire', [record({ subnqn: '--help' })], [], request(), [], ['skip:invalid-record']],
    ['unknown transport from the wire', [record({ trtype: 'quic' })], [], request(), [], ['skip:invalid-record']],
    ['empty log', [], [], request(), [], []],
  ] as const)('%s', (_name, records, controllers, req, exclude, expected) => {
    expect(decide(observe([...records], [...controllers]), req, [...exclude])).toEqual(expected);
  });
});

describe('I/O connect parameters', () => {
  it('carry host side, host identity and timers; request beats config', () => {
    const req = request({ discovery: { ...request().discovery, hostIface: 'eth0', hostTraddr: '127.0.0.2' }, ctrlLossTmo: -1, hostid: 'afad591e-e97d-4397-9b0c-0d60993de59c' });
    const plan = decideConnect(observe([record()]), req, { exclude: [], reconnectDelay: 5, ctrlLossTmo: 600 });
    expect(plan.decisions[0]).toMatchObject({
      action: 'connect',
      params: { transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', subnqn: S1, hostIface: 'eth0', hostTraddr: '127.0.0.2', hostnqn: HOSTNQN, reconnectDelay: 5, ctrlLossTmo: -1 },
    });
  });
  it('do not carry a tcp host interface to an rdma record', () => {
    const req = request({ discovery: { ...request().discovery, hostIface: 'eth0' } });
    const plan = decideConnect(observe([record({ trtype: 'rdma' })]), req, { exclude: [] });
    expect(plan.decisions[0]).toMatchObject({ action: 'connect', params: { transport: 'rdma', hostIface: 'none' } });
  });
});

describe('connectPlan: the plan of one discovery round', () => {
  const log = parseDiscoveryLog(fixture('discover-2subsys.json'));
  const KEY = 'nvmf-disc:tcp:127.0.0.1:4420:none:none';
  const shape = (a: Action): string => (a.kind === 'note' ? `note:${a.outcome}` : a.kind === 'locked' ? `locked:${a.verb}` : a.kind);

  it('skips the discovery entry; each subsystem is connected by its path\'s own round, under the path\'s lock', () => {
    const plan = connectPlan(KEY, request(), decideConnect({ log, controllers: [], hostnqn: HOSTNQN }, request(), { exclude: [] }));
    expect(plan).toMatchObject({ hook: 'connect', key: KEY, trigger: 'manual', summary: { message: 'discovery round finished', fields: { records: 3 } } });
    expect(plan.actions.map(shape)).toEqual(['note:skipped', 'locked:attach', 'locked:attach']);
    expect(plan.actions[1]).toMatchObject({ kind: 'locked', key: `nvmf:tcp:127.0.0.1:4420:${S1}:none:none`, request: { explicit: false, subject: `${S1} at tcp 127.0.0.1:4420`, trigger: 'manual' } });
  });

  it('a path already connected goes to its round too (adopted as managed there)', () => {
    const attrs = Object.fromEntries(fixture('sysfs-io-ctrl.txt').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const plan = connectPlan(KEY, request(), decideConnect({ log, controllers: [controllerFromAttributes('nvme0', attrs)!], hostnqn: HOSTNQN }, request(), { exclude: [] }));
    expect(plan.actions.map(shape)).toEqual(['note:skipped', 'locked:attach', 'locked:attach']);
  });

  it('--nqn makes the named subsystem explicit (it may clear a tombstone)', () => {
    const plan = connectPlan(KEY, request({ nqn: S2 }), decideConnect({ log, controllers: [], hostnqn: HOSTNQN }, request({ nqn: S2 }), { exclude: [] }));
    expect(plan.actions.map(shape)).toEqual(['note:skipped', 'note:skipped', 'locked:attach']);
    expect(plan.actions[2]).toMatchObject({ request: { explicit: true } });
  });

  it('an empty log: nothing to do', () => {
    expect(connectPlan(KEY, request(), { genctr: 0, decisions: [] }).actions.map(shape)).toEqual(['note:nothing-to-do']);
  });
});

describe('decideAttach: one path of the round, decided again under its lock', () => {
  const params = ioParamsFromOptions({ transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', nqn: S1, hostnqn: HOSTNQN });
  const attach = (explicit = false) => ({ params, explicit, subject: `${S1} at tcp 127.0.0.1:4420`, fields: { subnqn: S1 }, trigger: 'aen', roundKey: 'nvmf-disc:tcp:127.0.0.1:4420:none:none' });
  const shape = (a: Action): string =>
    (a.kind === 'note' ? `note:${String(a.fields?.reason ?? a.outcome)}` : a.kind === 'run' ? `run:${a.verb}` : a.kind === 'effect' ? `effect:${a.verb}` : `${a.kind}${'store' in a ? `:${a.store}` : ''}`) +
    ('then' in a && a.then && a.then.length > 0 ? ` > ${a.then.map(shape).join(', ')}` : '');
  it.each([
    ['nothing serves it → connect, then record as managed', [], false, false, ['run:connect > effect:claim, record:managed']],
    ['a live controller serves it → adopt it as managed', [ctrl('nvme0', {})], false, false, ['note:already-connected', 'record:managed']],
    ['disconnected on purpose after the round read the log → left alone', [], true, false, ['note:disconnected-by-admin']],
    ['disconnected on purpose, but the admin named it → connect, record, clear the tombstone', [], true, true, ['run:connect > effect:claim, record:managed > forget:disconnected']],
  ] as const)('%s', (_name, controllers, tombstoned, explicit, expected) => {
    const plan = decideAttach(attach(explicit), [...controllers], tombstoned);
    // reported under the round's key; the lock (runOnPath) and the records are the path's
    expect(plan).toMatchObject({ hook: 'connect', key: 'nvmf-disc:tcp:127.0.0.1:4420:none:none', trigger: 'aen' });
    expect(plan.actions.map(shape)).toEqual(expected);
    for (const action of plan.actions.flatMap((a) => [a, ...('then' in a && a.then ? a.then : [])])) {
      if (action.kind === 'record' || action.kind === 'forget') expect(action.key).toBe(`nvmf:tcp:127.0.0.1:4420:${S1}:none:none`);
    }
  });
  it('the connect is read by the nvme-connect interpreter and fails alone', () => {
    expect(decideAttach(attach(), [], false).actions[0]).toMatchObject({ kind: 'run', interpret: 'nvme-connect', already: 'already-connected', failure: `${S1}: connect failed` });
  });
});
