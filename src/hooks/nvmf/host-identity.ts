/**
 * The host's NVMe identity from /etc/nvme/hostnqn and /etc/nvme/hostid
 * (nvme-cli's files, honoured as they are). Missing files mean "let nvme-cli
 * decide"; a file with a malformed value is a ConfigError naming it.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, UsageError } from '../../core/errors.js';
import type { System } from '../../core/system.js';
import * as validate from './validate.js';

export interface HostIdentity {
  readonly hostnqn?: string;
  readonly hostid?: string;
}

async function readOne(file: string, key: string, check: (value: string) => string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(file, undefined, undefined, `cannot read: ${(error as Error).message}`, { cause: error });
  }
  const lines = text.split('\n');
  const index = lines.findIndex((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (index < 0) return undefined;
  try {
    return check((lines[index] ?? '').trim());
  } catch (error) {
    if (error instanceof UsageError) throw new ConfigError(file, index + 1, key, error.message.replace(/^[^:]+: /, ''));
    throw error;
  }
}

export type HostFile = 'hostnqn' | 'hostid';

const CHECKS: Readonly<Record<HostFile, (value: string) => string>> = {
  hostnqn: (v) => validate.nqn(v, 'hostnqn'),
  hostid: (v) => validate.hostId(v, 'hostid'),
};

/** /etc/nvme/hostnqn or /etc/nvme/hostid under `paths.etc`. */
export function hostFilePath(system: System, name: HostFile): string {
  return path.join(system.paths.etc, 'nvme', name);
}

/** One of the two files: its value, undefined when absent or empty, a ConfigError naming file and line when malformed or unreadable. */
export function readHostFile(system: System, name: HostFile): Promise<string | undefined> {
  return readOne(hostFilePath(system, name), name, CHECKS[name]);
}

export async function readHostIdentity(system: System): Promise<HostIdentity> {
  const hostnqn = await readHostFile(system, 'hostnqn');
  const hostid = await readHostFile(system, 'hostid');
  return { ...(hostnqn ? { hostnqn } : {}), ...(hostid ? { hostid } : {}) };
}
