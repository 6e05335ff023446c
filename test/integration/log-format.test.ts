/**
 * --log-format end to end, through the real built CLI: `journal` lines carry the
 * sd-daemon priority prefix, `auto` picks journal exactly when stderr is the
 * stream $JOURNAL_STREAM names (systemd.exec(5); here a file whose dev:ino the
 * test sets), and timerd in the journal re-emits its hooks' records at their own
 * priority instead of nesting their JSON.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectExit, REPO, Sandbox, SUBSYS1, SUBSYS2, waitFor } from './harness.js';

const TARGET = ['-t', 'tcp', '-a', '127.0.0.1', '-s', '4420'];
const KEY = 'nvmf-disc:tcp:127.0.0.1:4420:none:none';
/** A journal line: a priority we use, then text (never a JSON record). */
const JOURNAL_LINE = /^<[3467]>[^<{]/;

const lines = (text: string) => text.split('\n').filter((l) => l !== '');
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `dev:ino` of a file, as systemd formats $JOURNAL_STREAM. */
function streamId(file: string): string {
  const st = statSync(file, { bigint: true });
  return `${st.dev}:${st.ino}`;
}

function expectJournal(stderr: string): string[] {
  const all = lines(stderr);
  expect(all.length, stderr).toBeGreaterThan(0);
  for (const line of all) expect(line, stderr).toMatch(JOURNAL_LINE);
  return all;
}

function expectJson(stderr: string): Record<string, unknown>[] {
  const all = lines(stderr);
  expect(all.length, stderr).toBeGreaterThan(0);
  return all.map((line) => {
    expect(line, stderr).toMatch(/^\{"level":\d+,/);
    return JSON.parse(line) as Record<string, unknown>;
  });
}

let box: Sandbox;
beforeEach(() => {
  box = new Sandbox();
});
afterEach(async () => {
  await box.cleanup();
});

describe('--log-format journal', () => {
  it('one <6> line per record: hook and key, the message, key=value fields; no JSON, no time or pid', async () => {
    const result = await box.run(['--log-format', 'journal', 'connect', ...TARGET]);
    expectExit(result, 0);
    const all = expectJournal(result.stderr);
    for (const [nqn, device] of [[SUBSYS1, 'nvme0'], [SUBSYS2, 'nvme1']]) {
      expect(all, result.stderr).toContainEqual(
        expect.stringMatching(new RegExp(`^<6>connect ${escape(KEY)}: connected trigger=manual subnqn=${escape(nqn!)} traddr=127\\.0\\.0\\.1 trsvcid=4420 outcome=connected device=${device} duration_ms=\\d+$`)),
      );
    }
    expect(all).toContainEqual(`<6>connect ${KEY}: discovery-entry: the entry of the discovery controller that returned this log trigger=manual subnqn=nqn.2014-08.org.nvmexpress.discovery traddr=127.0.0.1 trsvcid=4420 reason=discovery-entry outcome=skipped`);
    expect(result.stderr).not.toMatch(/\b(time|pid|level|msg)=/);
    // the report on stdout is untouched
    expect(result.stdout).toMatch(/^connected\s+/m);
  });

  it('a failed connect is <3>, and so is the one-line error of the failed command', async () => {
    box.writeStateFile('fail-connect', `${SUBSYS1}\n`);
    const result = await box.run(['--log-format', 'journal', 'connect', ...TARGET]);
    expectExit(result, 1);
    const all = expectJournal(result.stderr);
    expect(all).toContainEqual(expect.stringMatching(new RegExp(`^<3>connect ${escape(KEY)}: connect failed .*subnqn=${escape(SUBSYS1)} .*outcome=failed exit_code=1 err="[^"]+" duration_ms=\\d+$`)));
    expect(all).toContainEqual(expect.stringMatching(new RegExp(`^<6>connect ${escape(KEY)}: connected .*subnqn=${escape(SUBSYS2)} `)));
    expect(all.at(-1)).toBe(`<3>sanhook: 1 action(s) failed: ${SUBSYS1}: connect failed`);
  });

  it('debug records are <7> (--log-level debug), and only then', async () => {
    const env = { ACTION: 'add', SUBSYSTEM: 'block', DEVNAME: '/dev/sda' };
    const debug = await box.run(['--log-level', 'debug', '--log-format', 'journal', 'connect', '--uevent'], { env });
    expectExit(debug, 0);
    expect(debug.stderr).toBe('<7>connect: event ignored outcome=irrelevant why="subsystem block"\n');
    const info = await box.run(['--log-format', 'journal', 'connect', '--uevent'], { env });
    expectExit(info, 0);
    expect(info.stderr).toBe('');
  });
});

describe('--log-format text and bad values', () => {
  it('text: the level word instead of the priority', async () => {
    box.writeStateFile('fail-connect', `${SUBSYS2}\n`);
    const result = await box.run(['--log-format', 'text', 'connect', ...TARGET]);
    expectExit(result, 1);
    const all = lines(result.stderr);
    expect(all).toContainEqual(expect.stringMatching(new RegExp(`^info: connect ${escape(KEY)}: connected .*subnqn=${escape(SUBSYS1)} `)));
    expect(all).toContainEqual(expect.stringMatching(new RegExp(`^error: connect ${escape(KEY)}: connect failed .*subnqn=${escape(SUBSYS2)} `)));
    for (const line of all.slice(0, -1)) expect(line).toMatch(/^(debug|info|warn|error): /);
    expect(all.at(-1)).toBe(`sanhook: 1 action(s) failed: ${SUBSYS2}: connect failed`);
  });

  it.each([['loud'], ['JSON'], [''], ['$(reboot)']])('--log-format %j: exit 2, one line naming the option and the value, nothing run', async (value) => {
    const result = await box.run(['--log-format', value, 'connect', ...TARGET]);
    expectExit(result, 2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`sanhook: --log-format: must be one of auto, json, journal, text, got ${JSON.stringify(value)}\n`);
    expect(box.calls()).toEqual([]);
  });
});

describe('--log-format auto (the default): journal exactly when stderr is $JOURNAL_STREAM', () => {
  it('stderr is the named stream: journal, and the error line gets <3>', async () => {
    const file = path.join(box.dir, 'journal-stream');
    closeSync(openSync(file, 'w'));
    const result = await box.run(['connect', ...TARGET], { env: { JOURNAL_STREAM: streamId(file) }, stderrFile: file });
    expectExit(result, 0);
    expect(expectJournal(result.stderr)).toContainEqual(expect.stringMatching(new RegExp(`^<6>connect ${escape(KEY)}: connected `)));

    const bad = path.join(box.dir, 'journal-stream-2');
    closeSync(openSync(bad, 'w'));
    const refused = await box.run(['connect', '--device', 'x y'], { env: { JOURNAL_STREAM: streamId(bad) }, stderrFile: bad });
    expectExit(refused, 2);
    expect(refused.stderr).toBe('<3>sanhook: --device: must be an NVMe controller name like nvme0, got "x y"\n');
  });

  const jsonCases: [string, (file: string, other: string) => { env: Record<string, string>; args?: string[]; pipe?: boolean }][] = [
    ['no JOURNAL_STREAM', () => ({ env: {} })],
    ['JOURNAL_STREAM names another file', (_file, other) => ({ env: { JOURNAL_STREAM: streamId(other) } })],
    ['JOURNAL_STREAM with the right device and another inode', (file) => ({ env: { JOURNAL_STREAM: streamId(file).replace(/\d+$/, (ino) => String(BigInt(ino) + 1n)) } })],
    ['JOURNAL_STREAM garbage', () => ({ env: { JOURNAL_STREAM: 'journal' } })],
    ['inherited JOURNAL_STREAM, but stderr is a pipe', (file) => ({ env: { JOURNAL_STREAM: streamId(file) }, pipe: true })],
    ['stderr is the stream, but --log-format json', (file) => ({ env: { JOURNAL_STREAM: streamId(file) }, args: ['--log-format', 'json'] })],
  ];
  it.each(jsonCases)('%s: json', async (_name, make) => {
    const file = path.join(box.dir, 'stderr');
    const other = path.join(box.dir, 'other');
    closeSync(openSync(file, 'w'));
    closeSync(openSync(other, 'w'));
    const { env, args = [], pipe = false } = make(file, other);
    const argv = [...args, 'connect', ...TARGET];
    const result = pipe ? await box.run(argv, { env }) : await box.run(argv, { env, stderrFile: file });
    expectExit(result, 0);
    const records = expectJson(result.stderr);
    expect(records.filter((r) => r.msg === 'connected').map((r) => [r.level, r.hook, r.key, r.subnqn])).toEqual([
      [30, 'connect', KEY, SUBSYS1],
      [30, 'connect', KEY, SUBSYS2],
    ]);
  });
});

describe('timerd under the journal', () => {
  it("auto picks journal; each record of a hook it runs is re-emitted at the hook's priority, not as JSON", { timeout: 180_000 }, async () => {
    box.writeConfig('nvmf:\n  lost:\n    reconnect-delay: 1\n    ctrl-loss-tmo: 3\n    reconnect-unmanaged: true\n');
    box.failConnects([SUBSYS1]);
    const file = path.join(box.dir, 'timerd.journal');
    closeSync(openSync(file, 'w'));
    // As systemd starts sanhook-timerd.service: stderr is the journal stream, and says so.
    const timerd = box.startTimerd({ env: { JOURNAL_STREAM: streamId(file) }, stderrFile: file });
    const log = () => timerd.stderr;
    try {
      await waitFor('timerd to listen', () => lines(log()).some((l) => /^<6>listening socket=/.test(l)));
      const lost = await box.run(['lost', '-t', 'tcp', '-a', '127.0.0.1', '-s', '4420', '-n', SUBSYS1]);
      expect(lost.exitCode, lost.stderr).toBe(0);
      await waitFor('the loss', () => log().includes(`: timer lost id=`), { timeoutMs: 90_000 });
    } finally {
      timerd.proc.kill('SIGTERM');
    }
    expect((await timerd.done).exitCode).toBe(0);

    const key = `nvmf:tcp:127.0.0.1:4420:${SUBSYS1}:none:none`;
    const k = escape(key);
    const all = expectJournal(log());
    expect(log()).not.toContain('{"level"');
    // timerd's own records
    expect(all).toContainEqual(expect.stringMatching(new RegExp(`^<6>reconnect ${k}: armed id=1 `)));
    expect(all).toContainEqual(expect.stringMatching(new RegExp(`^<6>reconnect ${k}: event fired id=1 event=reconnect attempt=1 `)));
    // the reconnect hook's warn record, forwarded with its fields (it wrote JSON: one head, not two)
    const failed = new RegExp(`^<4>reconnect ${k}: connect failed (.* )?outcome=failed exit_code=1 err="[^"]+" duration_ms=\\d+`);
    expect(all).toContainEqual(expect.stringMatching(failed));
    // the one-line error of the failed hook, at error priority
    expect(all).toContainEqual(expect.stringMatching(new RegExp(`^<3>reconnect ${k}: sanhook: ${k}: nvme connect failed: `)));
    // "hook finished" no longer nests the hook's stderr; its stdout (the report) stays, on one line
    const finished = all.filter((l) => l.startsWith(`<6>reconnect ${key}: hook finished `));
    expect(finished.length).toBeGreaterThanOrEqual(1);
    for (const line of finished) {
      expect(line).toMatch(/ id=1 exit_code=1 duration_ms=\d+ stdout="[^\n]*"$/);
      expect(line).not.toContain(' stderr=');
    }
    // each attempt's forwarded records come before its "hook finished"
    const firstFailed = all.findIndex((l) => failed.test(l));
    const firstFinished = all.indexOf(finished[0]!);
    expect(firstFailed).toBeLessThan(firstFinished);
    // the loss hook's record, forwarded at its warn priority, then the timer is gone
    expect(all).toContainEqual(expect.stringMatching(new RegExp(`^<4>give-up ${k}: gave up reconnecting \\(ctrl-loss reached\\); a discovery event or sanhook connect can still bring it back trigger=timer outcome=given-up$`)));
    expect(all).toContainEqual(expect.stringMatching(new RegExp(`^<6>give-up ${k}: hook finished id=1 exit_code=0 `)));
    expect(all).toContainEqual(`<6>${key}: timer lost id=1 outcome=lost`);
  });
});

describe('writes are never dropped on a full non-blocking pipe', () => {
  it('a 1 MiB record reaches a reader that starts late, whole (EAGAIN is waited out)', async () => {
    // dist/core/log.js is tsc's output of src/core/log.ts (the build the integration tests run).
    // The writer says "pipe full" on stderr the first time a write meets EAGAIN: the reader
    // starts only then, so the writer had to wait it out.
    const script = [
      "import fs from 'node:fs'; import { syncBuiltinESMExports } from 'node:module';",
      'const write = fs.writeSync; let told = false;',
      "fs.writeSync = (...a) => { try { return write(...a); } catch (e) { if (e.code === 'EAGAIN' && !told) { told = true; write(2, 'pipe full\\n'); } throw e; } };",
      'syncBuiltinESMExports(); process.stdout;',
      `const { writeAll } = await import(${JSON.stringify(path.join(REPO, 'dist', 'core', 'log.js'))});`,
      "writeAll(1, 'x'.repeat(1 << 20) + '\\n'); process.stderr.write('done\\n');",
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pause();
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    await waitFor('the writer to meet a full pipe', () => err.includes('pipe full\n') || child.exitCode !== null);
    let received = 0;
    let last = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      received += chunk.length;
      last = chunk.toString('latin1').slice(-1);
    });
    child.stdout!.resume();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, err).toBe(0);
    expect(err).toBe('pipe full\ndone\n');
    expect(received).toBe((1 << 20) + 1);
    expect(last).toBe('\n');
  });
});
