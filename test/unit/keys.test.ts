import { describe, expect, it } from 'vitest';
import { keyFileName } from '../../src/core/keys.js';
import { endpointKey } from '../../src/hooks/nvmf/keys.js';

describe('endpointKey', () => {
  it.each([
    [{ kind: 'nvmf-disc', transport: 'tcp', traddr: '10.0.0.5', trsvcid: '8009', hostTraddr: 'none', hostIface: 'none' }, 'nvmf-disc:tcp:10.0.0.5:8009:none:none'],
    [{ kind: 'nvmf-disc', transport: 'tcp', traddr: 'fe80::1', trsvcid: '8009', hostTraddr: 'none', hostIface: 'eth0' }, 'nvmf-disc:tcp:[fe80::1]:8009:none:eth0'],
    [{ kind: 'nvmf', transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420', subnqn: 'nqn.x:y', hostTraddr: 'none', hostIface: 'none' }, 'nvmf:tcp:10.0.0.5:4420:nqn.x:y:none:none'],
    [{ kind: 'nvmf-disc', transport: 'fc', traddr: 'nn-0x1:pn-0x2', trsvcid: 'none', hostTraddr: 'nn-0x3:pn-0x4', hostIface: 'none' }, 'nvmf-disc:fc:nn-0x1:pn-0x2:none:nn-0x3:pn-0x4:none'],
  ] as const)('%j → %s', (endpoint, key) => expect(endpointKey(endpoint)).toBe(key));
});

describe('keyFileName', () => {
  it('is a single safe path component', () => {
    for (const key of ['nvmf-disc:tcp:[fe80::1]:8009:none:none', '../../etc/passwd', '.hidden', 'a/b\0c', 'x'.repeat(1000)]) {
      const name = keyFileName(key);
      expect(name).not.toContain('/');
      expect(name).not.toMatch(/^\./);
      expect(name.length).toBeLessThanOrEqual(180);
    }
  });
  it('is injective for distinct keys of different length', () => {
    expect(keyFileName('a/b')).not.toBe(keyFileName('a%2fb'));
    expect(keyFileName('x'.repeat(1000))).not.toBe(keyFileName(`${'x'.repeat(999)}y`));
  });
});
