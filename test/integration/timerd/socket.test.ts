/**
 * timerd's socket: permissions (0600 socket in a 0700 dir, a non-root client gets
 * EACCES), stale sockets and single instance (a dead daemon's socket is replaced, a
 * second timerd refuses to start with exit 3 and one clear line, also when several
 * start at the same moment), and systemd socket activation (LISTEN_FDS/LISTEN_PID,
 * fd 3).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { armMessage, BIN, ioParams, TIMER_HOOK, keyOf, messageLines, request, TimerdBox, waitFor, type TimerdProcess } from './harness.js';

let box: TimerdBox | undefined;
afterEach(() => {
  box?.cleanup();
  box = undefined;
});

/** Runs a one-request client as uid/gid 65534 (nobody); returns what happened. */
function connectAsNobody(socketPath: string): Promise<{ result: 'reply' | 'error'; code?: string; reply?: Record<string, unknown> }> {
  const code = `
    const net = require('node:net');
    const s = net.createConnection(process.argv[1]);
    s.on('connect', () => s.write('{"op":"ping"}\\n'));
    s.on('data', (d) => { console.log(JSON.stringify({ result: 'reply', reply: JSON.parse(String(d)) })); s.destroy(); });
    s.on('error', (e) => console.log(JSON.stringify({ result: 'error', code: e.code })));
    setTimeout(() => { console.log(JSON.stringify({ result: 'error', code: 'TIMEOUT' })); process.exit(0); }, 10000).unref();`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', code, socketPath], { uid: 65534, gid: 65534, cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n')[0]!) as { result: 'reply' | 'error'; code?: string });
      } catch {
        reject(new Error(`nobody client printed ${JSON.stringify(out)}; stderr ${err}`));
      }
    });
  });
}

/** Waits until a starting timerd either serves or exits. */
async function settle(t: TimerdProcess): Promise<'listening' | 'exited'> {
  return waitFor(`timerd ${t.pid} to listen or exit`, () => (t.exit ? 'exited' : t.log().some((r) => r.msg === 'listening') ? 'listening' : undefined), 60_000);
}

const isRoot = process.getuid?.() === 0;

/** The real python3 interpreter (not a pyenv shim, which may fork: the pid must stay the same across exec). */
function realPython(): string | undefined {
  try {
    return execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
const PYTHON = realPython();

describe('timerd socket', () => {
  it.runIf(isRoot)('is 0600 in a 0700 dir; a non-root client cannot connect (EACCES)', { timeout: 120_000 }, async () => {
    box = new TimerdBox();
    const b = box;
    const timerd = b.startTimerd();
    await timerd.listening();
    expect(statSync(b.runDir).mode & 0o777).toBe(0o700);
    expect(statSync(b.runDir).uid).toBe(0);
    const socket = statSync(b.socketPath);
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
    expect(socket.uid).toBe(0);
    // Open everything above the run dir, so only the run dir and the socket decide.
    for (const dir of [b.dir, b.root, path.dirname(b.runDir)]) chmodSync(dir, 0o755);

    expect(await connectAsNobody(b.socketPath)).toEqual({ result: 'error', code: 'EACCES' });
    // Even with the run dir opened up, the socket's own 0600 refuses nobody.
    chmodSync(b.runDir, 0o711);
    expect(await connectAsNobody(b.socketPath)).toEqual({ result: 'error', code: 'EACCES' });
    // Control: the same client does get through when the socket is opened up too.
    chmodSync(b.socketPath, 0o666);
    const control = await connectAsNobody(b.socketPath);
    expect(control).toMatchObject({ result: 'reply', reply: { ok: true, op: 'ping', pid: timerd.pid } });
    chmodSync(b.socketPath, 0o600);
    chmodSync(b.runDir, 0o700);
    expect(await request(b.socketPath, { op: 'ping' })).toMatchObject({ ok: true, pid: timerd.pid });
    expect(await timerd.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it("replaces a SIGKILLed daemon's stale socket; a second timerd refuses (exit 3, one line) and the first keeps serving", { timeout: 120_000 }, async () => {
    box = new TimerdBox();
    const b = box;
    const first = b.startTimerd();
    await first.listening();
    expect(await request(b.socketPath, armMessage(ioParams('10.30.0.1')))).toMatchObject({ ok: true, id: 1 });
    first.kill('SIGKILL');
    await first.exited;
    expect(statSync(b.socketPath).isSocket()).toBe(true);
    await expect(request(b.socketPath, { op: 'ping' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    const second = b.startTimerd();
    await second.listening();
    expect(statSync(b.socketPath).mode & 0o777).toBe(0o600);
    expect(await request(b.socketPath, { op: 'ping' })).toMatchObject({ ok: true, pid: second.pid, entries: 1 });
    const liveIno = statSync(b.socketPath).ino;

    const third = b.startTimerd();
    const exit = await third.exited;
    expect(exit).toEqual({ code: 3, signal: null });
    const lines = messageLines(third.stderr);
    expect(lines).toEqual([`sanhook: another timerd is running on ${b.socketPath} (pid ${second.pid}); not starting a second one`]);
    expect(third.logs('timer table loaded')).toEqual([]);
    // The first keeps serving, on the same socket file.
    expect(statSync(b.socketPath).ino).toBe(liveIno);
    expect(await request(b.socketPath, { op: 'ping' })).toMatchObject({ ok: true, pid: second.pid, entries: 1 });
    expect(await request(b.socketPath, armMessage(ioParams('10.30.0.2')))).toMatchObject({ ok: true, id: 2 });
    const status = await b.runJson(['status']);
    expect(status.items[0]).toMatchObject({ outcome: 'timerd-running', pid: second.pid, entries: 2 });
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect([...b.table().entries.keys()].sort()).toEqual([keyOf('10.30.0.1'), keyOf('10.30.0.2')]);
  });

  it('three timerds started at the same moment (over a stale socket): exactly one serves, the others exit 3 without touching the table', { timeout: 240_000 }, async () => {
    box = new TimerdBox();
    const b = box;
    for (let round = 0; round < 3; round += 1) {
      const stale = b.startTimerd();
      await stale.listening();
      stale.kill('SIGKILL');
      await stale.exited;
      const racers = [b.startTimerd(), b.startTimerd(), b.startTimerd()];
      const outcomes = await Promise.all(racers.map((t) => settle(t)));
      const winners = racers.filter((_, i) => outcomes[i] === 'listening');
      const report = racers.map((t) => `${t.pid}: ${JSON.stringify(t.exit)} ${messageLines(t.stderr).join(' | ')}`).join('\n');
      expect(winners, report).toHaveLength(1);
      const winner = winners[0]!;
      // An acknowledged arm now must survive whatever the losers did.
      const key = keyOf(`10.31.0.${round + 1}`);
      expect(await request(b.socketPath, armMessage(ioParams(`10.31.0.${round + 1}`)))).toMatchObject({ ok: true, key });
      for (const loser of racers.filter((t) => t !== winner)) {
        expect(await loser.exited, report).toEqual({ code: 3, signal: null });
        expect(messageLines(loser.stderr), report).toEqual([expect.stringMatching(/^sanhook: another timerd is running on .*timerd\.sock \(pid \d+\); not starting a second one$/)]);
      }
      expect(await request(b.socketPath, { op: 'ping' })).toMatchObject({ ok: true, pid: winner.pid, entries: round + 1 });
      expect(b.table().entries.has(key)).toBe(true);
      winner.kill('SIGKILL');
      await winner.exited;
      expect(b.table().entries.size).toBe(round + 1);
    }
    const last = b.startTimerd();
    await last.listening();
    expect(((await request(b.socketPath, { op: 'list' })).entries as unknown[]).length).toBe(3);
    expect(await last.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it.runIf(PYTHON !== undefined)('socket activation: serves the inherited fd 3 (LISTEN_FDS=1, LISTEN_PID=own pid), keeps it out of hooks, never unlinks it', { timeout: 120_000 }, async () => {
    box = new TimerdBox();
    const b = box;
    // Like systemd: bind + listen, put the socket on fd 3, set the variables, exec (same pid).
    const python = `
import os, socket, sys
path, node, argv = sys.argv[1], sys.argv[2], sys.argv[2:]
os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
old = os.umask(0o177)
s.bind(path)
os.umask(old)
s.listen(64)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ['LISTEN_FDS'] = '1'
os.environ['LISTEN_PID'] = str(os.getpid())
os.execv(node, argv)
`;
    const timerd = b.spawnTimerd(PYTHON!, ['-c', python, b.socketPath, process.execPath, BIN, '--root', b.root, '--sysfs', b.sysfs, 'timerd', '--sanhook-bin', TIMER_HOOK], { FAKE_HOOK_EXIT: '1' });
    await timerd.listening();
    expect(timerd.logs('listening on the inherited socket')).toEqual([expect.objectContaining({ fd: 3, pid: timerd.pid })]);
    expect(timerd.logs('listening')).toEqual([]);
    const ino = statSync(b.socketPath).ino;
    const listenInode = readlinkSync(`/proc/${timerd.pid}/fd/3`);
    expect(listenInode).toMatch(/^socket:\[\d+\]$/);

    expect(await request(b.socketPath, { op: 'ping' })).toMatchObject({ ok: true, pid: timerd.pid });
    const armed = await b.runJson(['timers', 'arm', '--hook', 'reconnect', '--delay', '1', '--loss-seconds', '600', '--param', 'transport=tcp', '--param', 'traddr=10.32.0.1', '--param', 'nqn=nqn.2026-11.io.sanhook:subsys1']);
    expect(armed.result.exitCode, armed.result.stderr).toBe(0);
    const listed = await b.runJson(['timers']);
    expect(listed.items).toEqual([expect.objectContaining({ key: keyOf('10.32.0.1'), outcome: 'armed' })]);

    // A hook run by this timerd does not hold the listening socket.
    const run = await waitFor('a hook run', () => b.hookRuns()[0], 60_000);
    const inherited = Object.entries(run.fds).filter(([, target]) => target === listenInode);
    expect(inherited, `hook fds: ${JSON.stringify(run.fds)}`).toEqual([]);

    // Stop with no hook running (SIGTERM during a hook is restart.test.ts's business).
    expect(await request(b.socketPath, { op: 'disarm', key: keyOf('10.32.0.1') })).toMatchObject({ ok: true, existed: true });
    await waitFor('no hook running', async () => ((await request(b.socketPath, { op: 'ping' })).running === 0 ? true : undefined), 60_000, 50);
    expect(await timerd.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(existsSync(b.socketPath)).toBe(true);
    expect(statSync(b.socketPath).isSocket()).toBe(true);
    expect(statSync(b.socketPath).ino).toBe(ino);
    expect(timerd.logs('stopped; table is on disk')).toHaveLength(1);
  });
});
