import { readFileSync } from 'node:fs';
import { defaultConfig } from '../../src/core/config.js';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/log.js';
import { collectingReporter } from '../../src/core/report.js';
import { prefilterTable } from '../../src/core/verbs.js';
import { FCOE_PREFILTERS } from '../../src/hooks/fcoe/prefilter.js';
import { FABRICS } from '../../src/hooks/index.js';
import { AEN_DISCOVERY_LOG_CHANGED as FULL_AEN, classifyUevent } from '../../src/hooks/nvmf/connect-request.js';
import { runConnected } from '../../src/hooks/nvmf/connected.js';
import { classifyLostUevent } from '../../src/hooks/nvmf/lost.js';
import { AEN_DISCOVERY_LOG_CHANGED, matchConnectedUevent, matchLostUevent, matchUevent, NVMF_PREFILTERS } from '../../src/hooks/nvmf/prefilter.js';
import { UEVENT_PREFILTERS, ueventIsIrrelevant } from '../../src/hooks/prefilters.js';
import { matchSrpHostRemove } from '../../src/hooks/srp/prefilter.js';
import { tempSystem } from '../support/system.js';

// The fast path in cli.ts uses the prefilters; the hooks use their full classifiers. They must agree.
const nvmeCtrl = { DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme3', DEVNAME: 'nvme3', NVME_TRTYPE: 'tcp', NVME_TRADDR: '10.0.0.5', NVME_TRSVCID: '8009', NVME_HOST_TRADDR: 'none', NVME_HOST_IFACE: 'none' };
const pcieCtrl = { DEVPATH: '/devices/pci0000:00/0000:00:04.0/nvme/nvme0', DEVNAME: 'nvme0' };
const envs: [string, Record<string, string>][] = [
  ['empty', {}],
  ['net add', { SUBSYSTEM: 'net', ACTION: 'add', INTERFACE: 'v0' }],
  ['net remove', { SUBSYSTEM: 'net', ACTION: 'remove', INTERFACE: 'v0' }],
  ['block add', { SUBSYSTEM: 'block', ACTION: 'add', DEVNAME: '/dev/nvme0n1' }],
  ['nvme change, no AEN', { SUBSYSTEM: 'nvme', ACTION: 'change', ...nvmeCtrl }],
  ['nvme change, other AEN', { SUBSYSTEM: 'nvme', ACTION: 'change', NVME_AEN: '0x000002', ...nvmeCtrl }],
  ['nvme change, AEN upper case', { SUBSYSTEM: 'nvme', ACTION: 'change', NVME_AEN: '0x70F002', ...nvmeCtrl }],
  ['nvme change, discovery AEN', { SUBSYSTEM: 'nvme', ACTION: 'change', NVME_AEN: '0x70f002', ...nvmeCtrl }],
  ['nvme change, rediscover', { SUBSYSTEM: 'nvme', ACTION: 'change', NVME_EVENT: 'rediscover', ...nvmeCtrl }],
  ['nvme change, connected', { SUBSYSTEM: 'nvme', ACTION: 'change', NVME_EVENT: 'connected', ...nvmeCtrl }],
  ['nvme add with AEN', { SUBSYSTEM: 'nvme', ACTION: 'add', NVME_AEN: '0x70f002', ...nvmeCtrl }],
  ['nvme remove', { SUBSYSTEM: 'nvme', ACTION: 'remove', ...nvmeCtrl }],
  ['nvme, no action', { SUBSYSTEM: 'nvme', NVME_AEN: '0x70f002' }],
  ['nvme AEN without address vars', { SUBSYSTEM: 'nvme', ACTION: 'change', NVME_AEN: '0x70f002' }],
  ['fc nvmediscovery', { SUBSYSTEM: 'fc', ACTION: 'change', FC_EVENT: 'nvmediscovery', NVMEFC_TRADDR: 'nn-0x1:pn-0x2', NVMEFC_HOST_TRADDR: 'nn-0x3:pn-0x4' }],
  ['fc nvmediscovery, no host', { SUBSYSTEM: 'fc', FC_EVENT: 'nvmediscovery', NVMEFC_TRADDR: 'nn-0x1:pn-0x2' }],
  ['fc nvmediscovery, no traddr', { SUBSYSTEM: 'fc', FC_EVENT: 'nvmediscovery', NVMEFC_HOST_TRADDR: 'nn-0x3:pn-0x4' }],
  ['fc other event', { SUBSYSTEM: 'fc', FC_EVENT: 'linkup', NVMEFC_TRADDR: 'x', NVMEFC_HOST_TRADDR: 'y' }],
  ['fc vars under nvme', { SUBSYSTEM: 'nvme', ACTION: 'change', FC_EVENT: 'nvmediscovery', NVMEFC_TRADDR: 'x', NVMEFC_HOST_TRADDR: 'y' }],
  ['case matters', { SUBSYSTEM: 'NVME', ACTION: 'change', NVME_AEN: '0x70f002' }],
];

/** The events `lost --uevent` and `connected --uevent` are run for, and their near misses. */
const lifecycleEnvs: [string, Record<string, string>][] = [
  ...envs,
  ['fabrics remove with the identity of the rules', { SUBSYSTEM: 'nvme', ACTION: 'remove', ...nvmeCtrl, SANHOOK_SUBNQN: 'nqn.2026-11.io.sanhook:subsys1', SANHOOK_CNTRLTYPE: 'io' }],
  ['fabrics remove of a discovery controller', { SUBSYSTEM: 'nvme', ACTION: 'remove', ...nvmeCtrl, SANHOOK_CNTRLTYPE: 'discovery' }],
  ['fabrics remove, NVME_TRTYPE empty', { SUBSYSTEM: 'nvme', ACTION: 'remove', ...nvmeCtrl, NVME_TRTYPE: '' }],
  ['fabrics remove without DEVPATH', { SUBSYSTEM: 'nvme', ACTION: 'remove', NVME_TRTYPE: 'tcp', NVME_TRADDR: '10.0.0.5' }],
  ['PCIe remove', { SUBSYSTEM: 'nvme', ACTION: 'remove', ...pcieCtrl }],
  ['PCIe connected', { SUBSYSTEM: 'nvme', ACTION: 'change', NVME_EVENT: 'connected', ...pcieCtrl }],
  ['fabrics add', { SUBSYSTEM: 'nvme', ACTION: 'add', ...nvmeCtrl }],
  ['fabrics connected, NVME_TRTYPE empty', { SUBSYSTEM: 'nvme', ACTION: 'change', NVME_EVENT: 'connected', ...nvmeCtrl, NVME_TRTYPE: '' }],
  ['fabrics connected without DEVPATH', { SUBSYSTEM: 'nvme', ACTION: 'change', NVME_EVENT: 'connected', NVME_TRTYPE: 'tcp' }],
  ['fabrics connected, DEVPATH empty', { SUBSYSTEM: 'nvme', ACTION: 'change', NVME_EVENT: 'connected', ...nvmeCtrl, DEVPATH: '' }],
  ['fabrics connected, DEVPATH naming a bad device', { SUBSYSTEM: 'nvme', ACTION: 'change', NVME_EVENT: 'connected', ...nvmeCtrl, DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme3;reboot' }],
  ['fabrics connected on add', { SUBSYSTEM: 'nvme', ACTION: 'add', NVME_EVENT: 'connected', ...nvmeCtrl }],
  ['fabrics remove under block', { SUBSYSTEM: 'block', ACTION: 'remove', ...nvmeCtrl }],
  ['remove in upper case', { SUBSYSTEM: 'nvme', ACTION: 'REMOVE', ...nvmeCtrl }],
];

describe('matchUevent agrees with classifyUevent (connect)', () => {
  it('uses the same AEN', () => expect(AEN_DISCOVERY_LOG_CHANGED).toBe(FULL_AEN));
  it.each(envs)('%s', (_name, env) => {
    const fast = matchUevent(env);
    const full = classifyUevent(env);
    if (full.kind === 'irrelevant') {
      expect(fast).toEqual({ relevant: false, why: full.why });
    } else {
      expect(fast).toEqual({ relevant: true, trigger: full.trigger });
    }
  });
  it('covers both answers', () => {
    const answers = new Set(envs.map(([, env]) => matchUevent(env).relevant));
    expect(answers).toEqual(new Set([true, false]));
  });
});

describe('matchLostUevent agrees with classifyLostUevent (lost)', () => {
  it.each(lifecycleEnvs)('%s', (_name, env) => {
    expect(matchLostUevent(env)).toBe(classifyLostUevent(env).kind !== 'irrelevant');
  });
  it('covers both answers', () => expect(new Set(lifecycleEnvs.map(([, env]) => matchLostUevent(env)))).toEqual(new Set([true, false])));
});

/**
 * runConnected's classifier is the check at its top: an event it ignores
 * returns without a trace; any other reads the controller (here: absent, a
 * debug record) or refuses the device name (a UsageError).
 */
async function connectedActsOn(env: Record<string, string>): Promise<boolean> {
  const records: string[] = [];
  const record = (_fields: Record<string, unknown>, message: string) => void records.push(message);
  const log: Logger = { debug: record, info: record, warn: record, error: record };
  const reporter = collectingReporter();
  try {
    await runConnected({ ...tempSystem(undefined, env), log }, defaultConfig('/etc/sanhook/sanhook.yaml', FABRICS), undefined, reporter);
  } catch {
    return true;
  }
  return records.length > 0 || reporter.items.length > 0;
}

describe('matchConnectedUevent agrees with runConnected (connected)', () => {
  it.each(lifecycleEnvs)('%s', async (_name, env) => {
    expect(matchConnectedUevent(env)).toBe(await connectedActsOn(env));
  });
  it('covers both answers', () => expect(new Set(lifecycleEnvs.map(([, env]) => matchConnectedUevent(env)))).toEqual(new Set([true, false])));
});

describe("FCoE's prefilters: net add and remove with an interface name, nothing else", () => {
  it.each<[string, Record<string, string>, boolean, boolean]>([
    ['net add', { SUBSYSTEM: 'net', ACTION: 'add', INTERFACE: 'eth0' }, true, false],
    ['net remove', { SUBSYSTEM: 'net', ACTION: 'remove', INTERFACE: 'eth0.100' }, false, true],
    ['net move (a rename)', { SUBSYSTEM: 'net', ACTION: 'move', INTERFACE: 'eth1' }, false, false],
    ['net change', { SUBSYSTEM: 'net', ACTION: 'change', INTERFACE: 'eth0' }, false, false],
    ['net add without INTERFACE', { SUBSYSTEM: 'net', ACTION: 'add' }, false, false],
    ['an fcoe ctlr add', { SUBSYSTEM: 'fcoe', ACTION: 'add', DEVPATH: '/devices/virtual/net/v0/ctlr_0' }, false, false],
    ['an nvme add', { SUBSYSTEM: 'nvme', ACTION: 'add', INTERFACE: 'x' }, false, false],
  ])('%s: dcb-check %s, fcoe-destroy %s', (_name, env, add, remove) => {
    expect(FCOE_PREFILTERS['dcb-check']!(env)).toBe(add);
    expect(FCOE_PREFILTERS['fcoe-destroy']!(env)).toBe(remove);
    expect(ueventIsIrrelevant('dcb-check', env)).toBe(!add);
    expect(ueventIsIrrelevant('fcoe-destroy', env)).toBe(!remove);
  });
});

describe('the fast path: verb → prefilters', () => {
  it('lists what the registry derives from the fabrics, in order', () => {
    const derived = prefilterTable(FABRICS);
    expect(Object.keys(UEVENT_PREFILTERS).sort()).toEqual(Object.keys(derived).sort());
    for (const [verb, prefilters] of Object.entries(derived)) expect(UEVENT_PREFILTERS[verb]).toEqual(prefilters);
  });
  it('the nvmf fabric registers its prefilters', () => expect(FABRICS.find((f) => f.name === 'nvmf')!.prefilters).toBe(NVMF_PREFILTERS));
  it('has connect, lost and connected (NVMe-oF), dcb-check and fcoe-destroy (FCoE), srp-setup and lost (SRP)', () =>
    expect(Object.keys(UEVENT_PREFILTERS).sort()).toEqual(['connect', 'connected', 'dcb-check', 'fcoe-destroy', 'lost', 'srp-setup']));
  it.each(lifecycleEnvs)('%s: irrelevant for a verb exactly when every prefilter of it says so', (_name, env) => {
    expect(ueventIsIrrelevant('connect', env)).toBe(!matchUevent(env).relevant);
    expect(ueventIsIrrelevant('lost', env)).toBe(!matchLostUevent(env) && !matchSrpHostRemove(env));
    expect(ueventIsIrrelevant('connected', env)).toBe(!matchConnectedUevent(env));
  });
  it.each(['reconnect', 'timerd', 'devd', '__proto__', 'constructor', 'toString', 'hasOwnProperty', ''])('%j has no prefilter: never irrelevant', (verb) => {
    expect(ueventIsIrrelevant(verb, {})).toBe(false);
  });
});

describe('the fast path stays light (bench/hook-start.mjs)', () => {
  const staticImports = (file: string) => [...readFileSync(new URL(`../../src/${file}`, import.meta.url), 'utf8').matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]);
  it('hooks/nvmf/prefilter.ts imports nothing', () => expect(staticImports('hooks/nvmf/prefilter.ts')).toEqual([]));
  it('hooks/prefilters.ts imports only the fabrics\' prefilter modules, which import nothing', () => {
    const imports = staticImports('hooks/prefilters.ts');
    expect(imports).toEqual(['./fcoe/prefilter.js', './nvmf/prefilter.js', './srp/prefilter.js']);
    for (const module of imports) expect(staticImports(`hooks/${module!.replace(/^\.\//, '').replace(/\.js$/, '.ts')}`)).toEqual([]);
  });
  it('cli.ts statically imports only hooks/prefilters', () => expect(staticImports('cli.ts')).toEqual(['./hooks/prefilters.js']));
});
