import { describe, expect, it } from 'vitest';
import { timerHookTable } from '../../src/core/registry.js';
import { FABRICS } from '../../src/hooks/index.js';
import { parseRequest as parseWith, ProtocolError } from '../../src/timerd/protocol.js';

const HOOKS = timerHookTable(FABRICS);
const parseRequest = (line: string) => parseWith(line, HOOKS);

const params = { transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420', nqn: 'nqn.2026-11.io.sanhook:a' };
const arm = (over: Record<string, unknown> = {}) => JSON.stringify({ op: 'arm', hook: 'reconnect', lossHook: 'give-up', params, delay: 10, lossSeconds: 600, ...over });

describe('parseRequest accepts', () => {
  it('ping, list, disarm, arm', () => {
    expect(parseRequest('{"op":"ping","req":7}')).toEqual({ op: 'ping', req: 7 });
    expect(parseRequest('{"op":"list"}')).toEqual({ op: 'list' });
    expect(parseRequest('{"op":"disarm","key":"nvmf:x","id":3}')).toEqual({ op: 'disarm', key: 'nvmf:x', id: 3 });
    const request = parseRequest(arm());
    expect(request).toMatchObject({
      op: 'arm',
      arm: {
        key: 'nvmf:tcp:10.0.0.5:4420:nqn.2026-11.io.sanhook:a:none:none',
        onReconnect: { hook: 'reconnect', params: { transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420', nqn: 'nqn.2026-11.io.sanhook:a' } },
        onLoss: { hook: 'give-up' },
        schedule: { delaySeconds: 10, growth: 'fixed' },
        loss: { seconds: 600, attempts: 0 },
      },
    });
  });
});

describe('parseRequest rejects with a code', () => {
  it.each([
    ['', 'bad-json'],
    ['not json', 'bad-json'],
    ['[1,2]', 'bad-json'],
    ['null', 'bad-json'],
    ['"ping"', 'bad-json'],
    ['{"op":"ping"', 'bad-json'],
    ['{}', 'unknown-op'],
    ['{"op":"shutdown"}', 'unknown-op'],
    ['{"op":"__proto__"}', 'unknown-op'],
    ['{"op":"constructor"}', 'unknown-op'],
    ['{"op":1}', 'unknown-op'],
    ['{"op":"ping","extra":1}', 'bad-field'],
    ['{"op":"ping","req":{"a":1}}', 'bad-field'],
    [`{"op":"ping","req":"${'x'.repeat(100)}"}`, 'bad-field'],
    ['{"op":"disarm"}', 'bad-field'],
    ['{"op":"disarm","key":""}', 'bad-field'],
    ['{"op":"disarm","key":5}', 'bad-field'],
    ['{"op":"disarm","key":"k","id":-1}', 'bad-field'],
    ['{"op":"disarm","key":"k","id":1.5}', 'bad-field'],
    [arm({ hook: 'rm -rf /' }), 'bad-field'],
    [arm({ hook: '/bin/sh' }), 'bad-field'],
    [arm({ hook: 'timerd' }), 'bad-field'],
    [arm({ hook: 'give-up' }), 'bad-field'],
    [arm({ hook: 'toString' }), 'bad-field'],
    [arm({ lossHook: 'reconnect' }), 'bad-field'],
    [arm({ lossHook: 7 }), 'bad-field'],
    [arm({ hook: undefined }), 'bad-field'],
    [arm({ params: 'x' }), 'bad-field'],
    [arm({ params: null }), 'bad-field'],
    [arm({ params: [] }), 'bad-field'],
    [arm({ params: { ...params, traddr: '10.0.0.5; reboot' } }), 'bad-field'],
    [arm({ params: { ...params, traddr: '$(reboot)' } }), 'bad-field'],
    [arm({ params: { ...params, traddr: '--help' } }), 'bad-field'],
    [arm({ params: { ...params, nqn: '../../etc/passwd' } }), 'bad-field'],
    [arm({ params: { ...params, nqn: 'nqn.2026-11.x:a\nb' } }), 'bad-field'],
    [arm({ params: { ...params, trsvcid: 4420 } }), 'bad-field'],
    [arm({ params: { ...params, 'host-iface': 'eth0 --all' } }), 'bad-field'],
    [arm({ params: { ...params, exec: '/bin/sh' } }), 'bad-field'],
    [arm({ params: { ...params, transport: 'quic' } }), 'bad-field'],
    [arm({ params: { transport: 'tcp' } }), 'bad-field'],
    [arm({ delay: -1 }), 'bad-field'],
    [arm({ delay: '10' }), 'bad-field'],
    [arm({ delay: 1e12 }), 'bad-field'],
    [arm({ delay: 0.5 }), 'bad-field'],
    [arm({ delay: null }), 'bad-field'],
    [arm({ growth: 'exponential' }), 'bad-field'],
    [arm({ lossSeconds: -2 }), 'bad-field'],
    [arm({ lossAttempts: -1 }), 'bad-field'],
    [arm({ delay: 0, lossSeconds: -1 }), 'bad-field'],
    [arm({ command: 'reboot' }), 'bad-field'],
  ])('%s → %s', (line, code) => {
    try {
      parseRequest(line);
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).code).toBe(code);
      return;
    }
    throw new Error('expected a ProtocolError');
  });
});
