/**
 * `sanhook connect` following referrals and keeping one persistent discovery
 * controller per address, end to end: the real program, the fake nvme (real
 * nvme-cli 2.3 output formats; a discovery log per address), a temp root and
 * a fake sysfs. Address A (10.0.0.5:8009) refers to B (10.0.0.6:8009), and B
 * back to A.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectExit, Sandbox } from './harness.js';

const DISC = 'nqn.2014-08.org.nvmexpress.discovery';
const SA = 'nqn.2026-11.io.sanhook:behind-a';
const SB = 'nqn.2026-11.io.sanhook:behind-b';
const entry = (subtype: string, traddr: string, trsvcid: string, subnqn: string) => ({
  trtype: 'tcp', adrfam: 'ipv4', subtype, treq: 'not specified', portid: 1, trsvcid, subnqn, traddr, eflags: 'none', sectype: 'none',
});
const log = (...records: ReturnType<typeof entry>[]) => JSON.stringify({ genctr: 3, records }, null, 2);

let box: Sandbox;
beforeEach(() => {
  box = new Sandbox();
  box.writeStateFile('logs/tcp_10.0.0.5_8009.json', log(entry('current discovery subsystem', '10.0.0.5', '8009', DISC), entry('nvme subsystem', '10.0.0.5', '4420', SA), entry('discovery subsystem referral', '10.0.0.6', '8009', DISC)));
  box.writeStateFile('logs/tcp_10.0.0.6_8009.json', log(entry('nvme subsystem', '10.0.0.6', '4420', SB), entry('discovery subsystem referral', '10.0.0.5', '8009', DISC)));
});
afterEach(async () => {
  await box.cleanup();
});

const discovers = () => box.nvmeCalls('discover').map((c: { argv: string[] }) => c.argv.join(' '));

describe('referrals', () => {
  it('follows A -> B as its own round, stops at B -> A (a loop), connects both levels', async () => {
    const { result, items } = await box.runJson(['connect', '-t', 'tcp', '-a', '10.0.0.5']);
    expectExit(result, 0);
    expect(discovers()).toEqual([
      expect.stringContaining('discover --transport tcp --traddr 10.0.0.5 --trsvcid 8009'),
      expect.stringContaining('discover --transport tcp --traddr 10.0.0.6 --trsvcid 8009'),
    ]);
    const connected = items.filter((i: Record<string, unknown>) => i.outcome === 'connected').map((i: Record<string, unknown>) => i.subnqn);
    expect(connected).toEqual([SA, SB]);
    expect(items.filter((i: Record<string, unknown>) => i.reason === 'referral-loop')).toEqual([
      expect.objectContaining({ hook: 'connect', key: 'nvmf-disc:tcp:10.0.0.6:8009:none:none', outcome: 'skipped', reason: 'referral-loop' }),
    ]);
    // the referred round ran under its own address's key, triggered as a referral
    expect(items.some((i: Record<string, unknown>) => i.key === 'nvmf-disc:tcp:10.0.0.6:8009:none:none' && i.trigger === 'referral')).toBe(true);
  });

  it('nvmf.referrals.follow: false reports the referral and follows nothing', async () => {
    box.writeConfig('nvmf:\n  referrals:\n    follow: false\n');
    const { result, items } = await box.runJson(['connect', '-t', 'tcp', '-a', '10.0.0.5']);
    expectExit(result, 0);
    expect(discovers()).toHaveLength(1);
    expect(items.filter((i: Record<string, unknown>) => i.reason === 'referrals-off')).toHaveLength(1);
  });

  it('--dry-run prints both rounds and creates nothing', async () => {
    const { result, items } = await box.runJson(['--dry-run', 'connect', '-t', 'tcp', '-a', '10.0.0.5', '--persistent']);
    expectExit(result, 0);
    expect(items.filter((i: Record<string, unknown>) => i.outcome === 'would-connect').map((i: Record<string, unknown>) => i.subnqn)).toEqual([SA, SB]);
    expect(box.sysfsControllers()).toEqual([]);
  });
});

describe('one persistent discovery controller per address', () => {
  it('--persistent: A and B (reached by the referral) get one each, recorded as sanhook\'s; a second run reuses both', async () => {
    expectExit((await box.runJson(['connect', '-t', 'tcp', '-a', '10.0.0.5', '--persistent'])).result, 0);
    const discoveryControllers = () => box.controllers().filter((c: Record<string, string>) => c.cntrltype === 'discovery');
    expect(discoveryControllers()).toHaveLength(2);
    expect(readdirSync(path.join(box.root, 'var/lib/sanhook/nvmf/discovery')).sort()).toHaveLength(2);
    expect(discovers().filter((argv: string) => argv.includes('--persistent'))).toHaveLength(2);
    const before = discovers().length;
    const { result, items } = await box.runJson(['connect', '-t', 'tcp', '-a', '10.0.0.5', '--persistent']);
    expectExit(result, 0);
    const again = discovers().slice(before);
    expect(again).toEqual([expect.stringMatching(/discover .*--device nvme[0-9]+ /)]);
    expect(discoveryControllers()).toHaveLength(2);
    expect(items.filter((i: Record<string, unknown>) => i.reason === 'referral-known')).toHaveLength(1);
    // `sanhook status` names the two sanhook created
    const status = await box.runJson(['status']);
    expect(status.items.filter((i: Record<string, unknown>) => i.outcome === 'nvmf-discovery').map((i: Record<string, unknown>) => [i.key, i.state])).toEqual([
      ['nvmf-disc:tcp:10.0.0.5:8009:none:none', 'live'],
      ['nvmf-disc:tcp:10.0.0.6:8009:none:none', 'live'],
    ]);
  });

  it('nvmf.persistent: true is the default --persistent', async () => {
    box.writeConfig('nvmf:\n  persistent: true\n  referrals:\n    follow: false\n');
    expectExit((await box.runJson(['connect', '-t', 'tcp', '-a', '10.0.0.5'])).result, 0);
    expect(discovers()).toEqual([expect.stringContaining('--persistent')]);
  });

  it('an existing discovery controller at the address is reused and not recorded: sanhook did not create it', async () => {
    box.addController('nvme9', { transport: 'tcp', address: 'traddr=10.0.0.6,trsvcid=8009', subsysnqn: DISC, cntrltype: 'discovery', state: 'live' });
    box.writeConfig('nvmf:\n  referrals:\n    follow: false\n');
    expectExit((await box.runJson(['connect', '-t', 'tcp', '-a', '10.0.0.6', '--persistent'])).result, 0);
    expect(discovers()).toEqual([expect.stringContaining('--device nvme9')]);
    expect(box.controllers().filter((c: Record<string, string>) => c.cntrltype === 'discovery').map((c: Record<string, string>) => c.name)).toEqual(['nvme9']);
    const { items } = await box.runJson(['disconnect', '--discovery', '-t', 'tcp', '-a', '10.0.0.6']);
    expect(items.map((i: Record<string, unknown>) => i.outcome)).toEqual(['disconnected', 'not-sanhooks']);
    expect(box.nvmeCalls('disconnect')).toEqual([]);
  });

  it('disconnect --discovery takes down only the one sanhook created, and no automatic round creates another', async () => {
    box.writeConfig('nvmf:\n  referrals:\n    follow: false\n');
    expectExit((await box.runJson(['connect', '-t', 'tcp', '-a', '10.0.0.6', '--persistent'])).result, 0);
    const [ours] = box.controllers().filter((c: Record<string, string>) => c.cntrltype === 'discovery').map((c: Record<string, string>) => c.name);
    // the admin's own, made later at the same address: not sanhook's to take down
    box.addController('nvme9', { transport: 'tcp', address: 'traddr=10.0.0.6,trsvcid=8009', subsysnqn: DISC, cntrltype: 'discovery', state: 'live' });
    const { result, items } = await box.runJson(['disconnect', '--discovery', '-t', 'tcp', '-a', '10.0.0.6']);
    expectExit(result, 0);
    expect(items.map((i: Record<string, unknown>) => [i.outcome, i.device])).toEqual([
      ['disconnected', ours],
      ['not-sanhooks', 'nvme9'],
    ]);
    expect(box.nvmeCalls('disconnect').map((c: { argv: string[] }) => c.argv.join(' '))).toEqual([`disconnect --device ${ours}`]);
    const aen = await box.runJson(['connect', '-t', 'tcp', '-a', '10.0.0.6', '--persistent', '--trigger', 'aen']);
    expectExit(aen.result, 0);
    expect(aen.items).toEqual([expect.objectContaining({ outcome: 'disconnected-by-admin' })]);
    // a manual connect reopens it
    const manual = await box.runJson(['connect', '-t', 'tcp', '-a', '10.0.0.6']);
    expectExit(manual.result, 0);
    expect(manual.items.some((i: Record<string, unknown>) => i.outcome === 'disconnected-by-admin')).toBe(false);
  });

  it('disconnect --discovery --keep leaves it connected and stops managing it', async () => {
    box.writeConfig('nvmf:\n  referrals:\n    follow: false\n');
    expectExit((await box.runJson(['connect', '-t', 'tcp', '-a', '10.0.0.6', '--persistent'])).result, 0);
    const { result, items } = await box.runJson(['disconnect', '--discovery', '--keep', '-t', 'tcp', '-a', '10.0.0.6']);
    expectExit(result, 0);
    expect(items.map((i: Record<string, unknown>) => i.outcome)).toEqual(['kept']);
    expect(box.nvmeCalls('disconnect')).toEqual([]);
    expect(readdirSync(path.join(box.root, 'var/lib/sanhook/nvmf/discovery'))).toEqual([]);
  });

  it('--keep and --host-iface without --discovery are refused (exit 2)', async () => {
    expectExit(await box.run(['disconnect', '--keep', '--nqn', SA]), 2);
  });
});
