/**
 * core/self-argv.ts: how sanhook runs itself again (timerd's hooks, the
 * connect hand-off to a transient unit), and that the program records what
 * it needs on its System.
 */
import { describe, expect, it } from 'vitest';
import type { LogFormat } from '../../src/core/log.js';
import { selfArgv } from '../../src/core/self-argv.js';
import { resolvePaths, type System } from '../../src/core/system.js';
import { tempSystem } from '../support/system.js';

const NODE = ['/usr/bin/node', '--jitless', '--no-expose-wasm', '/usr/lib/sanhook/bin/sanhook.js'];

function system(logFormat: LogFormat, platform: 'linux' | 'freebsd' = 'linux'): System {
  return { ...tempSystem(), paths: resolvePaths('/srv/root', '/srv/sys', platform), selfArgv: NODE, invocation: { logLevel: 'debug', logFormat } };
}

describe('selfArgv', () => {
  it("timerd's hooks (stderr: parent): command, platform, root, sysfs, log level; never a log format", () => {
    for (const format of ['auto', 'json', 'journal', 'text'] as const) {
      expect(selfArgv(system(format), { stderr: 'parent' })).toEqual([...NODE, '--platform', 'linux', '--root', '/srv/root', '--sysfs', '/srv/sys', '--log-level', 'debug']);
    }
  });

  it('a transient unit (stderr: own) gets the format the user chose, and never `auto` resolved here', () => {
    expect(selfArgv(system('auto'), { stderr: 'own' })).toEqual([...NODE, '--platform', 'linux', '--root', '/srv/root', '--sysfs', '/srv/sys', '--log-level', 'debug']);
    expect(selfArgv(system('journal'), { stderr: 'own' }).slice(-2)).toEqual(['--log-format', 'journal']);
    expect(selfArgv(system('text'), { stderr: 'own' }).slice(-2)).toEqual(['--log-format', 'text']);
  });

  it('the platform is passed on (FreeBSD paths and tools in the new process too)', () => {
    expect(selfArgv(system('auto', 'freebsd'), { stderr: 'parent' }).slice(NODE.length, NODE.length + 2)).toEqual(['--platform', 'freebsd']);
  });

  it('timerd --sanhook-bin replaces the command, not the options', () => {
    expect(selfArgv(system('json'), { stderr: 'parent', command: ['/opt/hook'] })).toEqual(['/opt/hook', '--platform', 'linux', '--root', '/srv/root', '--sysfs', '/srv/sys', '--log-level', 'debug']);
  });

  it('a System that does not record its invocation (tests): no --log-level, the default applies', () => {
    const plain = tempSystem();
    expect(selfArgv(plain, { stderr: 'own' })).toEqual([...plain.selfArgv, '--platform', 'linux', '--root', plain.paths.root, '--sysfs', plain.paths.sysfs]);
  });

  it('no command known: `sanhook` from PATH', () => {
    expect(selfArgv({ ...system('auto'), selfArgv: [] }, { stderr: 'parent' })[0]).toBe('sanhook');
  });
});
