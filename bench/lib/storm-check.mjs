/**
 * The storm benchmark's verdict (bench/storm.mjs), as a pure function of its records,
 * so its checks have a table-driven unit test (test/unit/bench-storm-check.test.ts).
 *
 * Contract: `checkStorm()` takes what the storm left behind — the events it fired
 * (key, hook pid, when it was spawned, how it exited), the fake nvme's calls
 * (calls.jsonl) and the pending-marker renames recorded by test/fakes/record-pending.mjs
 * — and returns per-key figures and every broken property as one line of text. It
 * reads no file and starts no process. A key's *action* is its `nvme discover` (the
 * re-read of the discovery log the AEN asks for); the properties (DESIGN §5):
 *   lost       no event is lost: the last take of the key's marker ended after the
 *              last marker write began, and the taker then ran a discovery that
 *              succeeded; and (the simple bound) a discovery of the key started
 *              after its last event was fired;
 *   runs       at most 1 + `maxExtraRuns` discoveries per key (coalescing works);
 *   overlap    no two discoveries of one key overlap (the fake's flag, and pairwise);
 *   exits      every hook and every fake call exited 0.
 */

/**
 * @typedef {object} StormEvent
 * @property {number} key index of the key (0-based)
 * @property {number} pid the hook process
 * @property {number} firedAt wall-clock ms just before it was spawned
 * @property {number | null} exitCode
 * @property {string | null} signal
 * @property {string} [stderr] the end of its stderr, for the report
 */
/**
 * One fake nvme call (the fields of test/fakes/nvme.mjs's calls.jsonl that matter here).
 * @typedef {{ argv: string[], pid: number, ppid: number, start: number, end: number, exit: number, overlap?: boolean, address?: string }} NvmeCall
 */
/**
 * One pending-marker rename (test/fakes/record-pending.mjs).
 * @typedef {{ pid: number, from: string, to: string, before: number, after: number, ok: boolean }} MarkerRename
 */
/**
 * @typedef {object} KeyFigures
 * @property {number} key
 * @property {number} events
 * @property {number} runs discoveries of the key
 * @property {number} lastFiredAt
 * @property {number | undefined} lastActionStart
 * @property {number | undefined} lastActionEnd
 * @property {boolean} lost
 */
/**
 * @typedef {object} StormVerdict
 * @property {KeyFigures[]} keys
 * @property {Record<string, number>} runsDistribution discoveries per key -> number of keys
 * @property {number} maxRuns
 * @property {number} lost keys whose last event was not followed by an action
 * @property {number} actions all discoveries
 * @property {number} firstFiredAt
 * @property {number} lastFiredAt
 * @property {number} lastActionEnd
 * @property {number} settleMs last event fired -> last action done
 * @property {string[]} problems every broken property, one line each (empty: the storm passed)
 */

/**
 * @param {object} input
 * @param {readonly StormEvent[]} input.events
 * @param {readonly NvmeCall[]} input.calls
 * @param {readonly MarkerRename[]} input.renames
 * @param {number} input.keyCount
 * @param {(key: number) => string} input.addressOf the fake nvme's `address` of a key's discovery (tcp_<traddr>_<trsvcid>)
 * @param {(key: number) => string} input.markerOf the pending marker's file name of a key (pending/<key file name>#connect)
 * @param {number} input.maxExtraRuns
 * @returns {StormVerdict}
 */
export function checkStorm({ events, calls, renames, keyCount, addressOf, markerOf, maxExtraRuns }) {
  /** @type {string[]} */
  const problems = [];
  const MAX_LISTED = 5;
  /** @param {string} what @param {string[]} lines */
  const report = (what, lines) => {
    if (lines.length === 0) return;
    problems.push(`${what}: ${lines.length}${lines.length > MAX_LISTED ? ` (first ${MAX_LISTED})` : ''}\n    ${lines.slice(0, MAX_LISTED).join('\n    ')}`);
  };

  report(
    'hooks that did not exit 0',
    events.filter((e) => e.exitCode !== 0 || e.signal !== null).map((e) => `key ${e.key} pid ${e.pid}: exit ${e.exitCode ?? e.signal} ${(e.stderr ?? '').trim().split('\n').slice(-1)[0] ?? ''}`),
  );
  report(
    'nvme calls that failed',
    calls.filter((c) => c.exit !== 0).map((c) => `${c.argv.join(' ')}: exit ${c.exit}`),
  );

  const discoveries = calls.filter((c) => c.argv[0] === 'discover').sort((a, b) => a.start - b.start);
  /** @type {KeyFigures[]} */
  const keys = [];
  /** @type {string[]} */
  const lostLines = [];
  /** @type {string[]} */
  const overlapLines = [];
  /** @type {string[]} */
  const runLines = [];
  const knownAddresses = new Set();
  for (let key = 0; key < keyCount; key += 1) {
    const address = addressOf(key);
    knownAddresses.add(address);
    const marker = markerOf(key);
    const mine = events.filter((e) => e.key === key);
    const actions = discoveries.filter((d) => d.address === address);
    const lastFiredAt = Math.max(...mine.map((e) => e.firedAt));
    const reasons = [];
    if (mine.length > 0) {
      // strict: marker writes (tmp -> marker) against takes (marker -> marker.taken.<pid>)
      const writes = renames.filter((r) => r.ok && r.to === marker && r.from.endsWith('.tmp'));
      const takes = renames.filter((r) => r.ok && r.from === marker && r.to.startsWith(`${marker}.taken.`));
      if (writes.length !== mine.length) reasons.push(`${writes.length} marker writes recorded for ${mine.length} events`);
      const lastWriteBegan = Math.max(...writes.map((w) => w.before));
      const lastTake = takes.reduce((/** @type {MarkerRename | undefined} */ a, b) => (a === undefined || b.before > a.before ? b : a), undefined);
      if (!lastTake) reasons.push('its marker was never taken');
      else {
        if (!(lastTake.after > lastWriteBegan)) reasons.push(`a marker write began ${(lastWriteBegan - lastTake.after).toFixed(1)} ms after the last take`);
        const followed = actions.some((d) => d.ppid === lastTake.pid && d.start > lastTake.before && d.exit === 0);
        if (!followed) reasons.push(`no successful discovery by pid ${lastTake.pid} after its last take`);
      }
      // simple: a discovery started after the last event was fired
      if (!actions.some((d) => d.start > lastFiredAt)) reasons.push('no discovery started after its last event was fired');
    }
    if (reasons.length) lostLines.push(`key ${key} (${address}): ${reasons.join('; ')}`);
    const flagged = actions.filter((d) => d.overlap);
    const crossed = actions.filter((d, i) => i > 0 && d.start < (actions[i - 1]?.end ?? -Infinity));
    if (flagged.length || crossed.length) overlapLines.push(`key ${key}: ${flagged.length} flagged by the fake, ${crossed.length} starting before the previous one ended`);
    if (actions.length > 1 + maxExtraRuns) runLines.push(`key ${key}: ${actions.length} discoveries for ${mine.length} events`);
    keys.push({
      key,
      events: mine.length,
      runs: actions.length,
      lastFiredAt,
      lastActionStart: actions.at(-1)?.start,
      lastActionEnd: actions.length ? Math.max(...actions.map((d) => d.end)) : undefined,
      lost: reasons.length > 0,
    });
  }
  report('keys with a lost event', lostLines);
  report('keys whose discoveries overlapped', overlapLines);
  report(`keys with more than 1 + ${maxExtraRuns} discoveries`, runLines);
  report(
    'discoveries of an address no key has',
    discoveries.filter((d) => !knownAddresses.has(d.address)).map((d) => `${d.argv.join(' ')}`),
  );

  /** @type {Record<string, number>} */
  const runsDistribution = {};
  for (const k of keys) runsDistribution[String(k.runs)] = (runsDistribution[String(k.runs)] ?? 0) + 1;
  const fired = events.map((e) => e.firedAt);
  const firstFiredAt = fired.length ? Math.min(...fired) : NaN;
  const lastFiredAt = fired.length ? Math.max(...fired) : NaN;
  const lastActionEnd = discoveries.length ? Math.max(...discoveries.map((d) => d.end)) : NaN;
  return {
    keys,
    runsDistribution,
    maxRuns: Math.max(0, ...keys.map((k) => k.runs)),
    lost: lostLines.length,
    actions: discoveries.length,
    firstFiredAt,
    lastFiredAt,
    lastActionEnd,
    settleMs: lastActionEnd - lastFiredAt,
    problems,
  };
}

/**
 * The storm's events, grouped as they are fired: `bursts` gives one group per key
 * holding all its events (the groups in a random order), fired together; `stream`
 * gives one group per event, all events shuffled, so each key's events spread over
 * the whole storm.
 * @param {number} events
 * @param {number} keyCount
 * @param {'bursts' | 'stream'} shape
 * @param {() => number} [random]
 * @returns {number[][]} the key of each event, per group, in firing order
 */
export function stormGroups(events, keyCount, shape, random = Math.random) {
  /** @template T @param {T[]} list @returns {T[]} */
  const shuffle = (list) => {
    for (let i = list.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      const swap = /** @type {T} */ (list[i]);
      list[i] = /** @type {T} */ (list[j]);
      list[j] = swap;
    }
    return list;
  };
  const perKey = Array.from({ length: keyCount }, (_, k) => Math.floor(events / keyCount) + (k < events % keyCount ? 1 : 0));
  if (shape === 'stream') return shuffle(perKey.flatMap((n, k) => Array.from({ length: n }, () => k))).map((k) => [k]);
  return shuffle(perKey.map((_, k) => k)).map((k) => Array.from({ length: perKey[k] ?? 0 }, () => k));
}

/**
 * The size of systemd-udevd's worker pool on this machine (udev-config.c,
 * manager_set_default_children_max: MIN(2 * cpus + 16, RAM / 128 MiB, 2048), RAM
 * term at least 10): how many hooks udevd runs at once.
 * @param {number} cpus
 * @param {number} totalMemBytes
 */
export function udevdChildrenMax(cpus, totalMemBytes) {
  const WORKER_NUM_MAX = 2048;
  const memLimit = Math.max(Math.floor(totalMemBytes / (128 * 1024 * 1024)), 10);
  return Math.min(2 * cpus + 16, memLimit, WORKER_NUM_MAX);
}
