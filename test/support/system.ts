/** A System for in-process tests: real files in a temp root, a scripted exec, a silent log. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/core/log.js';
import { realClock, resolvePaths, type Exec, type System } from '../../src/core/system.js';
import { createTimerdClient, socketPathFor } from '../../src/timerd/client.js';

export function tempSystem(exec: Exec = async (file, args) => ({ argv: [file, ...args], exitCode: 0, stdout: '', stderr: '' }), env: Record<string, string> = {}): System {
  const dir = mkdtempSync(path.join(tmpdir(), 'sanhook-unit-'));
  const paths = resolvePaths(path.join(dir, 'root'), path.join(dir, 'sys'));
  return { exec, paths, clock: realClock, env, log: silentLogger, timerd: createTimerdClient(socketPathFor(paths.run)), selfArgv: ['node', '/usr/bin/sanhook'] };
}
