/**
 * The one executor (core/execute.ts): dry-run prints the plan and touches
 * nothing; a real run performs actions in order, runs `then` only after
 * success, reads results with the named interpreter, and turns failures into
 * the list the hook's exit code comes from.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EnvironmentError } from '../../src/core/errors.js';
import { executePlan } from '../../src/core/execute.js';
import type { RunInterpreter } from '../../src/core/fabric.js';
import type { Location } from '../../src/core/fs-errors.js';
import { act, type Plan } from '../../src/core/plan.js';
import { collectingReporter } from '../../src/core/report.js';
import { getRecord } from '../../src/core/state.js';
import type { Exec } from '../../src/core/system.js';
import { tempSystem } from '../support/system.js';

const STORE: Location = { base: 'state', sub: ['test', 'records'], what: 'test records' };
const already: RunInterpreter = (r) => (/already/.test(r.stderr) ? { status: 'already' } : r.exitCode === 0 ? { status: 'ok', fields: { device: 'dev7' } } : { status: 'failed', message: r.stderr.trim() });

function world(answers: Record<string, { exitCode: number; stderr?: string }> = {}) {
  const calls: string[] = [];
  const exec: Exec = async (file, args) => {
    calls.push([file, ...args].join(' '));
    const answer = answers[args[0] ?? ''] ?? { exitCode: 0 };
    return { argv: [file, ...args], exitCode: answer.exitCode, stdout: '', stderr: answer.stderr ?? '' };
  };
  const system = tempSystem(exec);
  const reporter = collectingReporter();
  const context = (dryRun: boolean) => ({ system, reporter, dryRun, interpreters: { tool: already }, stores: { records: STORE } });
  return { system, reporter, calls, context };
}

const plan: Plan = {
  hook: 'attach',
  key: 'k:1',
  trigger: 'manual',
  actions: [
    act.note('skipped', 'not this one', { fields: { reason: 'nope' } }),
    act.run('attach', ['tool', 'attach', 'x'], 'attached', { interpret: 'tool', then: [act.record('records', { n: 1 })] }),
  ],
};

describe('executePlan', () => {
  it('dry run: one report item per action (then included), carrying the action itself; nothing runs or is written', async () => {
    const { reporter, calls, context, system } = world();
    const result = await executePlan(plan, context(true));
    expect(calls).toEqual([]);
    expect(result).toEqual({ failures: [], outcomes: ['skipped', 'would-attach'] });
    expect(reporter.items.map((i) => [i.outcome, i.kind])).toEqual([
      ['skipped', undefined],
      ['would-attach', 'run'],
      ['would-record', 'record'],
    ]);
    expect(reporter.items[1]).toMatchObject({ hook: 'attach', key: 'k:1', trigger: 'manual', argv: ['tool', 'attach', 'x'], interpret: 'tool', text: 'tool attach x' });
    expect(existsSync(path.join(system.paths.state, 'test'))).toBe(false);
  });

  it('runs in order; `then` after success; the interpreter reads the result', async () => {
    const { reporter, calls, context, system } = world();
    expect(await executePlan(plan, context(false))).toEqual({ failures: [], outcomes: ['skipped', 'attached'] });
    expect(calls).toEqual(['tool attach x']);
    expect(reporter.items.map((i) => i.outcome)).toEqual(['skipped', 'attached']);
    expect(reporter.items[1]!.text).toBe('k:1: attached as dev7');
    expect(await getRecord(system, STORE, 'k:1')).toMatchObject({ key: 'k:1', n: 1 });
  });

  it('"already" is success with its own outcome; a failure skips `then`, is listed, and the plan goes on', async () => {
    const { reporter, context, system } = world({ attach: { exitCode: 1, stderr: 'no route\n' } });
    const twice: Plan = { ...plan, actions: [plan.actions[1]!, act.run('attach', ['tool', 'again'], 'attached', { interpret: 'tool', already: 'was-there' })] };
    const failing = await executePlan(twice, context(false));
    expect(failing.failures).toEqual(['k:1: tool attach failed: no route']);
    expect(failing.outcomes).toEqual(['failed', 'attached']);
    expect(await getRecord(system, STORE, 'k:1')).toBeUndefined();
    expect(reporter.items[0]).toMatchObject({ outcome: 'failed', exitCode: 1 });
    const { context: other } = world({ attach: { exitCode: 1, stderr: 'already there' } });
    expect((await executePlan(plan, other(false))).outcomes).toEqual(['skipped', 'attached']);
    expect((await executePlan({ ...plan, actions: [act.run('attach', ['tool', 'attach'], 'attached', { interpret: 'tool', already: 'was-there' })] }, other(false))).outcomes).toEqual(['was-there']);
  });

  it('a store that cannot be written stops the hook (exit 3), unless the action says how it fails alone', async () => {
    const { context, system } = world();
    mkdirSync(path.join(system.paths.state), { recursive: true });
    // a file where the store's directory must go
    const blocker = path.join(system.paths.state, 'test');
    writeFileSync(blocker, 'in the way');
    await expect(executePlan({ hook: 'h', key: 'k', actions: [act.record('records', {})] }, context(false))).rejects.toBeInstanceOf(EnvironmentError);
    const soft = await executePlan({ hook: 'h', key: 'k', actions: [act.record('records', {}, { unwritable: { text: 'not kept', failure: 'k: not kept' } }), act.note('after', 'still runs')] }, context(false));
    expect(soft).toEqual({ failures: ['k: not kept'], outcomes: ['failed', 'after'] });
    expect(readFileSync(blocker, 'utf8')).toBe('in the way');
  });

  it('a failing note fails the hook with its `failure` words', async () => {
    const { context } = world();
    expect(await executePlan({ hook: 'h', key: 'k', actions: [act.note('not-yet', 'the kernel is retrying', { fails: true, failure: 'retrying' })] }, context(false))).toEqual({ failures: ['k: retrying'], outcomes: ['not-yet'] });
  });

  it('a plan naming a store the fabric did not declare is a bug, not a user error', async () => {
    const { context } = world();
    await expect(executePlan({ hook: 'h', key: 'k', actions: [act.forget('nowhere')] }, context(false))).rejects.toThrow(/unknown state store nowhere/);
  });

  it("a write failing with one of its `already` codes is that outcome, a success: its `then` runs (SRP add_target's EEXIST)", async () => {
    const { context, system } = world();
    // a directory where the file would be: writeFile fails with EISDIR, which this write declares as "already there"
    mkdirSync(path.join(system.paths.sysfs, 'class', 'infiniband_srp', 'srp-rxe0-1', 'add_target'), { recursive: true });
    const add = act.write('add', 'class/infiniband_srp/srp-rxe0-1/add_target', 'id_ext=1', 'added', { already: { codes: ['EISDIR'], outcome: 'already-connected' }, then: [act.note('after', 'ran')] });
    expect(await executePlan({ hook: 'h', key: 'srp:x', actions: [add] }, context(false))).toEqual({ failures: [], outcomes: ['already-connected'] });
    const other = act.write('add', 'class/infiniband_srp/srp-rxe0-1/add_target', 'id_ext=1', 'added', { already: { codes: ['EEXIST'], outcome: 'already-connected' } });
    expect(await executePlan({ hook: 'h', key: 'srp:x', actions: [other] }, context(false))).toEqual({ failures: ['srp:x: write to class/infiniband_srp/srp-rxe0-1/add_target failed (EISDIR)'], outcomes: ['failed'] });
  });

  it('a write whose file has a * component writes the one match (a ctlr created by the write before it); none or several fail it', async () => {
    const { context, system, reporter } = world();
    const net = path.join(system.paths.sysfs, 'class', 'net', 'eth0');
    mkdirSync(path.join(net, 'ctlr_3'), { recursive: true });
    writeFileSync(path.join(net, 'ctlr_3', 'enabled'), '0');
    const enable = act.write('enable', 'class/net/eth0/ctlr_*/enabled', '1', 'enabled');
    expect(await executePlan({ hook: 'h', key: 'fcoe:eth0', actions: [enable] }, context(false))).toEqual({ failures: [], outcomes: ['enabled'] });
    expect(readFileSync(path.join(net, 'ctlr_3', 'enabled'), 'utf8')).toBe('1');
    mkdirSync(path.join(net, 'ctlr_4'));
    const two = await executePlan({ hook: 'h', key: 'fcoe:eth0', actions: [enable] }, context(false));
    expect(two).toEqual({ failures: ['fcoe:eth0: write to class/net/eth0/ctlr_*/enabled failed (EEXIST)'], outcomes: ['failed'] });
    expect(reporter.items.at(-1)!.text).toMatch(/2 entries match ctlr_\* in .*eth0: ctlr_3, ctlr_4/);
    const none = await executePlan({ hook: 'h', key: 'fcoe:eth1', actions: [act.write('enable', 'class/net/eth0/vlan_*/enabled', '1', 'enabled')] }, context(false));
    expect(none.outcomes).toEqual(['failed']);
    expect(reporter.items.at(-1)!.text).toMatch(/ENOENT: nothing matches vlan_\*/);
  });
});
