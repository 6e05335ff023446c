import { describe, expect, it } from 'vitest';
import type { Action, Plan } from '../../src/core/plan.js';
import { DEFAULT_LOST_POLICY } from '../../src/hooks/nvmf/config.js';
import { decideAdoptPath, decideHandover, firmwarePathKeys, firmwareRefusals, HANDOVER_KEY, notSanhooks, type HandoverFacts } from '../../src/hooks/nvmf/handover.js';
import { buildHandover, handoverJson, parseHandover, type Handover, type HandoverRead, type InitramfsObservation } from '../../src/hooks/nvmf/handover-record.js';
import { ioKey, ioParamsFromOptions } from '../../src/hooks/nvmf/io-request.js';
import type { Ownership } from '../../src/hooks/nvmf/registry.js';
import { controllerFromAttributes, type Controller } from '../../src/hooks/nvmf/sysfs.js';
import { discoveryRequestFromOptions } from '../../src/hooks/nvmf/connect-request.js';

const BOOT = '6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const OTHER_BOOT = '11111111-2222-4333-8444-555555555555';
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:0f7b718b-ca26-43e8-b50a-d4410d1afaf8';
const S1 = 'nqn.2026-11.io.sanhook:subsys1';
const S2 = 'nqn.2026-11.io.sanhook:subsys2';
const FW = 'nqn.2026-11.io.sanhook:bootvol';
const DISC = 'nqn.2014-08.org.nvmexpress.discovery';

const params1 = ioParamsFromOptions({ transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', nqn: S1, hostnqn: HOSTNQN });
const params2 = ioParamsFromOptions({ transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', nqn: S2, hostnqn: HOSTNQN });
const paramsFw = ioParamsFromOptions({ transport: 'tcp', traddr: '127.0.0.9', trsvcid: '4420', nqn: FW, hostnqn: HOSTNQN });

function ctrl(name: string, nqn: string, traddr = '127.0.0.1', more: Record<string, string> = {}): Controller {
  return controllerFromAttributes(name, {
    transport: 'tcp',
    address: `traddr=${traddr},trsvcid=${nqn === DISC ? '8009' : '4420'},src_addr=${traddr}`,
    subsysnqn: nqn,
    hostnqn: HOSTNQN,
    cntrltype: nqn === DISC ? 'discovery' : 'io',
    state: 'live',
    ...more,
  })!;
}
const dcOptions = { transport: 'tcp', traddr: '127.0.0.1', trsvcid: '8009', hostnqn: HOSTNQN, 'ctrl-loss-tmo': '30' };
const dcEntry = { endpoint: discoveryRequestFromOptions(dcOptions, 'boot').discovery, options: dcOptions, device: 'nvme0' };

const record: Handover = {
  bootId: BOOT,
  writtenAt: '2026-11-30T19:00:00.000Z',
  nbft: true,
  paths: [
    { params: params1, device: 'nvme1', origin: 'connected' },
    { params: paramsFw, device: 'nvme5', origin: 'firmware' },
  ],
  discoveryControllers: [dcEntry],
};
const ours: Ownership = { kind: 'ours', seqnum: 7 };

describe('parseHandover: the record is validated like any other input', () => {
  it('reads back exactly what handoverJson() wrote', () => {
    expect(parseHandover(JSON.stringify(handoverJson(record)))).toEqual({ kind: 'record', record });
  });
  const good = handoverJson(record);
  const paths = good.paths as Record<string, unknown>[];
  it.each([
    ['not JSON', '{"format": "sanhook-in', 'corrupt', /not JSON/],
    ['another program\'s file', JSON.stringify({ format: 'nvme-stas', version: 1 }), 'foreign', /format is "nvme-stas"/],
    ['an array', '[]', 'foreign', /format is \[\]/],
    ['a newer version', JSON.stringify({ ...good, version: 2 }), 'unsupported-version', /version 2; this sanhook reads version 1/],
    ['a bad boot id', JSON.stringify({ ...good, bootId: 'x' }), 'invalid-entry', /bootId: "x" is not a boot id/],
    ['a bad address', JSON.stringify({ ...good, paths: [{ ...paths[0], options: { ...(paths[0]!.options as object), traddr: '127.0.0.1;reboot' } }] }), 'invalid-entry', /paths\[0\]: --traddr: must be an IPv4 or IPv6 address/],
    ['an unknown origin', JSON.stringify({ ...good, paths: [{ ...paths[0], origin: 'magic' }] }), 'invalid-entry', /paths\[0\]\.origin: "magic" is not one of connected, found, firmware/],
    ['a bad device', JSON.stringify({ ...good, paths: [{ ...paths[0], device: '../nvme1' }] }), 'invalid-entry', /paths\[0\]\.device: "\.\.\/nvme1" is not a controller name/],
    ['a non-string option', JSON.stringify({ ...good, paths: [{ ...paths[0], options: { transport: 'tcp', trsvcid: 4420 } }] }), 'invalid-entry', /paths\[0\]\.options\.trsvcid: 4420 is not a string/],
    ['an unknown discovery option', JSON.stringify({ ...good, discoveryControllers: [{ options: { transport: 'tcp', traddr: '127.0.0.1', nqn: S1 }, device: 'nvme0' }] }), 'invalid-entry', /discoveryControllers\[0\]\.options\.nqn: unknown option/],
    ['a bad discovery address', JSON.stringify({ ...good, discoveryControllers: [{ options: { transport: 'tcp', traddr: '999.1.1.1' }, device: 'nvme0' }] }), 'invalid-entry', /discoveryControllers\[0\]\.options\.traddr: must be an IPv4 or IPv6 address/],
  ])('%s → invalid (%s)', (_name, text, reason, detail) => {
    const read = parseHandover(text);
    expect(read).toMatchObject({ kind: 'invalid', reason });
    if (read.kind === 'invalid') expect(read.detail).toMatch(detail);
  });
});

describe('buildHandover: what the initramfs stage records', () => {
  const base: InitramfsObservation = { bootId: BOOT, now: Date.parse('2026-11-30T19:00:00Z'), nbft: false, before: [], after: [], managed: [], discoveryRecords: [] };
  const created = [{ key: 'nvmf-disc:tcp:127.0.0.1:8009:none:none', record: { options: dcOptions, device: 'nvme0' } }];
  const origins = (h: Handover) => h.paths.map((p) => `${p.params.subnqn}@${p.device}:${p.origin}`);
  it.each<[string, Partial<InitramfsObservation>, string[]]>([
    ['a path the round connected', { after: [ctrl('nvme1', S1)], managed: [params1] }, [`${S1}@nvme1:connected`]],
    ['a managed path no controller serves: not handed over', { after: [], managed: [params1] }, []],
    ['a path live before the round, no NBFT: found', { before: [ctrl('nvme1', S1)], after: [ctrl('nvme1', S1)], managed: [params1] }, [`${S1}@nvme1:found`]],
    ['a path live before the round with an NBFT table: firmware', { nbft: true, before: [ctrl('nvme1', S1)], after: [ctrl('nvme1', S1)], managed: [params1] }, [`${S1}@nvme1:firmware`]],
    ['with NBFT, a live-before controller outside every discovery log: firmware too', { nbft: true, before: [ctrl('nvme5', FW, '127.0.0.9')], after: [ctrl('nvme5', FW, '127.0.0.9'), ctrl('nvme1', S1)], managed: [params1] }, [`${S1}@nvme1:connected`, `${FW}@nvme5:firmware`]],
    ['without NBFT, such a controller is not sanhook\'s to hand over', { before: [ctrl('nvme5', FW, '127.0.0.9')], after: [ctrl('nvme5', FW, '127.0.0.9')] }, []],
  ])('%s', (_name, observed, expected) => {
    expect(origins(buildHandover({ ...base, ...observed }))).toEqual(expected);
  });
  it.each<[string, Partial<InitramfsObservation>, string[]]>([
    ['a persistent discovery controller the round recorded as created, live', { after: [ctrl('nvme0', DISC)], discoveryRecords: created }, ['nvme0']],
    ['one the round did not record (found, the admin\'s, another\'s)', { after: [ctrl('nvme0', DISC)] }, []],
    ['a recorded one that is gone', { after: [], discoveryRecords: created }, []],
    ['a recorded one not live', { after: [ctrl('nvme0', DISC, '127.0.0.1', { state: 'connecting' })], discoveryRecords: created }, []],
    ['a recorded name that is an I/O controller now', { after: [ctrl('nvme0', S1)], discoveryRecords: created }, []],
    ['an unreadable record', { after: [ctrl('nvme0', DISC)], discoveryRecords: [{ key: 'x', record: { options: { transport: 'udp' }, device: 'nvme0' } }] }, []],
  ])('discovery controllers: %s', (_name, observed, expected) => {
    expect(buildHandover({ ...base, ...observed }).discoveryControllers.map((d) => d.device)).toEqual(expected);
  });
  it('the discovery controller is handed over with the options of its discovery record', () => {
    const built = buildHandover({ ...base, after: [ctrl('nvme0', DISC)], discoveryRecords: created });
    expect(handoverJson(built).discoveryControllers).toEqual([{ options: dcOptions, device: 'nvme0' }]);
    expect(built).toMatchObject({ bootId: BOOT, writtenAt: '2026-11-30T19:00:00.000Z', nbft: false });
  });
});

/** The plan in one word per action: `note:<outcome>:<reason>`, `adopt:<key>`, `record:<store>`, `effect:<verb>`, nested `then` after `>`. */
function shape(plan: Plan): string[] {
  const one = (a: Action): string => {
    const head =
      a.kind === 'note'
        ? `note:${a.outcome}${a.fields?.reason ? `:${String(a.fields.reason)}` : ''}`
        : a.kind === 'locked'
          ? `${a.verb}:${a.key}`
          : a.kind === 'record' || a.kind === 'forget'
            ? `${a.kind}:${a.store}`
            : a.kind === 'effect'
              ? `effect:${a.verb}:${String(a.data.device)}`
              : a.kind;
    const then = 'then' in a && a.then && a.then.length > 0 ? ` > ${a.then.map(one).join(', ')}` : '';
    return head + then;
  };
  return plan.actions.map(one);
}

describe('decideHandover: the real root and the record', () => {
  const valid: HandoverRead = { kind: 'record', record };
  const facts = (more: Partial<HandoverFacts>): HandoverFacts => ({ read: valid, bootId: BOOT, controllers: [ctrl('nvme0', DISC), ctrl('nvme1', S1), ctrl('nvme5', FW, '127.0.0.9')], ownerships: new Map([['nvme0', ours]]), ...more });
  const adopt = [`adopt:${ioKey(params1)}`, `adopt:${ioKey(paramsFw)}`];
  it.each<[string, Partial<HandoverFacts>, string[]]>([
    ['no record → nothing', { read: { kind: 'missing' } }, []],
    ['corrupt → ignored', { read: { kind: 'invalid', reason: 'corrupt', detail: 'not JSON' } }, ['note:ignored:corrupt']],
    ['foreign → ignored', { read: { kind: 'invalid', reason: 'foreign', detail: 'format' } }, ['note:ignored:foreign']],
    ['a newer version → ignored', { read: { kind: 'invalid', reason: 'unsupported-version', detail: 'v2' } }, ['note:ignored:unsupported-version']],
    ['an invalid entry → ignored whole', { read: { kind: 'invalid', reason: 'invalid-entry', detail: 'paths[0]' } }, ['note:ignored:invalid-entry']],
    ['another boot\'s record → ignored (stale)', { bootId: OTHER_BOOT }, ['note:ignored:stale']],
    ['this boot\'s id unreadable → ignored', { bootId: undefined }, ['note:ignored:no-boot-id']],
    ['adopted already this boot → nothing again', { adopted: BOOT }, ['note:nothing-to-do:already-adopted']],
    ['an adoption mark of another boot does not count', { adopted: OTHER_BOOT }, ['record:discovery', ...adopt]],
    ['DC live and sanhook\'s → kept: its discovery record written; each path adopted under its lock', {}, ['record:discovery', ...adopt]],
    ['DC live, its registry entry stale or lost → kept and claimed again', { ownerships: new Map() }, ['record:discovery', 'effect:claim:nvme0', ...adopt]],
    ['DC live, its address disconnected on purpose → left as it is', { tombstoned: new Set(['nvmf-disc:tcp:127.0.0.1:8009:none:none']) }, ['note:skipped:disconnected-by-admin', ...adopt]],
    ['DC live, owned by another orchestrator → left alone', { ownerships: new Map([['nvme0', { kind: 'other', owner: 'stas', seqnum: 1 } as Ownership]]) }, ['note:owned-by-other:owned-by-other', ...adopt]],
    ['DC gone → noted (the boot round creates it again)', { controllers: [ctrl('nvme1', S1)] }, ['note:gone:gone', ...adopt]],
    ['DC name now a different controller → gone', { controllers: [ctrl('nvme0', S2), ctrl('nvme1', S1)] }, ['note:gone:gone', ...adopt]],
  ])('%s', (_name, more, expected) => {
    const plan = decideHandover(facts(more));
    expect(plan).toMatchObject({ hook: 'connect', key: HANDOVER_KEY, trigger: 'boot' });
    expect(shape(plan)).toEqual(expected);
  });
  it('the discovery record holds the initramfs round\'s options and the controller', () => {
    const action = decideHandover(facts({})).actions[0]!;
    expect(action).toMatchObject({ kind: 'record', store: 'discovery', key: 'nvmf-disc:tcp:127.0.0.1:8009:none:none', data: { options: dcOptions, device: 'nvme0' } });
  });
  it('nothing in any plan connects or disconnects', () => {
    const plan = decideHandover(facts({ controllers: [] }));
    expect(plan.actions.some((a) => a.kind === 'run')).toBe(false);
  });
});

describe('decideAdoptPath: one path under its lock', () => {
  const request = { params: params1, origin: 'connected' as const, device: 'nvme1' };
  it.each<[string, { controllers: Controller[]; tombstoned?: boolean; ownership?: Ownership; origin?: 'firmware' }, string[]]>([
    ['still live, its registry entry sanhook\'s → adopted as managed', { controllers: [ctrl('nvme1', S1)], ownership: ours }, ['record:managed']],
    ['still live, its entry stale or gone (coldplug) → managed, and the controller sanhook created claimed again', { controllers: [ctrl('nvme1', S1)] }, ['record:managed', 'effect:claim:nvme1']],
    ['still live, stale entry → claimed again', { controllers: [ctrl('nvme1', S1)], ownership: { kind: 'stale', owner: 'sanhook', seqnum: 1, incarnation: 9 } }, ['record:managed', 'effect:claim:nvme1']],
    ['recovering (connecting) → adopted as managed', { controllers: [ctrl('nvme1', S1, '127.0.0.1', { state: 'connecting' })] }, ['record:managed', 'effect:claim:nvme1']],
    ['served by a new controller name → adopted, not claimed (not the one sanhook created)', { controllers: [ctrl('nvme7', S1)] }, ['record:managed']],
    ['gone → managed, and timerd armed like lost', { controllers: [] }, ['record:managed > arm']],
    ['being deleted → gone', { controllers: [ctrl('nvme1', S1, '127.0.0.1', { state: 'deleting' })] }, ['record:managed > arm']],
    ['disconnected on purpose → left as it is', { controllers: [ctrl('nvme1', S1)], tombstoned: true }, ['note:skipped:disconnected-by-admin']],
    ['served by another orchestrator\'s controller → left alone', { controllers: [ctrl('nvme1', S1)], ownership: { kind: 'other', owner: 'stas', seqnum: 1 } }, ['note:owned-by-other:owned-by-other']],
    ['a firmware path → adopted as managed, never claimed (sanhook did not create it)', { controllers: [ctrl('nvme1', S1)], origin: 'firmware' }, ['record:managed']],
  ])('%s', (_name, f, expected) => {
    const plan = decideAdoptPath({ ...request, ...(f.origin ? { origin: f.origin } : {}) }, { controllers: f.controllers, tombstoned: f.tombstoned ?? false, ...(f.ownership ? { ownership: f.ownership } : {}) }, DEFAULT_LOST_POLICY);
    expect(plan).toMatchObject({ hook: 'connect', key: ioKey(params1), trigger: 'boot' });
    expect(shape(plan)).toEqual(expected);
    expect(plan.actions.some((a) => a.kind === 'run')).toBe(false);
  });
  it('the managed record holds the initramfs connect parameters; the arm is the lost policy\'s', () => {
    const plan = decideAdoptPath(request, { controllers: [], tombstoned: false }, DEFAULT_LOST_POLICY);
    const action = plan.actions[0]!;
    if (action.kind !== 'record') throw new Error('expected record');
    expect(action.data).toEqual({ params: { transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', nqn: S1, hostnqn: HOSTNQN } });
    expect(action.then?.[0]).toMatchObject({ kind: 'arm', request: { op: 'arm', hook: 'reconnect', lossHook: 'give-up', params: { nqn: S1 } } });
  });
});

describe('firmware boot paths: sanhook disconnect refuses them unless forced', () => {
  const valid: HandoverRead = { kind: 'record', record };
  it.each<[string, HandoverRead, string | undefined, string[]]>([
    ['this boot\'s record', valid, BOOT, [ioKey(paramsFw)]],
    ['another boot\'s record', valid, OTHER_BOOT, []],
    ['no boot id', valid, undefined, []],
    ['no record', { kind: 'missing' }, BOOT, []],
    ['an invalid record', { kind: 'invalid', reason: 'corrupt', detail: '' }, BOOT, []],
  ])('firmware keys from %s', (_name, read, bootId, expected) => {
    expect([...firmwarePathKeys(read, bootId)]).toEqual(expected);
  });
  const firmware = new Set([ioKey(paramsFw)]);
  it.each<[string, string[], boolean, string[]]>([
    ['a firmware path → refused', [ioKey(paramsFw), ioKey(params2)], false, [ioKey(paramsFw)]],
    ['--force → none refused', [ioKey(paramsFw)], true, []],
    ['other paths → none refused', [ioKey(params1), ioKey(params2)], false, []],
  ])('%s', (_name, keys, force, expected) => {
    expect(firmwareRefusals(keys, firmware, force)).toEqual(expected);
  });
});

describe('notSanhooks: a second initramfs round does not take its own controllers for someone else\'s', () => {
  const before = [ctrl('nvme0', DISC), ctrl('nvme1', S1), ctrl('nvme5', FW, '127.0.0.9')];
  const names = (cs: readonly Controller[]) => cs.map((c) => c.name);
  it.each<[string, HandoverRead, string, string[]]>([
    ['no earlier record: all of them', { kind: 'missing' }, BOOT, ['nvme0', 'nvme1', 'nvme5']],
    ['an earlier record of this boot: less its connected paths and discovery controllers', { kind: 'record', record }, BOOT, ['nvme5']],
    ['an earlier record of another boot: all of them', { kind: 'record', record }, OTHER_BOOT, ['nvme0', 'nvme1', 'nvme5']],
    ['an invalid record: all of them', { kind: 'invalid', reason: 'corrupt', detail: '' }, BOOT, ['nvme0', 'nvme1', 'nvme5']],
  ])('%s', (_name, previous, bootId, expected) => {
    expect(names(notSanhooks(before, previous, bootId))).toEqual(expected);
  });
});
