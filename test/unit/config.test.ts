import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { parseConfig } from '../../src/core/config.js';

const FILE = '/etc/sanhook/sanhook.yaml';

describe('parseConfig', () => {
  it('defaults for an empty file', async () => {
    expect(await parseConfig(FILE, '')).toMatchObject({ lockStaleMs: 10_000, nvmf: { exclude: [], udevHandoff: 'auto' } });
  });
  it('reads every setting', async () => {
    const config = await parseConfig(FILE, [
      'lock:',
      '  stale-seconds: 2.5',
      'nvmf:',
      '  reconnect-delay: 5',
      '  ctrl-loss-tmo: -1',
      '  udev-handoff: inline',
      '  exclude:',
      '    - subnqn: nqn.2026-11.io.sanhook:scratch',
      '    - traddr: 10.0.0.9',
      '      trsvcid: 4420',
      '      transport: tcp',
      '  lost:',
      '    reconnect-delay: 2',
      '    ctrl-loss-tmo: -1',
      '    growth: linear',
      '    max-attempts: 5',
      '    reconnect-unmanaged: true',
      '',
    ].join('\n'));
    expect(config).toEqual({
      file: FILE,
      lockStaleMs: 2500,
      nvmf: { reconnectDelay: 5, ctrlLossTmo: -1, udevHandoff: 'inline', exclude: [{ subnqn: 'nqn.2026-11.io.sanhook:scratch' }, { traddr: '10.0.0.9', trsvcid: '4420', transport: 'tcp' }], lost: { reconnectDelay: 2, ctrlLossTmo: -1, growth: 'linear', maxAttempts: 5, reconnectUnmanaged: true } },
    });
  });
  it.each([
    ['lock:\n  stale-seconds: 1\n', 2, 'lock.stale-seconds'],
    ['lock:\n  stale-secs: 5\n', 2, 'lock.stale-secs'],
    ['nvmf:\n  ctrl-loss-tmo: forever\n', 2, 'nvmf.ctrl-loss-tmo'],
    ['nvmf:\n  reconnect-delay: [1, 2]\n', 2, 'nvmf.reconnect-delay'],
    ['\n\nfcoe:\n  x: 1\n', 3, 'fcoe'],
    ['nvmf:\n  exclude:\n    - subnqn: "nqn.x; reboot"\n', 3, 'nvmf.exclude[0].subnqn'],
    ['nvmf:\n  exclude:\n    - {}\n', 3, 'nvmf.exclude[0]'],
    ['nvmf:\n  udev-handoff: sometimes\n', 2, 'nvmf.udev-handoff'],
    ['nvmf:\n  lost:\n    growth: exponential\n', 3, 'nvmf.lost.growth'],
    ['nvmf:\n  lost:\n    reconnect-delay: 0\n    ctrl-loss-tmo: -1\n', 3, 'nvmf.lost'],
    ['nvmf:\n  lost:\n    reconnect-unmanaged: yes\n', 3, 'nvmf.lost.reconnect-unmanaged'],
  ])('%j → line %i key %s', async (text, line, key) => {
    const error = await parseConfig(FILE, text).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ file: FILE, line, key });
    expect((error as Error).message.startsWith(`${FILE}:${line}: ${key}: `)).toBe(true);
  });
  it('YAML syntax errors name the line', async () => {
    const error = await parseConfig(FILE, 'lock:\n  stale-seconds: 5\n bad: [\n').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).line).toBeGreaterThanOrEqual(3);
  });
  it('duplicate keys are an error', async () => {
    await expect(parseConfig(FILE, 'lock:\n  stale-seconds: 5\n  stale-seconds: 6\n')).rejects.toBeInstanceOf(ConfigError);
  });
});
