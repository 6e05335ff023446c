/**
 * The two real Exec implementations (execa for hooks, node spawn for timerd)
 * keep one contract: argv arrays, results for non-zero exits and signals,
 * typed errors for a missing program and a timeout, and a PATH when udevd
 * gave the process none.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ActionError, EnvironmentError } from '../../src/core/errors.js';
import { DEFAULT_PATH, realExec, spawnExec, type Exec } from '../../src/core/system.js';

const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

describe.each([
  ['realExec (execa)', realExec],
  ['spawnExec (timerd)', spawnExec],
] as [string, Exec][])('%s', (_name, exec) => {
  it('passes argv words verbatim (no shell) and returns stdout, stderr and the exit code', async () => {
    const result = await exec('sh', ['-c', 'printf "%s|" "$@"; echo err >&2; exit 3', 'sh', 'a b', '$(id)', ';rm -rf /']);
    expect(result).toEqual({ argv: ['sh', '-c', 'printf "%s|" "$@"; echo err >&2; exit 3', 'sh', 'a b', '$(id)', ';rm -rf /'], exitCode: 3, stdout: 'a b|$(id)|;rm -rf /|', stderr: 'err\n' });
  });

  it('death by a signal is a result: 128 + signo', async () => {
    const result = await exec('sh', ['-c', 'kill -TERM $$']);
    expect(result.exitCode).toBe(143);
  });

  it('adds the caller\'s variables to this environment', async () => {
    const result = await exec('sh', ['-c', 'echo "$SANHOOK_TIMER_ID:${HOME:+home}"'], { env: { SANHOOK_TIMER_ID: '42' } });
    expect(result.stdout).toBe(`42:${process.env.HOME ? 'home' : ''}\n`);
  });

  it('a program that is not installed is an EnvironmentError naming it', async () => {
    await expect(exec('sanhook-no-such-program', [])).rejects.toThrow(EnvironmentError);
    await expect(exec('sanhook-no-such-program', [])).rejects.toThrow(/sanhook-no-such-program: not found on PATH/);
  });

  it('a timeout kills the program and is an ActionError', async () => {
    const started = Date.now();
    await expect(exec('sleep', ['30'], { timeoutMs: 200 })).rejects.toThrow(ActionError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('with no PATH at all (udevd RUN), children get systemd\'s default PATH, so /usr/sbin/nvme is found', async () => {
    delete process.env.PATH;
    const result = await exec('/usr/bin/env', []);
    expect(result.stdout.split('\n')).toContain(`PATH=${DEFAULT_PATH}`);
  });

  it('an existing PATH is left as it is', async () => {
    process.env.PATH = '/usr/bin:/bin';
    const result = await exec('/usr/bin/env', []);
    expect(result.stdout.split('\n')).toContain('PATH=/usr/bin:/bin');
  });
});
