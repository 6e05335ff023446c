/**
 * `sanhook metrics` end to end: the real hooks and a real timerd write the
 * hook-run log (FCoE's retry schedule with fake DCB tools, test/fakes/dcb.mjs,
 * and the fake kernel's FCoE files), the real CLI folds it and writes the
 * textfile, and parse-prometheus-text-format reads it back
 * (test/support/prom-text.ts). Then: concurrent appenders while folds run
 * lose and double-count nothing; a run killed at each step of the rotation
 * counts every line once; bad input and a missing directory are one line.
 */
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runProcess } from '../support/process.mjs';
import { ctlrs, DCB_READY, fcoeWorld, FCOE_PRELOAD, setDcb, addNetdev, writeCfg } from '../support/fcoe.mjs';
import type { TimerdProcess } from '../support/sandbox.mjs';
import { parseTextfile, valueOf, type Sample } from '../support/prom-text.js';
import { expectExit, REPO, Sandbox, waitFor } from './harness.js';

const RETRIES = 10;
const KEY = 'fcoe:v0';
const PFC_DOWN = { ...DCB_READY, pfcOper: false };
const APPENDER = path.join(REPO, 'test', 'fakes', 'append-hook-runs.mjs');

let box: Sandbox;
let timerd: TimerdProcess | undefined;
let textfile: string;
beforeEach(() => {
  box = new Sandbox({ prefix: 'sanhook-metrics-' });
  fcoeWorld(box);
  textfile = path.join(box.dir, 'node-exporter', 'sanhook.prom');
  mkdirSync(path.dirname(textfile));
  mkdirSync(box.runDir, { recursive: true, mode: 0o700 });
});
afterEach(async () => {
  await timerd?.stop();
  timerd = undefined;
  await box.cleanup();
});

const run = (args: string[]) => box.run(args, { nodeArgs: FCOE_PRELOAD });
const hookLog = () => path.join(box.runDir, 'hook-runs.log');
const totalsFile = () => path.join(box.stateDir, 'metrics.json');

async function metrics(): Promise<Sample[]> {
  const result = await run(['metrics', '--textfile', textfile]);
  expectExit(result, 0);
  return parseTextfile(readFileSync(textfile, 'utf8'));
}
const sum = (samples: readonly Sample[], name: string) => samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);

describe('the FCoE retry schedule, as the textfile counts it', () => {
  it('armed while retrying; then 10 attempts and one give-up by timerd, the event runs, failures, last success', { timeout: 120_000 }, async () => {
    addNetdev(box, 'v0');
    writeCfg(box, 'v0', { DCB_REQUIRED: 'yes' });
    setDcb(box, 'v0', DCB_READY);
    const started = Date.now();
    expectExit(await run(['dcb-check', '--ifname', 'v0']), 0);
    expect(ctlrs(box)).toHaveLength(1);
    timerd = box.startTimerd({ nodeArgs: FCOE_PRELOAD });
    await timerd.ready();
    setDcb(box, 'v0', PFC_DOWN);
    expectExit(await run(['dcb-check', '--ifname', 'v0']), 0);
    const d = timerd;
    await waitFor('a failed attempt', () => d.logs('hook finished', { key: KEY, exit_code: 1 }).length >= 1, { timeoutMs: 30_000 });

    const whileArmed = await metrics();
    expect(valueOf(whileArmed, 'sanhook_timerd_up')).toBe(1);
    expect(valueOf(whileArmed, 'sanhook_timers_armed', { fabric: 'fcoe', hook: 'dcb-check' })).toBe(1);
    expect(valueOf(whileArmed, 'sanhook_timers_armed', { fabric: 'nvmf', hook: 'reconnect' })).toBe(0);

    await d.waitLog('the loss hook', (r) => r.msg === 'hook finished' && r.key === KEY && r.hook === 'fcoe-destroy', 60_000);
    const fired = d.logs('event fired', { key: KEY });
    expect(fired.map((r) => r.event)).toEqual([...Array.from({ length: RETRIES }, () => 'reconnect'), 'loss']);

    const after = await metrics();
    // attempts and give-ups: what timerd ran, counted by the hooks themselves
    expect(valueOf(after, 'sanhook_reconnect_attempts_total', { fabric: 'fcoe', hook: 'dcb-check' })).toBe(RETRIES);
    expect(valueOf(after, 'sanhook_give_ups_total', { fabric: 'fcoe', hook: 'fcoe-destroy' })).toBe(1);
    expect(valueOf(after, 'sanhook_give_ups_total', { fabric: 'nvmf', hook: 'give-up' })).toBe(0);
    // every round: the two by hand (create, then arm) ok, each attempt failed, the destroy ok
    expect(valueOf(after, 'sanhook_hook_runs_total', { fabric: 'fcoe', hook: 'dcb-check', outcome: 'ok' })).toBe(2);
    expect(valueOf(after, 'sanhook_hook_runs_total', { fabric: 'fcoe', hook: 'dcb-check', outcome: 'failed' })).toBe(RETRIES);
    expect(valueOf(after, 'sanhook_hook_runs_total', { fabric: 'fcoe', hook: 'fcoe-destroy', outcome: 'ok' })).toBe(1);
    expect(valueOf(after, 'sanhook_hook_failures_total', { fabric: 'fcoe', hook: 'dcb-check', outcome: 'failed' })).toBe(RETRIES);
    expect(sum(after, 'sanhook_hook_runs_total')).toBe(RETRIES + 3);
    const last = valueOf(after, 'sanhook_last_success_timestamp_seconds', { fabric: 'fcoe', key: KEY })!;
    expect(last * 1000).toBeGreaterThanOrEqual(started);
    expect(last * 1000).toBeLessThanOrEqual(Date.now());
    expect(valueOf(after, 'sanhook_timers_armed', { fabric: 'fcoe', hook: 'dcb-check' })).toBe(0);
    expect(valueOf(after, 'sanhook_metrics_malformed_records_total')).toBe(0);

    // A run with nothing new changes no counter; the file is for node_exporter's user
    const again = await metrics();
    expect(again.filter((s) => s.name.endsWith('_total'))).toEqual(after.filter((s) => s.name.endsWith('_total')));
    expect(statSync(textfile).mode & 0o777).toBe(0o644);
    expect(readdirSync(path.dirname(textfile))).toEqual(['sanhook.prom']);
  });
});

describe('rotation: every line counted exactly once', () => {
  it('4 appenders x 1500 lines while `sanhook metrics` runs again and again (two at a time): all 6000 counted, once', { timeout: 120_000 }, async () => {
    const WRITERS = 4;
    const LINES = 1500;
    /** 150 pauses of 30 ms: each burst spans ~4.5 s, several folds. */
    const PAUSE_MS = 30;
    // the log must exist for a first rotation to have something to move while writers run
    writeFileSync(hookLog(), '', { mode: 0o600 });
    const writers = Array.from({ length: WRITERS }, (_, i) => runProcess(process.execPath, [APPENDER, box.runDir, String(LINES), 'dcb-check', `w${i}`, String(PAUSE_MS)]));
    let done = false;
    const all = Promise.all(writers).finally(() => {
      done = true;
    });
    let foldsDuringWrites = 0;
    const folder = async () => {
      while (!done) {
        expectExit(await run(['metrics', '--textfile', textfile]), 0);
        if (!done) foldsDuringWrites += 1;
      }
    };
    await Promise.all([folder(), folder(), all]);
    for (const w of await all) {
      expectExit(w, 0);
      expect(w.stdout.trim()).toBe('0');
    }
    // the run after the last write counts what arrived after its rotation; the next one any late tail
    await metrics();
    const samples = await metrics();
    // the test means something only if rotations happened while lines were being appended
    expect(foldsDuringWrites).toBeGreaterThanOrEqual(2);
    expect(sum(samples, 'sanhook_hook_runs_total')).toBe(WRITERS * LINES);
    expect(valueOf(samples, 'sanhook_hook_runs_total', { fabric: 'fcoe', hook: 'dcb-check', outcome: 'failed' })).toBe(WRITERS * 500);
    expect(valueOf(samples, 'sanhook_metrics_malformed_records_total')).toBe(0);
    expect(valueOf(samples, 'sanhook_metrics_keys')).toBe(WRITERS * 4);
    // one batch kept for late writers, no temp files
    expect(readdirSync(box.runDir).filter((n) => n.startsWith('hook-runs.log')).sort()).toEqual(['hook-runs.log', expect.stringMatching(/^hook-runs\.log\.b\d+-\d+$/)]);
  });

  const line = (n: number) => `${JSON.stringify({ v: 1, at: 1_764_500_000_000 + n, hook: 'dcb-check', key: KEY, outcome: 'ok', exit: 0, timer: false })}\n`;
  const lines = (from: number, count: number) => Array.from({ length: count }, (_, i) => line(from + i)).join('');
  const state = (batch?: { file: string; offset: number }) => JSON.stringify({ version: 1, runs: {}, keys: {}, malformed: 0, evicted: 0, overflows: 0, ...(batch ? { batch } : {}) });
  const runs = (samples: readonly Sample[]) => sum(samples, 'sanhook_hook_runs_total');

  it('killed between the link and the rename (the log IS the batch): counted once, the log emptied', async () => {
    mkdirSync(box.stateDir, { recursive: true });
    writeFileSync(hookLog(), lines(0, 3));
    linkSync(hookLog(), path.join(box.runDir, 'hook-runs.log.b1-1'));
    writeFileSync(totalsFile(), state({ file: 'hook-runs.log.b1-1', offset: 0 }));
    expect(runs(await metrics())).toBe(3);
    expect(readFileSync(hookLog(), 'utf8')).toBe('');
    expect(runs(await metrics())).toBe(3);
  });

  it('killed after the commit, before the old batch was deleted: that batch is not counted again', async () => {
    mkdirSync(box.stateDir, { recursive: true });
    writeFileSync(path.join(box.runDir, 'hook-runs.log.b1-1'), lines(0, 5));
    writeFileSync(hookLog(), lines(10, 2));
    writeFileSync(totalsFile(), state({ file: 'hook-runs.log.b2-1', offset: 0 }));
    expect(runs(await metrics())).toBe(2);
    expect(existsSync(path.join(box.runDir, 'hook-runs.log.b1-1'))).toBe(false);
  });

  it('a line appended to the batch after it was read (a hook that opened the log before the rotation) counts at the next run; a cut line is malformed', async () => {
    writeFileSync(hookLog(), lines(0, 2));
    expect(runs(await metrics())).toBe(2);
    const { batch } = JSON.parse(readFileSync(totalsFile(), 'utf8')) as { batch: { file: string; offset: number } };
    expect(batch.offset).toBe(Buffer.byteLength(lines(0, 2)));
    writeFileSync(path.join(box.runDir, batch.file), lines(2, 1) + line(3).slice(0, 10), { flag: 'a' });
    const samples = await metrics();
    expect(runs(samples)).toBe(3);
    expect(valueOf(samples, 'sanhook_metrics_malformed_records_total')).toBe(1);
    expect(existsSync(path.join(box.runDir, batch.file))).toBe(false);
  });

  it('unreadable totals: a warning, counters start again from zero, the bad file kept', async () => {
    mkdirSync(box.stateDir, { recursive: true });
    writeFileSync(totalsFile(), '{"version":1,');
    writeFileSync(hookLog(), lines(0, 1));
    const result = await run(['metrics', '--textfile', textfile]);
    expectExit(result, 0);
    expect(result.stderr).toContain('metrics totals unreadable');
    expect(runs(parseTextfile(readFileSync(textfile, 'utf8')))).toBe(1);
    expect(existsSync(`${totalsFile()}.bad`)).toBe(true);
  });
});

describe('options and the host', () => {
  it('--dry-run prints the textfile and changes nothing', async () => {
    writeFileSync(hookLog(), `${JSON.stringify({ v: 1, at: 1_764_500_000_000, hook: 'dcb-check', key: KEY, outcome: 'ok', exit: 0, timer: false })}\n`);
    const result = await run(['--dry-run', 'metrics', '--textfile', textfile]);
    expectExit(result, 0);
    expect(valueOf(parseTextfile(result.stdout), 'sanhook_hook_runs_total', { fabric: 'fcoe', hook: 'dcb-check', outcome: 'ok' })).toBe(1);
    expect(existsSync(textfile)).toBe(false);
    expect(existsSync(totalsFile())).toBe(false);
    expect(readdirSync(box.runDir).filter((n) => n.startsWith('hook-runs.log'))).toEqual(['hook-runs.log']);
  });

  it('--textfile that is not an absolute *.prom path: exit 2, one line naming the option', async () => {
    const result = await run(['metrics', '--textfile', 'sanhook.txt']);
    expectExit(result, 2);
    expect(result.stderr).toBe('sanhook: --textfile: must be an absolute path of a *.prom file (node_exporter reads only *.prom), got "sanhook.txt"\n');
  });

  it("node_exporter's directory missing: exit 3, one line saying what to do", async () => {
    const missing = path.join(box.dir, 'nope', 'sanhook.prom');
    const result = await run(['--log-format', 'json', 'metrics', '--textfile', missing]);
    expectExit(result, 3);
    expect(result.stderr.split('\n').filter((l) => l.startsWith('sanhook:'))).toEqual([
      `sanhook: cannot write ${missing}: no directory ${path.dirname(missing)} (is prometheus-node-exporter installed? set metrics.textfile or --textfile)`,
    ]);
  });

  it('metrics.textfile in sanhook.yaml is the default', async () => {
    box.writeRootFile('etc/sanhook/sanhook.yaml', `metrics:\n  textfile: ${textfile}\n`);
    expectExit(await run(['metrics']), 0);
    expect(valueOf(parseTextfile(readFileSync(textfile, 'utf8')), 'sanhook_timerd_up')).toBe(0);
  });
});
