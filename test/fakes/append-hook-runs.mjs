/**
 * A burst of hook rounds for the metrics race test: appends COUNT hook-run
 * lines to <RUN_DIR>/hook-runs.log through the hooks' own code
 * (dist/core/hook-log.js appendHookRun: one O_APPEND write per line), as fast
 * as it can but for a pause of PAUSE_MS after every 10 lines (so the burst
 * spans several folds), each with this process's HOOK name and key
 * fcoe:<TAG>-<n % 4>.
 * Usage: node append-hook-runs.mjs RUN_DIR COUNT HOOK TAG PAUSE_MS
 * Prints the number of warnings the appender logged (0 expected) on stdout.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { appendHookRun } = await import(path.join(repo, 'dist', 'core', 'hook-log.js'));
const [run, count, hook, tag, pause] = process.argv.slice(2);
let warnings = 0;
const log = { debug() {}, info() {}, warn: (fields, message) => { warnings += 1; process.stderr.write(`${message} ${JSON.stringify(fields)}\n`); }, error() {} };
const system = { paths: { run }, log, clock: { now: () => Date.now() } };
for (let n = 0; n < Number(count); n += 1) {
  if (n % 10 === 9) await new Promise((resolve) => setTimeout(resolve, Number(pause)));
  await appendHookRun(system, { hook, key: `fcoe:${tag}-${n % 4}`, outcome: n % 3 === 0 ? 'failed' : 'ok', exit: n % 3 === 0 ? 1 : 0, at: Date.now(), timer: n % 2 === 0 });
}
process.stdout.write(`${warnings}\n`);
