/**
 * The journal/text log formats (src/log-format.ts) and the line logger, the
 * journal-stream detection and the record forwarding of src/log.ts.
 */
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatLine, parseForwardedLine, renderValue, type LineFormat, type RecordLevel } from '../../src/core/log-format.js';
import { createLineLogger, errorLinePrefix, forwardRecords, isJournalStream, MAX_FORWARDED_LINES, resolveLogFormat, type LogLevel } from '../../src/core/log.js';

const KEY = 'nvmf-disc:tcp:127.0.0.1:4420:none:none';

describe('formatLine: one record, one line', () => {
  const cases: [string, LineFormat, RecordLevel, Record<string, unknown>, string, string][] = [
    ['info is <6>, hook and key lead', 'journal', 'info', { hook: 'connect', key: KEY, subnqn: 'nqn.x', device: 'nvme3', duration_ms: 312 }, 'connected',
      `<6>connect ${KEY}: connected subnqn=nqn.x device=nvme3 duration_ms=312\n`],
    ['debug is <7>', 'journal', 'debug', { hook: 'connect', outcome: 'irrelevant' }, 'event ignored', '<7>connect: event ignored outcome=irrelevant\n'],
    ['warn is <4>', 'journal', 'warn', { key: KEY }, 'could not re-enable discovery AENs', `<4>${KEY}: could not re-enable discovery AENs\n`],
    ['error is <3>', 'journal', 'error', {}, 'socket server error', '<3>socket server error\n'],
    ['text: the level word instead of <N>', 'text', 'warn', { hook: 'give-up', key: 'k' }, 'giving up', 'warn: give-up k: giving up\n'],
    ['text: error', 'text', 'error', { err: 'boom' }, 'request failed', 'error: request failed err=boom\n'],
    ['hook and key first even when given last', 'journal', 'info', { outcome: 'armed', id: 3, key: 'k1', hook: 'reconnect' }, 'armed', '<6>reconnect k1: armed outcome=armed id=3\n'],
    ['other fields keep their order', 'journal', 'info', { z: 1, a: 2, m: 3 }, 'm', '<6>m z=1 a=2 m=3\n'],
    ['undefined fields are left out, null is written', 'journal', 'info', { a: undefined, b: null, c: 0, d: false }, 'm', '<6>m b=null c=0 d=false\n'],
    ['null or empty hook/key are left out of the head', 'journal', 'info', { hook: null, key: '' }, 'm', '<6>m\n'],
    ['value with a space is quoted', 'journal', 'info', { detail: 'nvme0 (live)' }, 'm', '<6>m detail="nvme0 (live)"\n'],
    ['value with a quote is quoted and escaped', 'journal', 'info', { v: 'say "hi"' }, 'm', '<6>m v="say \\"hi\\""\n'],
    ['a quote alone is enough to quote', 'journal', 'info', { v: 'a"b' }, 'm', '<6>m v="a\\"b"\n'],
    ['a backslash is quoted and escaped', 'journal', 'info', { v: 'a\\b' }, 'm', '<6>m v="a\\\\b"\n'],
    ['the empty string is ""', 'journal', 'info', { v: '' }, 'm', '<6>m v=""\n'],
    ['= and : and / stay bare', 'journal', 'info', { v: 'a=b:c/d' }, 'm', '<6>m v=a=b:c/d\n'],
    ['multi-line value stays on one line', 'journal', 'info', { stdout: 'line one\nline two\r\n\ttab' }, 'hook finished', '<6>hook finished stdout="line one\\nline two\\r\\n\\ttab"\n'],
    ['control characters are escaped', 'journal', 'info', { v: 'a\u0000b\u001b[31mc\u007fd\u009be' }, 'm', '<6>m v="a\\u0000b\\u001b[31mc\\u007fd\\u009be"\n'],
    ['unicode line separators are escaped', 'journal', 'info', { v: 'a\u2028b\u2029c' }, 'm', '<6>m v="a\\u2028b\\u2029c"\n'],
    ['non-ASCII text stays bare', 'journal', 'info', { v: 'grüße' }, 'm', '<6>m v=grüße\n'],
    ['multi-line message stays on one line', 'journal', 'error', { hook: 'x' }, 'first\nsecond', '<3>x: first\\nsecond\n'],
    ['a message with <N> inside is not a second prefix', 'journal', 'info', {}, '<3>not a priority', '<6><3>not a priority\n'],
    ['an Error is its message', 'journal', 'error', { err: new Error('connect refused') }, 'failed', '<3>failed err="connect refused"\n'],
    ['an Error without a message is its name', 'journal', 'error', { err: new TypeError('') }, 'failed', '<3>failed err=TypeError\n'],
    ['a multi-line Error message stays on one line', 'journal', 'error', { err: new Error('a\nb') }, 'failed', '<3>failed err="a\\nb"\n'],
    ["pino's serialised error is its message", 'journal', 'error', { err: { type: 'Error', message: 'nope', stack: 'Error: nope\n    at x' } }, 'failed', '<3>failed err=nope\n'],
    ['arrays are compact JSON, bare without whitespace', 'journal', 'warn', { argv: ['udevadm', 'control', '--reload'] }, 'reload failed', '<4>reload failed argv=["udevadm","control","--reload"]\n'],
    ['JSON with whitespace is quoted', 'journal', 'info', { next: { event: 'reconnect', at: 'a b' } }, 'm', '<6>m next="{\\"event\\":\\"reconnect\\",\\"at\\":\\"a b\\"}"\n'],
    ['bigint and Date', 'journal', 'info', { n: 12345678901234567890n, at: new Date(0) }, 'm', '<6>m n=12345678901234567890 at=1970-01-01T00:00:00.000Z\n'],
    ['field names are sanitised', 'journal', 'info', { 'a b=c': 1, '': 2 }, 'm', '<6>m a_b_c=1 _=2\n'],
    ['a hook or key with a space is quoted in the head', 'journal', 'info', { hook: 'a b', key: 'k' }, 'm', '<6>"a b" k: m\n'],
    ['empty message: head alone', 'journal', 'info', { hook: 'h', key: 'k', x: 1 }, '', '<6>h k x=1\n'],
    ['empty message and no head: fields alone', 'journal', 'info', { x: 1 }, '', '<6>x=1\n'],
  ];

  it.each(cases)('%s', (_name, format, level, fields, message, expected) => {
    const line = formatLine(format, level, fields, message);
    expect(line).toBe(expected);
    // exactly one line, whatever the input
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(line).not.toMatch(/[\r\u2028\u2029\u0000]/);
  });
});

describe('renderValue', () => {
  it('a cyclic object does not throw', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(renderValue(cyclic)).toBe('[unserialisable]');
  });
  it('an invalid Date', () => {
    expect(renderValue(new Date(Number.NaN))).toBe('invalid-date');
  });
});

describe('parseForwardedLine: a hook stderr line back into a record', () => {
  const pino = (level: number, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ level, time: '2026-01-01T00:00:00.000Z', pid: 42, name: 'sanhook', hook: 'reconnect', key: 'k', ...extra, msg: 'reconnect attempt failed' });
  const cases: [string, string, ReturnType<typeof parseForwardedLine>][] = [
    ['pino debug', pino(20), { level: 'debug', fields: { hook: 'reconnect', key: 'k' }, message: 'reconnect attempt failed' }],
    ['pino info', pino(30, { outcome: 'x' }), { level: 'info', fields: { hook: 'reconnect', key: 'k', outcome: 'x' }, message: 'reconnect attempt failed' }],
    ['pino warn', pino(40), { level: 'warn', fields: { hook: 'reconnect', key: 'k' }, message: 'reconnect attempt failed' }],
    ['pino error', pino(50), { level: 'error', fields: { hook: 'reconnect', key: 'k' }, message: 'reconnect attempt failed' }],
    ['pino fatal', pino(60), { level: 'error', fields: { hook: 'reconnect', key: 'k' }, message: 'reconnect attempt failed' }],
    ['pino trace', pino(10), { level: 'debug', fields: { hook: 'reconnect', key: 'k' }, message: 'reconnect attempt failed' }],
    ['pino with CRLF', `${pino(30)}\r`, { level: 'info', fields: { hook: 'reconnect', key: 'k' }, message: 'reconnect attempt failed' }],
    ['<3>', '<3>sanhook: failed', { level: 'error', fields: {}, message: 'sanhook: failed' }],
    ['<0>', '<0>panic', { level: 'error', fields: {}, message: 'panic' }],
    ['<4>', '<4>careful', { level: 'warn', fields: {}, message: 'careful' }],
    ['<5>', '<5>notice', { level: 'info', fields: {}, message: 'notice' }],
    ['<6>', '<6>fine', { level: 'info', fields: {}, message: 'fine' }],
    ['<7>', '<7>detail', { level: 'debug', fields: {}, message: 'detail' }],
    ['<8> is no priority', '<8>x', undefined],
    ['plain error line', 'sanhook: nvmf:x: nvme connect failed', undefined],
    ['node warning', '(node:1) Warning: something', undefined],
    ['broken JSON', '{"level":30,"msg":', undefined],
    ['JSON without a level', '{"msg":"x"}', undefined],
    ['a JSON array', '[1,2]', undefined],
  ];
  it.each(cases)('%s', (_name, line, expected) => {
    expect(parseForwardedLine(line)).toEqual(expected);
  });
});

/** A line logger whose lines are collected. */
function capture(level: LogLevel, format: LineFormat = 'journal') {
  const lines: string[] = [];
  return { lines, log: createLineLogger(level, format, (line) => lines.push(line)) };
}

describe('createLineLogger', () => {
  const all = (log: ReturnType<typeof createLineLogger>) => {
    log.debug({}, 'd');
    log.info({}, 'i');
    log.warn({}, 'w');
    log.error({}, 'e');
  };
  const cases: [LogLevel, string[]][] = [
    ['debug', ['<7>d\n', '<6>i\n', '<4>w\n', '<3>e\n']],
    ['info', ['<6>i\n', '<4>w\n', '<3>e\n']],
    ['warn', ['<4>w\n', '<3>e\n']],
    ['error', ['<3>e\n']],
    ['silent', []],
  ];
  it.each(cases)('--log-level %s', (level, expected) => {
    const { lines, log } = capture(level);
    all(log);
    expect(lines).toEqual(expected);
  });
  it('says its format, one write per record', () => {
    const { lines, log } = capture('info', 'text');
    expect(log.format).toBe('text');
    log.info({ hook: 'h', stdout: 'a\nb' }, 'x');
    expect(lines).toEqual(['info: h: x stdout="a\\nb"\n']);
  });
});

describe('forwardRecords: a hook stderr re-emitted at each record level', () => {
  const key = 'nvmf:tcp:127.0.0.1:4420:nqn.x:none:none';
  const hookStderr = [
    JSON.stringify({ level: 40, time: 't', pid: 9, name: 'sanhook', hook: 'reconnect', key, outcome: 'failed', exit_code: 1, err: 'Connection refused', msg: 'reconnect attempt failed' }),
    '',
    JSON.stringify({ level: 20, time: 't', pid: 9, name: 'sanhook', key, msg: 'event arrived after last check; going round again' }),
    '<4>a prefixed line',
    `sanhook: ${key}: nvme connect failed: Connection refused`,
    '   ',
  ].join('\n');

  it('JSON records keep level, message and fields; others at the given level; blank lines dropped', () => {
    const { lines, log } = capture('debug');
    forwardRecords(log, hookStderr, { hook: 'reconnect', key }, 'error');
    expect(lines).toEqual([
      `<4>reconnect ${key}: reconnect attempt failed outcome=failed exit_code=1 err="Connection refused"\n`,
      `<7>reconnect ${key}: event arrived after last check; going round again\n`,
      `<4>reconnect ${key}: a prefixed line\n`,
      `<3>reconnect ${key}: sanhook: ${key}: nvme connect failed: Connection refused\n`,
    ]);
  });

  it('the level of other lines is the caller’s; the logger level still filters', () => {
    const { lines, log } = capture('info');
    forwardRecords(log, hookStderr, { hook: 'reconnect', key }, 'warn');
    expect(lines.map((l) => l.slice(0, 3))).toEqual(['<4>', '<4>', '<4>']);
    expect(lines[2]).toContain('sanhook: ');
  });

  it("a record's own hook and key win over the context", () => {
    const { lines, log } = capture('info');
    forwardRecords(log, JSON.stringify({ level: 30, hook: 'connect', key: 'other', msg: 'm' }), { hook: 'reconnect', key }, 'warn');
    expect(lines).toEqual(['<6>connect other: m\n']);
  });

  it(`keeps the last ${MAX_FORWARDED_LINES} lines of a runaway hook and says how many it dropped`, () => {
    const { lines, log } = capture('info');
    const text = Array.from({ length: MAX_FORWARDED_LINES + 50 }, (_, i) => `line ${i}`).join('\n');
    forwardRecords(log, text, { hook: 'reconnect', key: 'k' }, 'warn');
    expect(lines).toHaveLength(MAX_FORWARDED_LINES + 1);
    expect(lines[0]).toBe('<4>reconnect k: hook wrote more lines than are forwarded; the first ones were dropped dropped_lines=50\n');
    expect(lines[1]).toBe('<4>reconnect k: line 50\n');
    expect(lines.at(-1)).toBe(`<4>reconnect k: line ${MAX_FORWARDED_LINES + 49}\n`);
  });
});

describe('JOURNAL_STREAM: the journal is detected by the fd, not by the variable alone', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sanhook-log-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const open = (name: string) => openSync(path.join(dir, name), 'w');

  it('matches only the fd whose dev:ino it names', () => {
    const fd = open('stream');
    const other = open('other');
    try {
      const st = fstatSync(fd, { bigint: true });
      const env = { JOURNAL_STREAM: `${st.dev}:${st.ino}` };
      expect(isJournalStream(env, fd)).toBe(true);
      expect(isJournalStream(env, other)).toBe(false);
      expect(isJournalStream({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1n}` }, fd)).toBe(false);
      expect(isJournalStream({ JOURNAL_STREAM: `${st.dev + 1n}:${st.ino}` }, fd)).toBe(false);
      for (const bad of ['', `${st.dev}`, `${st.dev}:${st.ino}:1`, ` ${st.dev}:${st.ino}`, `${st.dev}:${st.ino}x`, `0x${st.dev.toString(16)}:${st.ino}`]) {
        expect(isJournalStream({ JOURNAL_STREAM: bad }, fd), bad).toBe(false);
      }
      expect(isJournalStream({}, fd)).toBe(false);
      expect(resolveLogFormat('auto', env, fd)).toBe('journal');
      expect(resolveLogFormat('auto', env, other)).toBe('json');
      expect(resolveLogFormat('auto', {}, fd)).toBe('json');
      expect(resolveLogFormat('json', env, fd)).toBe('json');
      expect(resolveLogFormat('text', env, fd)).toBe('text');
      expect(resolveLogFormat('journal', {}, other)).toBe('journal');
    } finally {
      closeSync(fd);
      closeSync(other);
    }
  });

  it('the error line of a failed command gets <3> exactly when its logs go to the journal (read from argv: it may fail before validation)', () => {
    const fd = open('err');
    const other = open('err-other');
    try {
      const st = fstatSync(fd, { bigint: true });
      const journal = { JOURNAL_STREAM: `${st.dev}:${st.ino}` };
      const cases: [readonly string[], Record<string, string>, number, string][] = [
        [['--log-format', 'journal', 'lost', '--uevent'], {}, other, '<3>'],
        [['--log-format=journal', 'lost'], {}, other, '<3>'],
        [['--log-format', 'json', 'lost'], journal, fd, ''],
        [['--log-format=text', 'lost'], journal, fd, ''],
        [['lost', '--uevent'], journal, fd, '<3>'],
        [['lost', '--uevent'], journal, other, ''],
        [['lost', '--uevent'], {}, fd, ''],
        [['--log-format', 'loud', 'lost'], journal, fd, '<3>'],
        [['--log-format'], {}, fd, ''],
      ];
      for (const [argv, env, target, prefix] of cases) expect(errorLinePrefix(argv, env, target), argv.join(' ')).toBe(prefix);
    } finally {
      closeSync(fd);
      closeSync(other);
    }
  });

  it('a closed fd is not the journal', () => {
    const fd = open('closed');
    const st = fstatSync(fd, { bigint: true });
    closeSync(fd);
    expect(isJournalStream({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd)).toBe(false);
  });
});
