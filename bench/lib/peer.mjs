/**
 * bench/peer-nvme-cli's reading of the guest's console and its table, as pure
 * functions (unit-tested on a sample console in test/unit/bench-results.test.ts).
 *
 * Contract: `readBenchLine()` turns one console line into a metric of the booted tool
 * (`@@bench TOOL METRIC VALUE`, bench/peer-nvme-cli.guest.sh) or undefined;
 * `peerRows()` turns both tools' metrics into the table: a header row, then per measure
 * [label, nvme-cli, sanhook, ratio] (ratio = sanhook / nvme-cli where both are times;
 * lower is better). A tool that was not booted shows "not run".
 */

export const TOOLS = /** @type {const} */ (['nvme-cli', 'sanhook']);

/** @typedef {Record<string, string[]>} Metrics metric name -> values in console order */

/**
 * @param {string} line one console line (a trailing \r is ignored)
 * @param {string} tool the tool this boot runs (lines of another tool are ignored)
 * @returns {{ metric: string, value: string } | undefined}
 */
export function readBenchLine(line, tool) {
  const m = /^@@bench (\S+) (\S+) (\S+)/.exec(line.replace(/\r$/, ''));
  return m && m[1] === tool ? { metric: String(m[2]), value: String(m[3]) } : undefined;
}

/**
 * All metrics of one boot's console text.
 * @param {string} text
 * @param {string} tool
 * @returns {Metrics}
 */
export function readConsole(text, tool) {
  /** @type {Metrics} */
  const metrics = {};
  for (const line of text.split('\n')) {
    const m = readBenchLine(line, tool);
    if (m) (metrics[m.metric] ??= []).push(m.value);
  }
  return metrics;
}

/** @param {number[]} values @param {number} q */
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
};
/** @param {number | undefined} v */
const seconds = (v) => (v === undefined ? '-' : `${v.toFixed(2)} s`);

/** @typedef {{ text: string, value?: number }} Cell */

/**
 * @param {Partial<Record<string, { metrics: Metrics }>>} results per tool that was booted
 * @param {number} single the number of single-event samples asked for
 * @returns {string[][]}
 */
export function peerRows(results, single) {
  /** @param {string} label @param {(m: Metrics) => Cell} pick */
  const row = (label, pick) => {
    /** @param {string} tool @returns {Cell} */
    const cell = (tool) => {
      const r = results[tool];
      return r ? pick(r.metrics) : { text: 'not run' };
    };
    const peer = cell('nvme-cli');
    const ours = cell('sanhook');
    const ratio = peer.value !== undefined && ours.value !== undefined && peer.value > 0 ? `${(ours.value / peer.value).toFixed(2)}` : '-';
    return [label, peer.text, ours.text, ratio];
  };
  /** @param {Metrics} m */
  const latencies = (m) => (m.aen_live_s ?? []).filter((v) => v !== 'timeout').map(Number);
  /** @param {Metrics} m */
  const timeouts = (m) => (m.aen_live_s ?? []).filter((v) => v === 'timeout').length;
  /** @param {string} key @returns {(m: Metrics) => Cell} */
  const timed = (key) => (m) => (m[key]?.[0] && m[key][0] !== 'none' ? { text: `${Number(m[key][0]).toFixed(2)} s`, value: Number(m[key][0]) } : { text: 'never' });
  /** @param {string} key @returns {(m: Metrics) => Cell} */
  const median = (key) => (m) => (m[key]?.length ? { text: seconds(quantile(m[key].map(Number), 0.5)) } : { text: '-' });
  /** @param {string} key @returns {(m: Metrics) => Cell} */
  const plain = (key) => (m) => ({ text: m[key]?.[0] ?? '-' });
  /** @param {number} q @returns {(m: Metrics) => Cell} */
  const live = (q) => (m) => (latencies(m).length ? { text: seconds(quantile(latencies(m), q)), value: quantile(latencies(m), q) } : { text: 'none live' });
  return [
    ['measure', 'nvme-cli', 'sanhook', 'ratio'],
    row(`(a) AEN -> live p50 (${single} single events)`, live(0.5)),
    row('(a) AEN -> live p90', live(0.9)),
    row('(a) single events never live (30 s)', (m) => ({ text: String(timeouts(m)) })),
    row('(a) sanhook p50: link -> its round starts', median('split_link_to_round_start_s')),
    row('(a) sanhook p50: round start -> nvme connect', median('split_round_to_connect_s')),
    row('(a) sanhook p50: nvme connect', median('split_nvme_connect_s')),
    row('(a) sanhook p50: connect done -> seen live', median('split_connect_to_live_s')),
    row('(b) burst of 6, 0.3 s apart: connected', plain('burst6_connected')),
    row('(b) burst of 6: last live after first link', timed('burst6_last_live_s')),
    row('(b) burst of 16, 0.3 s apart: connected', plain('burst16_connected')),
    row('(b) burst of 16: last live after first link', timed('burst16_last_live_s')),
    row('(c) mass loss: kernel removed all 32 after', timed('loss_removed_s')),
    row('(c) mass loss: timers armed', plain('loss_timers_armed')),
    row('(c) mass loss: back live after the port returns', plain('loss_back')),
    row('(c) mass loss: last back after the port returns', timed('loss_last_back_s')),
  ];
}
