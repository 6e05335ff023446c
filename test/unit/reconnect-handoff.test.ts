/**
 * A reconnect run by timerd whose event another holder took over must not exit 0:
 * timerd would disarm on a result it never saw. Two in-process hooks on one key;
 * the holder's `nvme connect` is held until the timerd run has recorded its event.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/core/config.js';
import { FABRICS } from '../../src/hooks/index.js';
import { ActionError } from '../../src/core/errors.js';
import { runReconnect } from '../../src/hooks/nvmf/reconnect.js';
import { collectingReporter } from '../../src/core/report.js';
import { keyFileName } from '../../src/core/keys.js';
import type { Exec } from '../../src/core/system.js';
import { ioKey, ioParamsFromOptions } from '../../src/hooks/nvmf/io-request.js';
import { waitFor } from '../support/sandbox.mjs';
import { answerProbe, tempSystem } from '../support/system.js';

const options = { transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420', nqn: 'nqn.2019-08.org.example:subsys1', hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:1' };

/** An `nvme connect` that succeeds; the first one waits for `gate` (if given) and says when it started. */
function heldConnect(connects: string[], gate?: { started: () => void; release: Promise<void> }): Exec {
  return async (file, args) => {
    const probe = answerProbe(file, args);
    if (probe) return probe;
    if (args[0] === 'connect') {
      connects.push(args.join(' '));
      if (gate && connects.length === 1) {
        gate.started();
        await gate.release;
      }
      return { argv: [file, ...args], exitCode: 0, stdout: '{\n  "device":"nvme0"\n}\n', stderr: '' };
    }
    return { argv: [file, ...args], exitCode: 1, stdout: '', stderr: `unexpected ${args[0]}\n` };
  };
}

describe('reconnect: timerd run handed over to another holder', () => {
  it('the manual holder runs the timerd event too; the timerd run exits 1 ("not yet"), never 0', async () => {
    const connects: string[] = [];
    let started!: () => void;
    let release!: () => void;
    const connectStarted = new Promise<void>((resolve) => (started = resolve));
    const gate = { started, release: new Promise<void>((resolve) => (release = resolve)) };
    const manual = tempSystem(heldConnect(connects, gate));
    const byTimerd = { ...manual, env: { SANHOOK_TIMER_ID: '7' } };
    const config = defaultConfig('/etc/sanhook/sanhook.yaml', FABRICS);
    const holder = runReconnect(manual, config, { options, dryRun: false }, collectingReporter());
    // the holder has the lock and its first connect is running
    await connectStarted;
    const timed = runReconnect(byTimerd, config, { options, dryRun: false }, collectingReporter());
    timed.catch(() => {}); // asserted below
    // the timerd run has recorded its event (the holder took its own marker before connecting)
    const marker = path.join(manual.paths.run, 'pending', `${keyFileName(ioKey(ioParamsFromOptions(options)))}#reconnect`);
    await waitFor('the timerd run to record its event', () => existsSync(marker));
    release();
    await expect(timed).rejects.toThrow(ActionError);
    await expect(timed).rejects.toThrow(/holds this path's lock; its result decides/);
    await holder;
    // the holder went round once more for the timerd event: no event lost
    expect(connects).toHaveLength(2);
  });

  it('alone, a successful timerd run exits 0', async () => {
    const connects: string[] = [];
    const system = { ...tempSystem(heldConnect(connects)), env: { SANHOOK_TIMER_ID: '7' } };
    await expect(runReconnect(system, defaultConfig('/etc/sanhook/sanhook.yaml', FABRICS), { options, dryRun: false }, collectingReporter())).resolves.toBeUndefined();
    expect(connects).toHaveLength(1);
  });
});
