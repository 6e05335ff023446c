/**
 * The shared sandbox (test/support/sandbox.mjs) mirrors facts of src/ that it cannot
 * import (it is plain JavaScript for node scripts): they must not drift apart.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PLATFORM_DIRS } from '../../src/core/platform.js';
import { resolvePaths } from '../../src/core/system.js';
import { socketPathFor } from '../../src/timerd/client.js';
import { BIN, PLATFORM_DIRS as SANDBOX_DIRS, Sandbox, shebangFlags, waitFor } from '../support/sandbox.mjs';

describe('sandbox', () => {
  it('lays out run, state and etc like src/core/platform.ts, per platform', async () => {
    expect(SANDBOX_DIRS).toEqual(PLATFORM_DIRS);
    for (const platform of ['linux', 'freebsd'] as const) {
      const box = new Sandbox({ platform });
      try {
        const paths = resolvePaths(box.root, box.sysfs, platform);
        expect([box.etcDir, box.runDir, box.stateDir, box.socketPath]).toEqual([paths.etc, paths.run, paths.state, socketPathFor(paths.run)]);
      } finally {
        await box.cleanup();
      }
    }
  });

  it("runs the entry with the node flags of its #! line, as udev and the units do", () => {
    const first = readFileSync(BIN, 'utf8').split('\n', 1)[0]!;
    expect(first).toMatch(/^#!\/usr\/bin\/env -S node /);
    expect(shebangFlags()).toEqual(first.replace(/^#!\/usr\/bin\/env -S node /, '').trim().split(/\s+/));
    expect(shebangFlags()).toContain('--jitless');
  });

  it('waitFor returns the first value that is not undefined/null/false, and names what it waited for on timeout', async () => {
    let calls = 0;
    await expect(waitFor('three calls', () => (++calls >= 3 ? calls : false), { everyMs: 1 })).resolves.toBe(3);
    await expect(waitFor('zero', () => 0)).resolves.toBe(0);
    await expect(waitFor('never', () => undefined, { timeoutMs: 20, everyMs: 5 })).rejects.toThrow(/timed out after 20 ms waiting for never/);
    await expect(waitFor('a check that fails', () => { throw new Error('gone'); })).rejects.toThrow('gone');
  });
});
