import { describe, expect, it } from 'vitest';
import { armRequest } from '../../src/commands/timers.js';
import { UsageError } from '../../src/core/errors.js';
import { timerHookTable } from '../../src/core/registry.js';
import { FABRICS } from '../../src/hooks/index.js';
import { parseRequest as parseWith, ProtocolError } from '../../src/timerd/protocol.js';

const HOOKS = timerHookTable(FABRICS);
const parseRequest = (line: string) => parseWith(line, HOOKS);

const params = { transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420', nqn: 'nqn.2026-11.io.sanhook:a' };
const arm = (over: Record<string, unknown> = {}) => JSON.stringify({ op: 'arm', hook: 'reconnect', lossHook: 'give-up', params, delayMs: 10_000, lossMs: 600_000, ...over });
/** The seconds-only release's fields (delay, lossSeconds), as older clients send them. */
const armV1 = (over: Record<string, unknown> = {}) => JSON.stringify({ op: 'arm', hook: 'reconnect', lossHook: 'give-up', params, delay: 10, lossSeconds: 600, ...over });
const parsedArm = (line: string) => {
  const request = parseRequest(line);
  if (request.op !== 'arm') throw new Error(`not an arm: ${line}`);
  return { schedule: request.arm.schedule, loss: request.arm.loss };
};

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
        schedule: { delayMs: 10_000, growth: 'fixed' },
        loss: { afterMs: 600_000, attempts: 0 },
      },
    });
  });

  it("milliseconds: fcoemon's 0.2 s × n with 10 retries, the shortest delay, the bounds", () => {
    expect(parsedArm(arm({ delayMs: 200, growth: 'linear', lossMs: 0, lossAttempts: 10 }))).toEqual({ schedule: { delayMs: 200, growth: 'linear' }, loss: { afterMs: 0, attempts: 10 } });
    expect(parsedArm(arm({ delayMs: 100 })).schedule.delayMs).toBe(100);
    expect(parsedArm(arm({ delayMs: 86_400_000, lossMs: 31_536_000_000 }))).toMatchObject({ schedule: { delayMs: 86_400_000 }, loss: { afterMs: 31_536_000_000 } });
    expect(parsedArm(arm({ lossMs: 12_345 })).loss.afterMs).toBe(12_345);
    // no delay, loss by time only
    expect(parsedArm(arm({ delayMs: 0, lossMs: 1 }))).toEqual({ schedule: { delayMs: 0, growth: 'fixed' }, loss: { afterMs: 1, attempts: 0 } });
  });

  it('never by time: lossMs 0 or -1, or no loss field at all, is kept as 0', () => {
    for (const over of [{ lossMs: 0 }, { lossMs: -1 }, { lossMs: undefined }]) expect(parsedArm(arm(over)).loss.afterMs).toBe(0);
  });

  it('the seconds-only fields of older clients (delay, lossSeconds) are whole seconds, read as ms', () => {
    expect(parsedArm(armV1())).toEqual({ schedule: { delayMs: 10_000, growth: 'fixed' }, loss: { afterMs: 600_000, attempts: 0 } });
    expect(parsedArm(armV1({ delay: 86_400, lossSeconds: 31_536_000 }))).toMatchObject({ schedule: { delayMs: 86_400_000 }, loss: { afterMs: 31_536_000_000 } });
    for (const lossSeconds of [-1, 0, undefined]) expect(parsedArm(armV1({ lossSeconds })).loss.afterMs).toBe(0);
    // the message `sanhook lost` sends today (hooks/nvmf/lost.ts) parses to the same entry as its ms form
    expect(parsedArm(armV1({ delay: 5, growth: 'linear', lossSeconds: 30, lossAttempts: 3 }))).toEqual(parsedArm(arm({ delayMs: 5000, growth: 'linear', lossMs: 30_000, lossAttempts: 3 })));
    // one form of each field, mixed, is fine
    expect(parsedArm(arm({ lossMs: undefined, lossSeconds: 7 })).loss.afterMs).toBe(7000);
    expect(parsedArm(armV1({ delay: undefined, delayMs: 250 })).schedule.delayMs).toBe(250);
  });
});

describe('arm keep: leave a timer already armed for the key alone', () => {
  const keepOf = (line: string) => {
    const request = parseRequest(line);
    if (request.op !== 'arm') throw new Error(`not an arm: ${line}`);
    return request.arm.keep;
  };
  it('is false unless given as true (an arm replaces: a new event starts the schedule over)', () => {
    expect(keepOf(arm())).toBe(false);
    expect(keepOf(arm({ keep: false }))).toBe(false);
    expect(keepOf(arm({ keep: true }))).toBe(true);
  });
});

describe('parseRequest names the field it rejects', () => {
  it.each([
    ['both delay forms', arm({ delay: 10 }), 'delay'],
    ['both loss forms', arm({ lossSeconds: 600 }), 'lossSeconds'],
    ['no delay at all', arm({ delayMs: undefined }), 'delayMs'],
    ['delayMs below the minimum', arm({ delayMs: 99 }), 'delayMs'],
    ['delayMs 1', arm({ delayMs: 1 }), 'delayMs'],
    ['delayMs above a day', arm({ delayMs: 86_400_001 }), 'delayMs'],
    ['delayMs not whole', arm({ delayMs: 200.5 }), 'delayMs'],
    ['delayMs in seconds as a string', arm({ delayMs: '0.2' }), 'delayMs'],
    ['lossMs above a year', arm({ lossMs: 31_536_000_001 }), 'lossMs'],
    ['lossMs -2', arm({ lossMs: -2 }), 'lossMs'],
    ['lossMs not whole', arm({ lossMs: 0.5 }), 'lossMs'],
    ['delay 0.2 (seconds stay whole: use delayMs)', armV1({ delay: 0.2 }), 'delay'],
    ['delayMs 0 and never lost', arm({ delayMs: 0, lossMs: 0 }), 'delayMs'],
    ['delay 0 and never lost', armV1({ delay: 0, lossSeconds: -1 }), 'delay'],
    ['keep as a string', arm({ keep: 'yes' }), 'keep'],
    ['keep as 1', arm({ keep: 1 }), 'keep'],
  ])('%s', (_name, line, field) => {
    const error = (() => {
      try {
        parseRequest(line);
      } catch (e) {
        return e;
      }
      throw new Error('expected a ProtocolError');
    })();
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: 'bad-field', field });
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
    [arm({ delayMs: -1 }), 'bad-field'],
    [arm({ delayMs: '10' }), 'bad-field'],
    [arm({ delayMs: 1e12 }), 'bad-field'],
    [arm({ delayMs: 0.5 }), 'bad-field'],
    [arm({ delayMs: null }), 'bad-field'],
    [arm({ delayMs: 50 }), 'bad-field'],
    [arm({ delay: 10 }), 'bad-field'],
    [armV1({ delay: -1 }), 'bad-field'],
    [armV1({ delay: '10' }), 'bad-field'],
    [armV1({ delay: 1e12 }), 'bad-field'],
    [armV1({ delay: 0.5 }), 'bad-field'],
    [armV1({ delay: null }), 'bad-field'],
    [armV1({ delay: 10, delayMs: 10_000 }), 'bad-field'],
    [arm({ growth: 'exponential' }), 'bad-field'],
    [arm({ lossMs: -2 }), 'bad-field'],
    [arm({ lossMs: null }), 'bad-field'],
    [arm({ lossSeconds: 600 }), 'bad-field'],
    [armV1({ lossSeconds: -2 }), 'bad-field'],
    [armV1({ lossSeconds: 1.5 }), 'bad-field'],
    [arm({ lossAttempts: -1 }), 'bad-field'],
    [arm({ delayMs: 0, lossMs: -1 }), 'bad-field'],
    [armV1({ delay: 0, lossSeconds: -1 }), 'bad-field'],
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

describe('`sanhook timers arm` sends ms: seconds to the millisecond on the command line', () => {
  /** Commander's view of `timers arm` with its defaults (--delay 10, --loss-seconds 600, --loss-attempts 0). */
  const cli = (over: Record<string, unknown> = {}) => ({
    hook: 'reconnect',
    lossHook: 'give-up',
    delay: '10',
    growth: 'fixed',
    lossSeconds: '600',
    lossAttempts: '0',
    param: Object.entries(params).map(([k, v]) => `${k}=${v}`),
    ...over,
  });

  it.each([
    ['defaults', {}, { delayMs: 10_000, lossMs: 600_000, lossAttempts: 0 }],
    ["fcoemon's 0.2 s, linear, 10 retries", { delay: '0.2', growth: 'linear', lossSeconds: '-1', lossAttempts: '10' }, { delayMs: 200, growth: 'linear', lossMs: 0, lossAttempts: 10 }],
    ['the shortest delay', { delay: '0.1' }, { delayMs: 100 }],
    ['three decimals', { delay: '1.234', lossSeconds: '2.5' }, { delayMs: 1234, lossMs: 2500 }],
    ['0 disables attempts; loss 0 is never', { delay: '0', lossSeconds: '0', lossAttempts: '3' }, { delayMs: 0, lossMs: 0 }],
    ['the longest', { delay: '86400', lossSeconds: '31536000' }, { delayMs: 86_400_000, lossMs: 31_536_000_000 }],
  ])('%s', (_name, over, expected) => {
    const message = armRequest(cli(over));
    expect(message).toMatchObject({ op: 'arm', params, ...expected });
    expect(message).not.toHaveProperty('delay');
    expect(message).not.toHaveProperty('lossSeconds');
    if ((message.delayMs as number) > 0 || (message.lossMs as number) > 0) expect(() => parseRequest(JSON.stringify(message))).not.toThrow();
  });

  it.each([
    ['--delay', { delay: '0.05' }],
    ['--delay', { delay: '0.0001' }],
    ['--delay', { delay: '-1' }],
    ['--delay', { delay: '86400.001' }],
    ['--delay', { delay: '1e3' }],
    ['--delay', { delay: '.2' }],
    ['--delay', { delay: 'soon' }],
    ['--loss-seconds', { lossSeconds: '-2' }],
    ['--loss-seconds', { lossSeconds: '-1.5' }],
    ['--loss-seconds', { lossSeconds: '31536000.001' }],
    ['--loss-attempts', { lossAttempts: '1.5' }],
    ['--loss-attempts', { lossAttempts: '-1' }],
    ['--param', { param: ['transport'] }],
    ['--param', { param: ['=tcp'] }],
  ])('%s rejects %j before asking timerd', (option, over) => {
    expect(() => armRequest(cli(over))).toThrow(UsageError);
    expect(() => armRequest(cli(over))).toThrow(new RegExp(`^${option}: `));
  });
});
