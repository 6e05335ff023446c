import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AEN_DISCOVERY_LOG_CHANGED as FULL_AEN, classifyUevent } from '../../src/hooks/nvmf/connect-request.js';
import { AEN_DISCOVERY_LOG_CHANGED, matchUevent } from '../../src/hooks/nvmf/prefilter.js';

// The fast path in cli.ts uses matchUevent(); the hook uses classifyUevent(). They must agree.
const nvmeCtrl = { DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme3', DEVNAME: 'nvme3', NVME_TRTYPE: 'tcp', NVME_TRADDR: '10.0.0.5', NVME_TRSVCID: '8009', NVME_HOST_TRADDR: 'none', NVME_HOST_IFACE: 'none' };
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

describe('matchUevent agrees with classifyUevent', () => {
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

describe('the fast path stays light (bench/hook-start.mjs)', () => {
  const staticImports = (file: string) => [...readFileSync(new URL(`../../src/${file}`, import.meta.url), 'utf8').matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]);
  it('hooks/nvmf/prefilter.ts imports nothing', () => expect(staticImports('hooks/nvmf/prefilter.ts')).toEqual([]));
  it('cli.ts statically imports only the nvmf prefilter', () => expect(staticImports('cli.ts')).toEqual(['./hooks/nvmf/prefilter.js']));
});
