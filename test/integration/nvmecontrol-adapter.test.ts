/**
 * The nvmecontrol adapter (FabricsTool for FreeBSD) against the fake
 * nvmecontrol, through the real exec (execa): the argv it builds is accepted
 * by nvmecontrol's option rules, and its outputs and failures map to results.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NONE } from '../../src/hooks/nvmf/keys.js';
import { silentLogger } from '../../src/core/log.js';
import * as nvmecontrol from '../../src/hooks/nvmf/nvmecontrol.js';
import { devlist } from '../../src/hooks/nvmf/nvmecontrol.js';
import { realClock, realExec, resolvePaths, type System } from '../../src/core/system.js';
import { createTimerdClient } from '../../src/timerd/client.js';
import { FAKES_BIN } from './harness.js';

const NQN1 = 'nqn.2026-11.io.sanhook:subsys1';
const NQN2 = 'nqn.2026-11.io.sanhook:subsys2';
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:3b2ec7f2-8d5e-11ef-9c4a-0cc47a8c2f10';
const io = (subnqn: string) => ({ transport: 'tcp' as const, traddr: '10.0.0.5', trsvcid: '4420', subnqn, hostTraddr: NONE, hostIface: NONE });

let dir: string;
let state: string;
const saved = { PATH: process.env.PATH, FAKE_NVMECONTROL_STATE: process.env.FAKE_NVMECONTROL_STATE };
let system: System;
const tool = nvmecontrol;
const calls = () => (existsSync(path.join(state, 'calls.jsonl')) ? readFileSync(path.join(state, 'calls.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { argv: string[]; exit: number })) : []);

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sanhook-nvmecontrol-'));
  const paths = resolvePaths(path.join(dir, 'root'), path.join(dir, 'sys'), 'freebsd');
  system = { exec: realExec, paths, clock: realClock, env: {}, log: silentLogger, timerd: createTimerdClient(path.join(paths.run, 'timerd.sock')), selfArgv: [] };
  process.env.PATH = `${FAKES_BIN}${path.delimiter}${saved.PATH ?? '/usr/bin:/bin'}`;
});
beforeEach(() => {
  state = path.join(dir, `state-${Math.random().toString(36).slice(2)}`);
  mkdirSync(state);
  process.env.FAKE_NVMECONTROL_STATE = state;
});
afterAll(() => {
  process.env.PATH = saved.PATH;
  if (saved.FAKE_NVMECONTROL_STATE === undefined) delete process.env.FAKE_NVMECONTROL_STATE;
  else process.env.FAKE_NVMECONTROL_STATE = saved.FAKE_NVMECONTROL_STATE;
  rmSync(dir, { recursive: true, force: true });
});

describe('nvmecontrol adapter', () => {
  it('connect (address:port and SubNQN as operands, -q -r -l), then devlist shows the new controller connected', async () => {
    expect(await tool.connect(system, { ...io(NQN1), hostnqn: HOSTNQN, reconnectDelay: 5, ctrlLossTmo: -1 })).toEqual({ outcome: 'connected' });
    expect(calls()[0]!.argv).toEqual(['connect', '--transport', 'tcp', '--hostnqn', HOSTNQN, '--reconnect-delay', '5', '--ctrl-loss-tmo', '0', '10.0.0.5:4420', NQN1]);
    expect(await devlist(system)).toEqual([{ name: 'nvme0', model: expect.any(String), association: { state: 'connected', transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420' } }]);
  });

  it('a target that rejects the subsystem: failed, with nvmecontrol\'s message and exit code', async () => {
    writeFileSync(path.join(state, 'fail-connect'), `${NQN2}\n`);
    const result = await tool.connect(system, io(NQN2));
    expect(result).toMatchObject({ outcome: 'failed', exitCode: 74, message: expect.stringMatching(/^Failed to connect to NVM controller nqn\.2026-11\.io\.sanhook:subsys2: /) });
  });

  it('connect-all at a discovery address (port 8009 by default) connects the log entries', async () => {
    writeFileSync(path.join(state, 'discovery.json'), JSON.stringify([
      { trtype: 'tcp', traddr: '10.0.0.5', trsvcid: '4420', subnqn: NQN1 },
      { trtype: 'tcp', traddr: '10.0.0.5', trsvcid: '4420', subnqn: NQN2 },
    ]));
    expect(await tool.connectAll(system, { kind: 'nvmf-disc', transport: 'tcp', traddr: '10.0.0.5', trsvcid: NONE, hostTraddr: NONE, hostIface: NONE }, HOSTNQN)).toEqual({ ok: true });
    expect(calls()[0]!.argv).toEqual(['connect-all', '--transport', 'tcp', '--hostnqn', HOSTNQN, '10.0.0.5:8009']);
    expect((await devlist(system)).map((c) => c.name)).toEqual(['nvme0', 'nvme1']);
  });

  it('reconnect: device alone, and the address form with options; a connected controller is busy', async () => {
    await tool.connect(system, io(NQN1));
    const busy = await tool.reconnect(system, 'nvme0');
    expect(busy).toEqual({ ok: false, exitCode: 74, message: 'Failed to handoff queues to kernel: Device busy' });
    const controllers = JSON.parse(readFileSync(path.join(state, 'controllers.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    controllers.nvme0 = { ...controllers.nvme0, state: 'disconnected', disconnectedSince: Date.now() - 3000 };
    writeFileSync(path.join(state, 'controllers.json'), JSON.stringify(controllers));
    expect((await devlist(system))[0]!.association).toEqual({ state: 'disconnected', seconds: expect.any(Number) });
    expect(await tool.reconnect(system, 'nvme0', { traddr: '10.0.0.5', trsvcid: '4420', reconnectDelay: 10, ctrlLossTmo: 600 })).toEqual({ ok: true });
    expect(calls().at(-1)!.argv).toEqual(['reconnect', '--transport', 'tcp', '--reconnect-delay', '10', '--ctrl-loss-tmo', '600', 'nvme0', '10.0.0.5:4420']);
  });

  it('disconnect: the controller goes; a second time is ENOENT (exit 74)', async () => {
    await tool.connect(system, io(NQN1));
    expect(await tool.disconnect(system, 'nvme0')).toEqual({ ok: true });
    expect(await devlist(system)).toEqual([]);
    expect(await tool.disconnect(system, 'nvme0')).toEqual({ ok: false, exitCode: 74, message: 'failed to disconnect from nvme0: No such file or directory' });
  });
});
