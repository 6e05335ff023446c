/**
 * The disconnect-vs-reconnect race (issue 10). Before every hook on a path
 * took the path's lock, a timerd `reconnect` that had already decided to
 * connect ran `nvme connect` after `sanhook disconnect` had written the
 * tombstone, then recorded the path as managed again: the path came back and
 * stayed managed, breaking the promise `disconnect` makes.
 *
 * Now: the disconnect is queued behind the attempt (same key, same lock); the
 * holder runs it after its own round, it observes the controller the attempt
 * created and disconnects that. Ordered by events (the fake `nvme connect`
 * blocks until the disconnect is queued), never by sleeps.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/core/config.js';
import { hasPending } from '../../src/core/lock.js';
import { collectingReporter } from '../../src/core/report.js';
import { getRecord, putRecord } from '../../src/core/state.js';
import type { Exec } from '../../src/core/system.js';
import { FABRICS } from '../../src/hooks/index.js';
import { runDisconnect, validateFilter } from '../../src/hooks/nvmf/disconnect.js';
import { NVMF_STORES } from '../../src/hooks/nvmf/endpoint-state.js';
import { ioKey, ioParamsFromOptions } from '../../src/hooks/nvmf/io-request.js';
import { runReconnect } from '../../src/hooks/nvmf/reconnect.js';
import { runConnect } from '../../src/hooks/nvmf/connect.js';
import { answerProbe, tempSystem } from '../support/system.js';

const NQN = 'nqn.2019-08.org.example:subsys1';
const options = { transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420', nqn: NQN, hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:1' };
const params = ioParamsFromOptions(options);
const KEY = ioKey(params);

/** Waits for a condition (the event meant), not for a time; the bound only turns a hang into a failure. */
async function until(condition: () => boolean | Promise<boolean>, boundMs = 10_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setImmediate(r));
  }
}

describe('disconnect while a timerd reconnect is connecting the same path', () => {
  it('the disconnect runs after the attempt, disconnects the controller it created, and nothing is left managed', async () => {
    const calls: string[] = [];
    let release!: () => void;
    const connectMayFinish = new Promise<void>((resolve) => (release = resolve));
    let sysfs = '';
    const controller = () => path.join(sysfs, 'class', 'nvme', 'nvme0');
    const exec: Exec = async (file, args) => {
      const probe = answerProbe(file, args);
      if (probe) return probe;
      calls.push(`${file} ${args.join(' ')}`);
      if (args[0] === 'connect') {
        await connectMayFinish;
        // what the kernel does: a live controller for the path
        mkdirSync(controller(), { recursive: true });
        const attrs = { transport: 'tcp', address: 'traddr=10.0.0.5,trsvcid=4420', subsysnqn: NQN, hostnqn: options.hostnqn, cntrltype: 'io', state: 'live' };
        for (const [name, value] of Object.entries(attrs)) writeFileSync(path.join(controller(), name), `${value}\n`);
        return { argv: [file, ...args], exitCode: 0, stdout: '{\n  "device":"nvme0"\n}\n', stderr: '' };
      }
      if (args[0] === 'disconnect') {
        rmSync(controller(), { recursive: true, force: true });
        return { argv: [file, ...args], exitCode: 0, stdout: 'NQN:... disconnected 1 controller(s)\n', stderr: '' };
      }
      return { argv: [file, ...args], exitCode: 1, stdout: '', stderr: `unexpected ${args[0]}\n` };
    };
    const base = tempSystem(exec);
    sysfs = base.paths.sysfs;
    const config = defaultConfig('/etc/sanhook/sanhook.yaml', FABRICS);
    // sanhook manages the path (it connected it once); the kernel gave up, timerd retries.
    await putRecord(base, NVMF_STORES.managed, KEY, { params: options });
    const byTimerd = { ...base, env: { SANHOOK_TIMER_ID: '7' } };

    const attempt = runReconnect(byTimerd, config, { options, dryRun: false }, collectingReporter());
    await until(() => calls.some((c) => c.startsWith('nvme connect')));
    // The attempt has decided and is connecting. The admin disconnects the subsystem now.
    const admin = collectingReporter();
    const disconnect = runDisconnect(base, config, validateFilter({ nqn: NQN }), false, admin);
    await until(() => hasPending(base, KEY, 'disconnect'));
    release();
    await attempt;
    await disconnect;

    // The disconnect ran after the connect, on the controller the connect created.
    expect(calls).toEqual([expect.stringMatching(/^nvme connect /), 'nvme disconnect --device nvme0']);
    expect(existsSync(controller())).toBe(false);
    // The promise `disconnect` makes: a tombstone, and no managed record for anything to bring back.
    expect(await getRecord(base, NVMF_STORES.disconnected, KEY)).toBeDefined();
    expect(await getRecord(base, NVMF_STORES.managed, KEY)).toBeUndefined();
    expect(admin.items.map((i) => i.outcome)).toContain('queued');
    // And a later attempt (timerd's next event, had it still been armed) does nothing.
    calls.length = 0;
    await runReconnect(byTimerd, config, { options, dryRun: false }, collectingReporter());
    expect(calls).toEqual([]);
  });
});

describe('disconnect after a discovery round decided to connect the path', () => {
  it('the round decides each path again under the path\'s lock: the path stays disconnected and its tombstone stays', async () => {
    const S1 = 'nqn.2026-11.io.sanhook:subsys1';
    // The real captured log, records in reverse: the round connects subsys2 before it comes to subsys1.
    const captured = JSON.parse(readFileSync(new URL('../fixtures/nvme-cli/discover-2subsys.json', import.meta.url), 'utf8')) as { records: unknown[] };
    const log = JSON.stringify({ ...captured, records: [...captured.records].reverse() });
    const calls: string[] = [];
    let release!: () => void;
    const firstConnectMayFinish = new Promise<void>((resolve) => (release = resolve));
    const exec: Exec = async (file, args) => {
      const probe = answerProbe(file, args);
      if (probe) return probe;
      calls.push(`${file} ${args[0]}${args.includes('--nqn') ? ` ${args[args.indexOf('--nqn') + 1]}` : ''}`);
      if (args[0] === 'discover') return { argv: [file, ...args], exitCode: 0, stdout: log, stderr: '' };
      // the round's first connect (subsys2) waits: by then the round has read the log and decided
      if (args[0] === 'connect' && calls.filter((c) => c.startsWith('nvme connect')).length === 1) await firstConnectMayFinish;
      return { argv: [file, ...args], exitCode: 0, stdout: '{"device":"nvme1"}\n', stderr: '' };
    };
    const system = tempSystem(exec);
    const config = defaultConfig('/etc/sanhook/sanhook.yaml', FABRICS);
    const path1 = ioParamsFromOptions({ transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', nqn: S1 });
    await putRecord(system, NVMF_STORES.managed, ioKey(path1), { params: { transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420', nqn: S1 } });

    const round = runConnect(system, config, { raw: { transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420' }, all: false, uevent: false, dryRun: false }, collectingReporter());
    await until(() => calls.some((c) => c.startsWith('nvme connect')));
    // The round has decided to connect both (subsys1 was not tombstoned when it looked) and is
    // connecting subsys2. The admin disconnects subsys1 now.
    await runDisconnect(system, config, validateFilter({ nqn: S1 }), false, collectingReporter());
    release();
    await round;

    // subsys1 was not connected (and its tombstone not cleared); subsys2 was.
    expect(calls.filter((c) => c.startsWith('nvme connect'))).toEqual(['nvme connect nqn.2026-11.io.sanhook:subsys2']);
    expect(await getRecord(system, NVMF_STORES.disconnected, ioKey(path1))).toBeDefined();
    expect(await getRecord(system, NVMF_STORES.managed, ioKey(path1))).toBeUndefined();
  });
});
