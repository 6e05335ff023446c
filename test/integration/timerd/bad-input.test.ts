/**
 * BAD INPUT on timerd's socket, against a real daemon: every bad line gets an error
 * reply with a code (abrupt disconnects: nothing), the connection stays usable
 * (a probe ping on the same connection is the very next reply: no extra or missing
 * replies), the daemon stays alive (ping on a fresh connection), and the table is
 * unchanged (`list` before == after, checked after every case). Also: a client
 * sending garbage does not hold up another client.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { armMessage, armMessageV1, ioParams, LineClient, now, request, sleep, TimerdBox, type Reply, type TimerdProcess } from './harness.js';

const MAX_LINE = 16 * 1024;
const valid = armMessage(ioParams('10.20.0.9'));
const arm = (over: Record<string, unknown>) => JSON.stringify({ ...valid, ...over });
/** An arm in the seconds-only fields older clients send (delay, lossSeconds). */
const armV1 = (over: Record<string, unknown>) => JSON.stringify({ ...armMessageV1(ioParams('10.20.0.9')), ...over });
const armParams = (over: Record<string, unknown>) => arm({ params: { ...ioParams('10.20.0.9'), ...over } });
const line = (text: string) => `${text}\n`;

type Code = 'bad-json' | 'line-too-long' | 'unknown-op' | 'bad-field';

interface Case {
  readonly name: string;
  /** What to write; several chunks are written separately (`gapMs` apart). */
  readonly chunks: readonly (string | Buffer)[];
  readonly gapMs?: number;
  /** Expected replies in order: an error code (optionally with its field), or 'ok' / {ping: req} for an accepted ping. */
  readonly replies: readonly (Code | { code: Code; field: string } | 'ok' | { ping: string })[];
  /** Instead of probing the connection: close it ('end' = FIN, 'destroy' = abrupt) after writing. */
  readonly disconnect?: 'end' | 'destroy';
}

const bytewise = (text: string) => [...Buffer.from(text)].map((byte) => Buffer.from([byte]));
const field = (code: Code, name: string) => ({ code, field: name });
const bf = (name: string) => field('bad-field', name);

const CASES: Case[] = [
  // Not a JSON object.
  { name: 'plain text', chunks: [line('not json')], replies: ['bad-json'] },
  { name: 'truncated object', chunks: [line('{"op":"ping"')], replies: ['bad-json'] },
  { name: 'empty array', chunks: [line('[]')], replies: ['bad-json'] },
  { name: 'array of a request', chunks: [line('[{"op":"ping"}]')], replies: ['bad-json'] },
  { name: 'a string', chunks: [line('"ping"')], replies: ['bad-json'] },
  { name: 'a number', chunks: [line('42')], replies: ['bad-json'] },
  { name: 'null', chunks: [line('null')], replies: ['bad-json'] },
  { name: 'true', chunks: [line('true')], replies: ['bad-json'] },
  { name: 'trailing garbage', chunks: [line('{"op":"ping"}}')], replies: ['bad-json'] },
  { name: 'single quotes', chunks: [line("{'op':'ping'}")], replies: ['bad-json'] },
  { name: 'control bytes', chunks: [Buffer.from([0, 1, 2, 27, 0x0a])], replies: ['bad-json'] },
  { name: 'invalid UTF-8', chunks: [Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x0a])], replies: ['bad-json'] },
  { name: '6,000 nested arrays', chunks: [line(`${'['.repeat(6000)}${']'.repeat(6000)}`)], replies: ['bad-json'] },
  { name: '1,500 nested objects, no op', chunks: [line(`${'{"a":'.repeat(1500)}1${'}'.repeat(1500)}`)], replies: [field('unknown-op', 'op')] },
  // Too long.
  { name: '20 KiB line with newline', chunks: [line(JSON.stringify({ op: 'ping', req: 'x'.repeat(20 * 1024) }))], replies: ['line-too-long'] },
  { name: 'one byte over the limit', chunks: [line(`{"op":"ping"}${' '.repeat(MAX_LINE + 1 - 13)}`)], replies: ['line-too-long'] },
  { name: 'exactly the limit is fine', chunks: [line(`{"op":"ping"}${' '.repeat(MAX_LINE - 13)}`)], replies: ['ok'] },
  { name: '18,000 bytes of 2-byte characters (9,000 chars)', chunks: [line(`{"op":"ping","req":"${'é'.repeat(9000)}"}`)], replies: ['line-too-long'] },
  { name: '1 MiB without newline, then the rest of it', chunks: ['x'.repeat(1024 * 1024), 'tail of the same line\n'], gapMs: 50, replies: ['line-too-long'] },
  { name: '64 KiB without newline in 4 KiB pieces', chunks: Array.from({ length: 16 }, () => 'y'.repeat(4096)).concat(['\n']), gapMs: 2, replies: ['line-too-long'] },
  { name: '100 KiB without newline, then disconnect', chunks: ['z'.repeat(100 * 1024)], replies: ['line-too-long'], disconnect: 'end' },
  // Unknown ops.
  { name: 'empty object', chunks: [line('{}')], replies: [field('unknown-op', 'op')] },
  { name: 'op shutdown', chunks: [line('{"op":"shutdown"}')], replies: ['unknown-op'] },
  { name: 'op PING (case)', chunks: [line('{"op":"PING"}')], replies: ['unknown-op'] },
  { name: 'op is a number', chunks: [line('{"op":1}')], replies: ['unknown-op'] },
  { name: 'op is null', chunks: [line('{"op":null}')], replies: ['unknown-op'] },
  { name: 'op is an array', chunks: [line('{"op":["ping"]}')], replies: ['unknown-op'] },
  { name: 'op __proto__', chunks: [line('{"op":"__proto__"}')], replies: ['unknown-op'] },
  { name: 'op constructor', chunks: [line('{"op":"constructor"}')], replies: ['unknown-op'] },
  { name: 'op exec with a command', chunks: [line('{"op":"exec","cmd":"/bin/sh -c id"}')], replies: ['unknown-op'] },
  // Unknown fields.
  { name: 'ping with an extra field', chunks: [line('{"op":"ping","extra":1}')], replies: [bf('extra')] },
  { name: 'list with __proto__', chunks: [line('{"op":"list","__proto__":{"admin":true}}')], replies: [bf('__proto__')] },
  { name: 'arm with a command', chunks: [line(arm({ command: '/bin/sh -c id' }))], replies: [bf('command')] },
  { name: 'arm with an argv', chunks: [line(arm({ argv: ['--root', '/'] }))], replies: [bf('argv')] },
  { name: 'disarm with a hook', chunks: [line('{"op":"disarm","key":"k","hook":"rm"}')], replies: [bf('hook')] },
  { name: 'params with an unknown option', chunks: [line(armParams({ exec: 'sh' }))], replies: [bf('params.exec')] },
  { name: 'params with an option-like name', chunks: [line(armParams({ '--root': '/' }))], replies: [bf('params.--root')] },
  { name: 'params with a __proto__ name', chunks: [line(armParams({}).replace('"params":{', '"params":{"__proto__":"x",'))], replies: [bf('params.__proto__')] },
  // Wrong types and ranges.
  { name: 'delayMs as a string', chunks: [line(arm({ delayMs: '10' }))], replies: [bf('delayMs')] },
  { name: 'delayMs 1.5', chunks: [line(arm({ delayMs: 1.5 }))], replies: [bf('delayMs')] },
  { name: 'delayMs -1', chunks: [line(arm({ delayMs: -1 }))], replies: [bf('delayMs')] },
  { name: 'delayMs 99 (under the 100 ms minimum)', chunks: [line(arm({ delayMs: 99 }))], replies: [bf('delayMs')] },
  { name: 'delayMs above a day', chunks: [line(arm({ delayMs: 86_400_001 }))], replies: [bf('delayMs')] },
  { name: 'delayMs 1e400 (Infinity)', chunks: [line(arm({}).replace('"delayMs":3600000', '"delayMs":1e400'))], replies: [bf('delayMs')] },
  { name: 'no delay at all', chunks: [line(arm({ delayMs: undefined }))], replies: [bf('delayMs')] },
  { name: 'delayMs and delay both', chunks: [line(arm({ delay: 3600 }))], replies: [bf('delay')] },
  { name: 'lossMs as a string', chunks: [line(arm({ lossMs: '600000' }))], replies: [bf('lossMs')] },
  { name: 'lossMs -2', chunks: [line(arm({ lossMs: -2 }))], replies: [bf('lossMs')] },
  { name: 'lossMs above a year', chunks: [line(arm({ lossMs: 31_536_000_001 }))], replies: [bf('lossMs')] },
  { name: 'lossMs and lossSeconds both', chunks: [line(arm({ lossSeconds: 7200 }))], replies: [bf('lossSeconds')] },
  { name: 'delay (seconds) as a string', chunks: [line(armV1({ delay: '10' }))], replies: [bf('delay')] },
  { name: 'delay (seconds) 1.5: seconds stay whole', chunks: [line(armV1({ delay: 1.5 }))], replies: [bf('delay')] },
  { name: 'delay (seconds) -1', chunks: [line(armV1({ delay: -1 }))], replies: [bf('delay')] },
  { name: 'delay (seconds) above a day', chunks: [line(armV1({ delay: 86_401 }))], replies: [bf('delay')] },
  { name: 'delay (seconds) 1e400 (Infinity)', chunks: [line(armV1({}).replace('"delay":3600', '"delay":1e400'))], replies: [bf('delay')] },
  { name: 'lossSeconds as a string', chunks: [line(armV1({ lossSeconds: '600' }))], replies: [bf('lossSeconds')] },
  { name: 'lossAttempts -1', chunks: [line(arm({ lossAttempts: -1 }))], replies: [bf('lossAttempts')] },
  { name: 'growth exponential', chunks: [line(arm({ growth: 'exponential' }))], replies: [bf('growth')] },
  { name: 'growth a number', chunks: [line(arm({ growth: 1 }))], replies: [bf('growth')] },
  { name: 'delayMs 0 and never lost', chunks: [line(arm({ delayMs: 0, lossMs: 0 }))], replies: [bf('delayMs')] },
  { name: 'delay (seconds) 0 and never lost', chunks: [line(armV1({ delay: 0, lossSeconds: -1 }))], replies: [bf('delay')] },
  { name: 'params a string', chunks: [line(arm({ params: 'transport=tcp' }))], replies: [bf('params')] },
  { name: 'params an array', chunks: [line(arm({ params: ['tcp'] }))], replies: [bf('params')] },
  { name: 'params null', chunks: [line(arm({ params: null }))], replies: [bf('params')] },
  { name: 'params value a number', chunks: [line(armParams({ trsvcid: 4420 }))], replies: [bf('params.trsvcid')] },
  { name: 'params missing the nqn', chunks: [line(arm({ params: { transport: 'tcp', traddr: '10.20.0.9' } }))], replies: [bf('params.nqn')] },
  { name: 'hook missing', chunks: [line(arm({ hook: undefined }))], replies: [bf('hook')] },
  { name: 'hook a number', chunks: [line(arm({ hook: 1 }))], replies: [bf('hook')] },
  { name: 'req an object', chunks: [line('{"op":"ping","req":{}}')], replies: [bf('req')] },
  { name: 'req 65 characters', chunks: [line(JSON.stringify({ op: 'ping', req: 'r'.repeat(65) }))], replies: [bf('req')] },
  { name: 'disarm without a key', chunks: [line('{"op":"disarm"}')], replies: [bf('key')] },
  { name: 'disarm with an empty key', chunks: [line('{"op":"disarm","key":""}')], replies: [bf('key')] },
  { name: 'disarm with a numeric key', chunks: [line('{"op":"disarm","key":5}')], replies: [bf('key')] },
  { name: 'disarm with id "1"', chunks: [line('{"op":"disarm","key":"k","id":"1"}')], replies: [bf('id')] },
  { name: 'disarm with id 0', chunks: [line('{"op":"disarm","key":"k","id":0}')], replies: [bf('id')] },
  // Hooks timerd must never run.
  ...['/bin/sh', 'rm', "sh -c 'reboot'", '../../bin/sh', 'reconnect --root /', 'reconnect\n', '--help', 'connect', 'lost', 'timerd', 'give-up', 'constructor', 'toString'].map(
    (hook): Case => ({ name: `hook ${JSON.stringify(hook)}`, chunks: [line(arm({ hook }))], replies: [bf('hook')] }),
  ),
  ...['/bin/rm', 'reconnect', 'rm -rf /', '$(reboot)'].map((lossHook): Case => ({ name: `lossHook ${JSON.stringify(lossHook)}`, chunks: [line(arm({ lossHook }))], replies: [bf('lossHook')] })),
  // Shell and path tricks in the hook's options.
  ...(
    [
      ['traddr', '127.0.0.1; rm -rf /'],
      ['traddr', '$(reboot)'],
      ['traddr', '`id`'],
      ['traddr', '--root=/'],
      ['traddr', '127.0.0.1\n--root /'],
      ['traddr', '127.0.0.1\u0000'],
      ['nqn', 'nqn.2014-08.org.example:a;b'],
      ['nqn', 'nqn.2014-08.org.example:$(id)'],
      ['nqn', 'nqn.2014-08.org.example:a\nb'],
      ['nqn', '--help'],
      ['nqn', '../../../etc/passwd'],
      ['host-iface', '../../etc/passwd'],
      ['host-iface', '--x'],
      ['host-iface', '-x'],
      ['host-iface', 'eth0 --persistent'],
      ['host-iface', '..'],
      ['trsvcid', '4420;reboot'],
      ['trsvcid', '--x'],
      ['hostnqn', '$(id)'],
      ['hostid', '../x'],
      ['transport', 'tcp;sh'],
      ['reconnect-delay', '0'],
      ['ctrl-loss-tmo', '-1; id'],
    ] as const
  ).map(([name, value]): Case => ({ name: `params.${name} ${JSON.stringify(value)}`, chunks: [line(armParams({ [name]: value }))], replies: [bf(`params.${name}`)] })),
  // Framing.
  {
    name: 'many lines in one packet, in order',
    chunks: ['not json\n{}\n{"op":"nope"}\n{"op":"ping","x":1}\n' + line(arm({ hook: 'rm' })) + '{"op":"ping","req":"mid"}\n[]\n'],
    replies: ['bad-json', 'unknown-op', 'unknown-op', bf('x'), bf('hook'), { ping: 'mid' }, 'bad-json'],
  },
  {
    name: 'a too-long line between two pings: replies stay in line order',
    chunks: [`{"op":"ping","req":"before"}\n${'w'.repeat(20 * 1024)}\n{"op":"ping","req":"after"}\n`],
    replies: [{ ping: 'before' }, 'line-too-long', { ping: 'after' }],
  },
  {
    name: 'an unterminated too-long line after a ping: replies stay in line order',
    chunks: [`{"op":"ping","req":"first"}\n${'v'.repeat(40 * 1024)}`, '\n{"op":"ping","req":"next"}\n'],
    replies: [{ ping: 'first' }, 'line-too-long', { ping: 'next' }],
  },
  { name: 'a bad arm split byte by byte', chunks: bytewise(line(arm({ hook: '/bin/sh' }))), gapMs: 1, replies: [bf('hook')] },
  { name: 'a ping split byte by byte', chunks: bytewise('{"op":"ping","req":"bytes"}\n'), gapMs: 1, replies: ['ok'] },
  { name: 'a multibyte character split byte by byte', chunks: bytewise(line(armParams({ nqn: 'nqn.2014-08.org.example:caf\u00e9\u{1F600}' }))), gapMs: 1, replies: [bf('params.nqn')] },
  { name: 'CRLF line ending is accepted', chunks: ['{"op":"ping"}\r\n'], replies: ['ok'] },
  { name: 'blank lines get no reply', chunks: ['\n  \n\t\n'], replies: [] },
  // Disconnects.
  { name: 'half a line, then FIN', chunks: ['{"op":"arm","hook":"reconnect"'], replies: [], disconnect: 'end' },
  { name: 'a complete valid arm without its newline, then FIN: never applied', chunks: [arm({})], replies: [], disconnect: 'end' },
  { name: 'half a line, then an abrupt close', chunks: ['{"op":"disarm","ke'], replies: [], disconnect: 'destroy' },
  { name: 'a valid arm without newline in pieces, then an abrupt close', chunks: [arm({}).slice(0, 40), arm({}).slice(40)], gapMs: 5, replies: [], disconnect: 'destroy' },
  { name: 'a ping, closed before its reply can be read', chunks: ['{"op":"ping"}\n{"op":"list"}\n'], replies: [], disconnect: 'destroy' },
  { name: 'bad lines, closed before the replies', chunks: ['x\n'.repeat(1000)], replies: [], disconnect: 'destroy' },
];

let box: TimerdBox;
let timerd: TimerdProcess;
let baseline: Reply;

beforeAll(async () => {
  box = new TimerdBox();
  timerd = box.startTimerd();
  await timerd.listening();
  // A table to keep unchanged: two armed entries with far-away events.
  for (const traddr of ['10.20.0.1', '10.20.0.2']) expect(await request(box.socketPath, armMessage(ioParams(traddr)))).toMatchObject({ ok: true });
  baseline = await request(box.socketPath, { op: 'list' });
  expect(baseline.entries).toHaveLength(2);
}, 120_000);

afterAll(async () => {
  if (timerd && !timerd.exit) expect(await timerd.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  box?.cleanup();
}, 60_000);

/** Disarms whatever a wrongly accepted arm added (so one failure does not cascade); returns those keys. */
async function restoreBaseline(): Promise<string[]> {
  const listed = await request(box.socketPath, { op: 'list' });
  const known = new Set((baseline.entries as { key: string }[]).map((e) => e.key));
  const extra = (listed.entries as { key: string; id: number }[]).filter((e) => !known.has(e.key));
  for (const entry of extra) await request(box.socketPath, { op: 'disarm', key: entry.key, id: entry.id });
  return extra.map((e) => e.key);
}

/** `list` equals the baseline. */
async function expectBaseline(): Promise<void> {
  expect(await restoreBaseline(), 'entries added by bad input').toEqual([]);
  expect(await request(box.socketPath, { op: 'list' })).toEqual(baseline);
}

afterEach(async () => {
  if (timerd && !timerd.exit) await restoreBaseline();
});

describe('timerd rejects bad input and keeps serving', () => {
  it('has at least 50 error cases', () => {
    expect(CASES.filter((c) => c.replies.some((r) => r !== 'ok')).length).toBeGreaterThanOrEqual(50);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', { timeout: 60_000 }, async (_name, c) => {
    const client = await LineClient.connect(box.socketPath);
    try {
      for (const [i, chunk] of c.chunks.entries()) {
        await client.write(chunk);
        if (c.gapMs && i < c.chunks.length - 1) await sleep(c.gapMs);
      }
      if (c.disconnect === 'end') client.end();
      if (c.disconnect === 'destroy') client.destroy();
      for (const expected of c.replies) {
        const reply = await client.nextReply(20_000);
        if (expected === 'ok') {
          expect(reply).toMatchObject({ ok: true, op: 'ping' });
          continue;
        }
        if (typeof expected === 'object' && 'ping' in expected) {
          expect(reply).toMatchObject({ ok: true, op: 'ping', req: expected.ping });
          continue;
        }
        const { code, field: name } = typeof expected === 'string' ? { code: expected, field: undefined } : expected;
        expect(reply.ok, JSON.stringify(reply)).toBe(false);
        expect(reply.error?.code, JSON.stringify(reply)).toBe(code);
        expect(typeof reply.error?.message).toBe('string');
        expect(reply.error!.message.length).toBeLessThanOrEqual(300);
        if (name !== undefined) expect(reply.error?.field, JSON.stringify(reply)).toBe(name);
      }
      if (!c.disconnect) {
        // The very next reply on the same connection answers a probe: nothing extra, nothing missing.
        expect(await client.request({ op: 'ping', req: 'probe' }, 20_000)).toMatchObject({ ok: true, op: 'ping', req: 'probe' });
      } else if (c.disconnect === 'end') {
        // A FIN: timerd answers what it got (nothing, for a partial line) and closes too.
        expect(await client.nextLine(20_000)).toBeUndefined();
        expect(client.closed).toBe(true);
      }
    } finally {
      client.destroy();
    }
    // Alive, same process, table unchanged.
    expect(await request(box.socketPath, { op: 'ping' })).toMatchObject({ ok: true, pid: timerd.pid });
    await expectBaseline();
    expect(timerd.exit).toBeUndefined();
  });

  it('a client sending garbage does not hold up another client', { timeout: 120_000 }, async () => {
    // Client A: an endless line (never a newline) trickling in, plus a flood of bad lines
    // on a second connection whose replies are never read.
    const trickler = await LineClient.connect(box.socketPath);
    const flooder = await LineClient.connect(box.socketPath);
    let trickling = true;
    const trickle = (async () => {
      while (trickling) {
        await trickler.write('g'.repeat(2048)).catch(() => {});
        await sleep(1);
      }
    })();
    void flooder.write('not json\n'.repeat(20_000)).catch(() => {});
    // Client B meanwhile: arms, pings and disarms with prompt replies.
    const b = await LineClient.connect(box.socketPath);
    const latencies: number[] = [];
    try {
      for (let i = 0; i < 20; i += 1) {
        const t0 = now();
        const reply = await b.request(i % 2 === 0 ? { op: 'ping', req: i } : armMessage(ioParams('10.20.1.1'), { req: i }), 20_000);
        latencies.push(now() - t0);
        expect(reply).toMatchObject({ ok: true, req: i });
      }
      expect(await b.request({ op: 'disarm', key: 'nvmf:tcp:10.20.1.1:4420:nqn.2026-11.io.sanhook:subsys1:none:none' })).toMatchObject({ ok: true, existed: true });
    } finally {
      trickling = false;
      await trickle;
      b.destroy();
    }
    // The trickler got exactly one line-too-long and is still connected and usable.
    const first = JSON.parse((await trickler.nextLine(20_000))!) as Reply;
    expect(first.error?.code).toBe('line-too-long');
    await trickler.write('\n');
    expect(await trickler.request({ op: 'ping', req: 'after' }, 20_000)).toMatchObject({ ok: true, req: 'after' });
    trickler.destroy();
    flooder.destroy();
    const worst = Math.max(...latencies);
    console.info(`[timerd] concurrent client latency under garbage: median ${latencies.sort((x, y) => x - y)[10]!.toFixed(1)} ms, worst ${worst.toFixed(1)} ms`);
    expect(worst).toBeLessThan(1500);
    await expectBaseline();
  });
});
