/**
 * timerd's table as a fabric's status lines read it: the armed entries by key.
 *
 * Contract: read-only; a timerd that is not running means no entries (the
 * core's own status lines say it is down), any other failure is thrown.
 */
import { EnvironmentError } from './errors.js';
import type { System } from './system.js';

export interface TimerEntry {
  readonly key: string;
  readonly attempts: number;
  readonly next: { readonly event: string; readonly at: string } | null;
  readonly running: boolean;
}

export async function timerEntries(system: System): Promise<ReadonlyMap<string, TimerEntry>> {
  try {
    const reply = await system.timerd.request({ op: 'list' });
    return new Map(((reply.ok ? reply.entries : []) as TimerEntry[]).map((entry) => [entry.key, entry]));
  } catch (error) {
    if (error instanceof EnvironmentError) return new Map();
    throw error;
  }
}
