/** A System for in-process tests: real files in a temp root, a scripted exec, a silent log. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/core/log.js';
import { realClock, resolvePaths, type Exec, type ExecResult, type System } from '../../src/core/system.js';
import { createTimerdClient, socketPathFor } from '../../src/timerd/client.js';

export function tempSystem(exec: Exec = async (file, args) => ({ argv: [file, ...args], exitCode: 0, stdout: '', stderr: '' }), env: Record<string, string> = {}): System {
  const dir = mkdtempSync(path.join(tmpdir(), 'sanhook-unit-'));
  const paths = resolvePaths(path.join(dir, 'root'), path.join(dir, 'sys'));
  // Every kernel has the uevent counter (the registry's seqnum stamp reads it after a connect).
  mkdirSync(path.join(paths.sysfs, 'kernel'), { recursive: true });
  writeFileSync(path.join(paths.sysfs, 'kernel', 'uevent_seqnum'), '1000\n');
  return { exec, paths, clock: realClock, env, log: silentLogger, timerd: createTimerdClient(socketPathFor(paths.run)), selfArgv: ['node', '/usr/bin/sanhook'] };
}

/** nvme-cli 2.3's `nvme connect --help` (argconfig layout, on stderr): no --owner. */
export const NVME_23_CONNECT_HELP =
  '\u001b[1mUsage: nvme connect <device> [OPTIONS]\u001b[0m\n\nConnect to NVMeoF subsystem\n\n\u001b[1mOptions:\u001b[0m\n' +
  '  [  --transport=<STR>, -t <STR> ]      --- transport type\n  [  --nqn=<STR>, -n <STR> ]            --- subsystem nqn\n';

/** A scripted exec's answer to sanhook's capability probe (nvme-cli 2.3), or undefined for any other call. */
export function answerProbe(file: string, args: readonly string[]): ExecResult | undefined {
  return file === 'nvme' && args.includes('--help') ? { argv: [file, ...args], exitCode: 0, stdout: '', stderr: NVME_23_CONNECT_HELP } : undefined;
}
