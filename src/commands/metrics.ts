/**
 * `sanhook metrics`: fold the hook-run log into durable totals and write the
 * node_exporter textfile (docs/metrics.md). sanhook-metrics.timer runs it
 * every 30 s.
 *
 * Contract: under one lock (<run>/metrics.lock), every line a hook appended
 * (core/hook-log.ts) is counted exactly once, whatever moment a run is
 * killed at. The log is rotated by hard-linking it to a batch file and
 * renaming an empty file over it, so the log never stops existing; the batch
 * is read up to its last whole line, the totals (<state>/metrics.json) are
 * committed with the batch's name and the bytes counted (temp file, fsync,
 * rename), and the batch is kept until the next run, which counts what
 * arrived after the read (a hook that opened the log just before the
 * rotation) and deletes it. A batch file the totals do not name was already
 * counted (a run killed between commit and unlink) and is deleted unread.
 * The textfile is written whole: temp file in its directory, mode 0644 (the
 * prometheus user reads it), rename. Observing (state, log, timerd) and
 * writing are separate; the fold and the rendering are pure
 * (core/metrics.ts). `--dry-run` folds in memory, prints the textfile and
 * changes nothing.
 */
import { link, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { METRICS_SECTION, settingsOf, textfilePath } from '../core/config.js';
import { ActionError, EnvironmentError } from '../core/errors.js';
import type { CommandContext, Fabric } from '../core/fabric.js';
import { fsError, fsStep, locate, makeDir, type FsTarget } from '../core/fs-errors.js';
import { HOOK_LOG_NAME, MAX_HOOK_LOG_BYTES } from '../core/hook-log.js';
import { MIN_STALE_MS } from '../core/lock.js';
import { countLeftover, EMPTY_STATE, foldLines, pruneKeys, renderMetrics, type ArmedTimer, type MetricsState, type Vocabulary } from '../core/metrics.js';
import { fabricOfKey, timerHookTable } from '../core/registry.js';
import type { System } from '../core/system.js';
import type { CoreCommand } from './runtime.js';

const DAY_MS = 86_400_000;
/** A batch file: `hook-runs.log.b<ms>-<pid>`, unique across runs and boots. */
const BATCH_NAME = /^hook-runs\.log\.b[0-9]+-[0-9]+$/;
/** A run waits this long for another run's lock (a run takes well under a second), then gives up: the next tick retries. */
const LOCK_WAIT_RETRIES = { retries: 10, minTimeout: 100, maxTimeout: 1_000 };

export const metricsCommand: CoreCommand = {
  verb: 'metrics',
  register: (program, runtime) =>
    program
      .command('metrics')
      .description(
        "fold the hooks' run log into durable totals and write them, with timerd's armed timers, as a Prometheus textfile for node_exporter's textfile collector (sanhook-metrics.timer runs it every 30 s; --dry-run prints the file instead)",
      )
      .option('--textfile <path>', 'the *.prom file to write (default: metrics.textfile in sanhook.yaml, /var/lib/prometheus/node-exporter/sanhook.prom)')
      .action(async (options: { textfile?: string }) => {
        const given = options.textfile !== undefined ? textfilePath(options.textfile, '--textfile') : undefined;
        const context = await runtime.context();
        const textfile = given ?? settingsOf(context.config, METRICS_SECTION).textfile;
        await runMetrics(context, runtime.fabrics, textfile, runtime.io.stdout);
      }),
};

/** The registry as the fold and the renderer need it. */
export function vocabularyOf(fabrics: readonly Fabric[]): Vocabulary {
  const owners = new Map(fabrics.flatMap((f) => f.timerHooks.map((t) => [t.hook, f.name] as const)));
  return {
    fabricOfKey: (key) => fabricOfKey(fabrics, key)?.name,
    timerHooks: [...timerHookTable(fabrics).values()].map((t) => ({ fabric: owners.get(t.hook)!, hook: t.hook, role: t.role })),
  };
}

export async function runMetrics(context: CommandContext, fabrics: readonly Fabric[], textfile: string, stdout: (text: string) => void): Promise<void> {
  const { system, config, reporter } = context;
  const settings = settingsOf(config, METRICS_SECTION);
  const limits = { maxKeys: settings.maxKeys, retentionMs: settings.keyRetentionDays * DAY_MS };
  const vocabulary = vocabularyOf(fabrics);
  if (context.dryRun) {
    const state = pruneKeys(await previewFold(system, vocabulary), system.clock.now(), limits);
    stdout(renderMetrics({ state, timers: await armedTimers(system), vocabulary }));
    return;
  }
  const release = await lockMetrics(system, config.lockStaleMs);
  let folded: { state: MetricsState; records: number };
  try {
    folded = await foldLog(system, vocabulary, limits);
  } finally {
    await release().catch(() => {});
  }
  const timers = await armedTimers(system);
  await writeTextfile(textfile, renderMetrics({ state: folded.state, timers, vocabulary }));
  const keys = Object.keys(folded.state.keys).length;
  system.log.info({ hook: 'metrics', outcome: 'written', textfile, records: folded.records, keys, timerd: timers ? 'up' : 'down' }, 'metrics written');
  reporter.item({ hook: 'metrics', outcome: 'written', textfile, records: folded.records, keys, timerd: timers !== undefined, text: `${textfile}: ${folded.records} new hook round(s), ${keys} key(s), timerd ${timers ? 'up' : 'down'}` });
}

// ------------------------------------------------------------- observe ---

async function armedTimers(system: System): Promise<ArmedTimer[] | undefined> {
  try {
    const reply = await system.timerd.request({ op: 'list' });
    return reply.ok ? (reply.entries as ArmedTimer[]).map((e) => ({ key: e.key, hook: e.hook })) : undefined;
  } catch (error) {
    if (error instanceof EnvironmentError) return undefined;
    throw error;
  }
}

async function loadState(system: System): Promise<MetricsState> {
  const where = locate(system.paths, 'metricsTotals');
  let text: string;
  try {
    text = await readFile(where.path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_STATE;
    throw fsError(error, 'read', where.path, where);
  }
  try {
    const state = JSON.parse(text) as MetricsState;
    if (state.version === 1 && typeof state.runs === 'object' && typeof state.keys === 'object') return state;
  } catch {
    // below
  }
  // Counters restart from zero (Prometheus reads a drop as a counter reset); the file is kept for a look.
  system.log.warn({ hook: 'metrics', file: where.path }, 'metrics totals unreadable; starting from zero (kept as metrics.json.bad)');
  await rename(where.path, `${where.path}.bad`).catch(() => {});
  return EMPTY_STATE;
}

/** The bytes of `file` from `offset` on; none if the file is gone. */
async function readFrom(file: string, offset: number, target: FsTarget): Promise<Buffer> {
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const buffer = Buffer.alloc(Math.max(0, size - offset));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw fsError(error, 'read', file, target);
  }
}

/** --dry-run: what a run would count now, without rotating or writing anything. */
async function previewFold(system: System, vocabulary: Vocabulary): Promise<MetricsState> {
  const log = locate(system.paths, 'hookRunLog');
  let state = await loadState(system);
  if (state.batch) state = foldLines(state, await readFrom(path.join(system.paths.run, state.batch.file), state.batch.offset, log), vocabulary).state;
  return foldLines(state, await readFrom(log.path, 0, log), vocabulary).state;
}

// ----------------------------------------------------------------- act ---

async function lockMetrics(system: System, staleMs: number): Promise<() => Promise<void>> {
  const runDir = locate(system.paths, 'runDir');
  const where = locate(system.paths, 'metricsLock');
  await makeDir(runDir.path, runDir);
  try {
    return await lockfile.lock(path.join(system.paths.run, 'metrics'), { lockfilePath: where.path, realpath: false, stale: Math.max(staleMs, MIN_STALE_MS), retries: LOCK_WAIT_RETRIES });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') throw new ActionError(`another sanhook metrics holds ${where.path}; the next run folds what this one would have`, { lock: where.path }, { cause: error });
    throw fsError(error, 'lock', where.path, where);
  }
}

async function commitState(system: System, state: MetricsState): Promise<void> {
  const dir = locate(system.paths, 'stateDir');
  const where = locate(system.paths, 'metricsTotals');
  await makeDir(dir.path, dir);
  await writeDurably(where.path, `${JSON.stringify(state)}\n`, 0o600, where);
}

/** Temp file, fsync, rename, fsync of the directory: after this the totals survive a crash. */
async function writeDurably(file: string, text: string, mode: number, target: FsTarget): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await fsStep('write', temp, target, async () => {
    const handle = await open(temp, 'w', mode);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
  await fsStep('rename', file, target, () => rename(temp, file));
  await fsStep('sync', path.dirname(file), target, async () => {
    const handle = await open(path.dirname(file), 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
}

/** Replaces the live log with an empty file in one rename: hooks always find a log to append to. */
async function emptyLog(system: System): Promise<void> {
  const log = locate(system.paths, 'hookRunLog');
  const temp = path.join(system.paths.run, `${HOOK_LOG_NAME}.tmp-${process.pid}`);
  await fsStep('write', temp, log, async () => (await open(temp, 'w', 0o600)).close());
  await fsStep('rename', log.path, log, () => rename(temp, log.path));
}

async function inode(file: string): Promise<number | undefined> {
  return (await stat(file).catch(() => undefined))?.ino;
}

/** One rotation and fold under the lock (see the module comment); returns the committed state. */
async function foldLog(system: System, vocabulary: Vocabulary, limits: { maxKeys: number; retentionMs: number }): Promise<{ state: MetricsState; records: number }> {
  const log = locate(system.paths, 'hookRunLog');
  const run = system.paths.run;
  let state = await loadState(system);
  let records = 0;
  const previous = state.batch;
  if (previous) {
    const file = path.join(run, previous.file);
    // Killed between the link and the rename: the log IS the batch; finish the rotation before reading it.
    const batchIno = await inode(file);
    if (batchIno !== undefined && batchIno === (await inode(log.path))) await emptyLog(system);
    const tail = await readFrom(file, previous.offset, log);
    const folded = foldLines(state, tail, vocabulary);
    records += folded.records;
    state = countLeftover(folded.state, tail.length - folded.consumed);
  }
  // Batch files the state does not name were counted before a run was killed; temp files are a killed run's.
  for (const name of await readdir(run).catch(() => [] as string[])) {
    if ((BATCH_NAME.test(name) && name !== previous?.file) || name.startsWith(`${HOOK_LOG_NAME}.tmp-`)) await unlink(path.join(run, name)).catch(() => {});
  }
  const batch = `${HOOK_LOG_NAME}.b${system.clock.now()}-${process.pid}`;
  state = { ...state, batch: { file: batch, offset: 0 } };
  await commitState(system, state);
  if (previous) await unlink(path.join(run, previous.file)).catch(() => {});

  const batchPath = path.join(run, batch);
  try {
    await link(log.path, batchPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(error, 'write', batchPath, log);
    // No log yet (no hook has run this boot): nothing to count.
    const { batch: _none, ...unbatched } = state;
    state = pruneKeys(unbatched, system.clock.now(), limits);
    await commitState(system, state);
    return { state, records };
  }
  await emptyLog(system);
  const bytes = await readFrom(batchPath, 0, log);
  const folded = foldLines(state, bytes, vocabulary);
  records += folded.records;
  state = { ...folded.state, batch: { file: batch, offset: folded.consumed }, overflows: folded.state.overflows + (bytes.length >= MAX_HOOK_LOG_BYTES ? 1 : 0) };
  state = pruneKeys(state, system.clock.now(), limits);
  await commitState(system, state);
  return { state, records };
}

/** The textfile, whole or not at all: temp file beside it (not *.prom, so node_exporter skips it), 0644, rename. */
async function writeTextfile(textfile: string, text: string): Promise<void> {
  const dir = path.dirname(textfile);
  const target: FsTarget = { what: 'node_exporter textfile', top: dir };
  const temp = `${textfile}.${process.pid}.tmp`;
  try {
    const handle = await open(temp, 'w', 0o644);
    try {
      await handle.writeFile(text);
      // The unit's UMask=0077 would leave it 0600; node_exporter runs as the prometheus user.
      await handle.chmod(0o644);
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new EnvironmentError(`cannot write ${textfile}: no directory ${dir} (is prometheus-node-exporter installed? set metrics.textfile or --textfile)`, { path: textfile }, { cause: error });
    }
    throw fsError(error, 'write', temp, target);
  }
  await fsStep('rename', textfile, target, () => rename(temp, textfile));
}
