import { describe, expect, it } from 'vitest';
import { decideAttach } from '../../src/hooks/nvmf/attach.js';
import { decideDisconnect } from '../../src/hooks/nvmf/disconnect.js';
import { decideLost } from '../../src/hooks/nvmf/lost.js';
import { decideGiveUp, decideReconnect } from '../../src/hooks/nvmf/reconnect.js';
import { DEFAULT_LOST_POLICY } from '../../src/hooks/nvmf/config.js';
import { capabilitiesFrom, connectArgv, discoverArgv, helpListsOwner, parseNvmeVersion } from '../../src/hooks/nvmf/nvme-cli.js';
import { throughOthersDiscoveryController } from '../../src/hooks/nvmf/connect.js';
import { requestFromOptions } from '../../src/hooks/nvmf/connect-request.js';
import { addSeqnumFromUdevDb, ownershipAtRemove, ownershipOf, parseEntry, type Ownership } from '../../src/hooks/nvmf/registry.js';
import { ioParamsFromOptions } from '../../src/hooks/nvmf/io-request.js';
import { controllerFromAttributes } from '../../src/hooks/nvmf/sysfs.js';

const S1 = 'nqn.2026-11.io.sanhook:subsys1';
const params = ioParamsFromOptions({ transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', nqn: S1 });
const nvme3 = (state = 'live') => controllerFromAttributes('nvme3', { transport: 'tcp', address: 'traddr=127.0.0.1,trsvcid=4420', subsysnqn: S1, cntrltype: 'io', state })!;
const owned = (o: Ownership) => ({ owners: new Map([['nvme3', o]]), cliRecordsOwner: false });
const STAS: Ownership = { kind: 'other', owner: 'stas', seqnum: 100 };

describe('parseEntry: the documented attribute files', () => {
  it.each([
    ['owner and seqnum', { owner: 'stas\n', seqnum: '4711\n' }, { owner: 'stas', seqnum: 4711 }],
    ['no seqnum (an older libnvme): compares as 0', { owner: 'nbft\n' }, { owner: 'nbft', seqnum: 0 }],
    ['malformed seqnum: 0, as the udev rule reads it', { owner: 'stas', seqnum: 'x1' }, { owner: 'stas', seqnum: 0 }],
    ['unprintable owner: still a claim, shown escaped', { owner: 'a\tb', seqnum: '1' }, { owner: '"a\\tb"', seqnum: 1 }],
    ['no owner file: unowned', { seqnum: '1' }, undefined],
    ['empty owner: unowned', { owner: '\n', seqnum: '1' }, undefined],
  ])('%s', (_name, raw, expected) => expect(parseEntry(raw)).toEqual(expected));
});

describe('ownershipOf / ownershipAtRemove: the seqnum guard', () => {
  it.each([
    ['no entry', undefined, 500, undefined, 'unowned'],
    ['stamped after the add event: valid', { owner: 'stas', seqnum: 501 }, 500, undefined, 'other'],
    ['stamped before the add event: a recycled name, stale', { owner: 'stas', seqnum: 499 }, 500, undefined, 'stale'],
    ['incarnation unknown: believed (never touch what may be owned)', { owner: 'stas', seqnum: 1 }, undefined, undefined, 'other'],
    ["sanhook's own", { owner: 'sanhook', seqnum: 501 }, 500, undefined, 'ours'],
    ['remove: entry stamped after the remove event belongs to a newer controller', { owner: 'stas', seqnum: 900 }, 500, 800, 'unowned'],
    ['remove: entry of the removed controller', { owner: 'stas', seqnum: 600 }, 500, 800, 'other'],
  ] as const)('%s', (_name, entry, add, remove, kind) => {
    expect((remove === undefined ? ownershipOf(entry, add) : ownershipAtRemove(entry, add, remove)).kind).toBe(kind);
  });
  it('the add SEQNUM comes from the udev database line sanhook’s rule writes', () => {
    expect(addSeqnumFromUdevDb('S:disk/by-id/x\nE:SANHOOK_SUBNQN=nqn.x\nE:SANHOOK_ADD_SEQNUM=4242\nG:systemd\n')).toBe(4242);
    expect(addSeqnumFromUdevDb('E:SANHOOK_ADD_SEQNUM=12a\n')).toBeUndefined();
  });
});

describe('nvme-cli capability detection (connect --help first, version second)', () => {
  const help23 = '\u001b[1mUsage: nvme connect <device> [OPTIONS]\u001b[0m\n\nConnect to NVMeoF subsystem\n\n\u001b[1mOptions:\u001b[0m\n  [  --transport=<STR>, -t <STR> ]     --- transport type\n  [  --nqn=<STR>, -n <STR> ]           --- subsystem nqn\n';
  const help30 = `${help23}  [  --owner=<STR>, -O <STR> ]         --- register as owned by NAME\n`;
  it.each([
    ['2.3 help: no --owner', help23, undefined, { registry: false, from: 'help' }],
    ['3.0 help lists --owner', help30, undefined, { registry: true, from: 'help' }],
    ['no help page, version 2.3', 'fake: unknown', 'nvme version 2.3 (git 2.3)\nlibnvme version 1.3 (git 1.3)\n', { registry: false, from: 'version', version: '2.3' }],
    ['no help page, version 3.0', '', 'nvme version 3.0 (git 3.0)\n', { registry: true, from: 'version', version: '3.0' }],
    ['neither', '', undefined, { registry: false, from: 'none' }],
  ])('%s', (_name, help, version, expected) => expect(capabilitiesFrom(help, version)).toEqual(expected));
  it('--owner-like words do not count', () => expect(helpListsOwner('  [  --transport=<STR> ] --- x\n  [  --ownership=<STR> ] --- y\n')).toBe(false));
  it('parses v-prefixed versions', () => expect(parseNvmeVersion('nvme version v2.11 (git 2.11)')).toMatchObject({ major: 2, minor: 11 }));
  it('connect --owner only when asked', () => {
    expect(connectArgv(params, 'sanhook')).toEqual(['connect', '--transport', 'tcp', '--traddr', '127.0.0.1', '--trsvcid', '4420', '--nqn', S1, '--owner', 'sanhook', '--output-format', 'json']);
    expect(connectArgv(params)).not.toContain('--owner');
  });
});

describe('decide: another orchestrator’s controller is never touched', () => {
  const attach = { params, explicit: false, subject: S1, fields: {}, trigger: 'aen', roundKey: 'nvmf-disc:tcp:127.0.0.1:4420:none:none' };
  const first = (plan: { actions: readonly unknown[] }) => plan.actions.map((a) => (a as { kind: string; outcome?: string; verb?: string }).outcome ?? (a as { verb?: string }).verb);
  it.each([
    ['attach: owned by stas → not adopted', () => decideAttach(attach, [nvme3()], false, owned(STAS)), ['owned-by-other']],
    ['attach: stale entry → adopted as usual', () => decideAttach(attach, [nvme3()], false, owned({ kind: 'stale', owner: 'stas', seqnum: 1, incarnation: 5 })), ['skipped', undefined]],
    ['reconnect: owned by stas (connecting) → left to the kernel and stas, timer settled', () => decideReconnect({ params, controllers: [nvme3('connecting')], tombstoned: false, fromTimerd: false, trigger: 'manual', ownership: owned(STAS) }), ['owned-by-other', undefined]],
    ['reconnect: ours (connecting) → not yet, as before', () => decideReconnect({ params, controllers: [nvme3('connecting')], tombstoned: false, fromTimerd: true, trigger: 'timer', ownership: owned({ kind: 'ours', seqnum: 1 }) }), ['not-yet']],
    ['give-up: served by stas → said so, not given up', () => decideGiveUp(params, 'timer', { device: 'nvme3', owner: 'stas' }), ['owned-by-other']],
    ['disconnect: owned by stas → refused (exit 1), no tombstone', () => decideDisconnect(params, 'nvme3', 'stas'), ['owned-by-other']],
    ['lost: was stas’s → not armed', () => decideLost({ params, cntrltype: 'io', managed: params, tombstoned: false, device: 'nvme3', trigger: 'uevent', owner: 'stas' }, { ...DEFAULT_LOST_POLICY, reconnectUnmanaged: true }), ['ignored']],
  ])('%s', (_name, plan, expected) => expect(first(plan())).toEqual(expected));
  it('with nvme-cli 3.0 the connect carries --owner sanhook and no claim effect follows', () => {
    const plan = decideAttach(attach, [], false, { owners: new Map(), cliRecordsOwner: true });
    expect(plan.actions[0]).toMatchObject({ kind: 'run', argv: expect.arrayContaining(['--owner', 'sanhook']) });
    expect((plan.actions[0] as unknown as { then: { kind: string }[] }).then.map((a) => a.kind)).toEqual(['record']);
  });
  it('disconnect refusal fails the hook and names the owner', () => {
    expect(decideDisconnect(params, 'nvme3', 'stas').actions[0]).toMatchObject({ kind: 'note', fails: true, fields: { owner: 'stas', device: 'nvme3', reason: 'owned-by-other' } });
  });
});

describe('discovery controllers: a round through another orchestrator’s is not run; sanhook’s own are created with --owner', () => {
  const request = requestFromOptions({ transport: 'tcp', traddr: '10.0.0.5', trsvcid: '8009', device: 'nvme3' }, 'aen');
  if ('needsDevice' in request) throw new Error('the request names its address');
  const rows: [string, Ownership | undefined, boolean][] = [
    ['unowned', { kind: 'unowned' }, false],
    ['not read', undefined, false],
    ['sanhook’s', { kind: 'ours', seqnum: 5 }, false],
    ['a stale entry of stas', { kind: 'stale', owner: 'stas', seqnum: 1, incarnation: 9 }, false],
    ['stas’s', { kind: 'other', owner: 'stas', seqnum: 9 }, true],
  ];
  it.each(rows)('%s → skipped: %s', (_name, ownership, skipped) => {
    const plan = throughOthersDiscoveryController('nvmf-disc:tcp:10.0.0.5:8009', request, 'nvme3', ownership);
    if (!skipped) return expect(plan).toBeUndefined();
    expect(plan?.actions).toEqual([expect.objectContaining({ kind: 'note', outcome: 'owned-by-other', fields: expect.objectContaining({ device: 'nvme3', owner: 'stas', cntrltype: 'discovery' }) })]);
  });

  it('discoverArgv: --owner only with --persistent on a new discovery controller (never with --device)', () => {
    const endpoint = request.discovery;
    expect(discoverArgv(endpoint, { persistent: true, owner: 'sanhook' })).toEqual(expect.arrayContaining(['--persistent', '--owner', 'sanhook']));
    expect(discoverArgv(endpoint, { persistent: false, owner: 'sanhook' })).not.toContain('--owner');
    expect(discoverArgv(endpoint, { persistent: true, device: 'nvme3', owner: 'sanhook' })).not.toContain('--owner');
    expect(discoverArgv(endpoint, { persistent: true })).not.toContain('--owner');
  });
});
