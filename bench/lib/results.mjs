/**
 * `npm run bench`'s figures, as pure functions (test/unit/bench-results.test.ts):
 * each benchmark's `--json` object -> table rows, the ratio, the one table.
 *
 * Contract: `FIGURES[name](json)` returns that benchmark's headline figures as rows
 * { bench, name, value, unit, baseline?, ratio?, target?, pass? } (value and baseline
 * in the same unit; ratio = value / baseline when both are numbers and the baseline is
 * above 0); it throws when the object lacks what it reads, so a changed output format
 * fails loudly instead of printing a wrong table. `formatTable()` prints the machine,
 * then one row per figure, then one line per benchmark skipped or failed (with why).
 * Nothing here reads a file or starts a process.
 */

/**
 * @typedef {object} Figure
 * @property {string} bench
 * @property {string} name
 * @property {number | string} value
 * @property {string} unit
 * @property {number | string} [baseline]
 * @property {string} [baselineName] what the baseline is
 * @property {number} [ratio]
 * @property {string} [target]
 * @property {boolean | null} [pass]
 */
/** @typedef {{ cpu: string, cores: number, ramGiB: number, kernel: string, node: string, date: string }} Machine */
/** @typedef {{ bench: string, status: 'skipped' | 'failed', reason: string }} NotRun */

/**
 * @param {unknown} value
 * @param {unknown} baseline
 * @returns {number | undefined}
 */
export function ratio(value, baseline) {
  return typeof value === 'number' && typeof baseline === 'number' && Number.isFinite(value) && Number.isFinite(baseline) && baseline > 0 ? value / baseline : undefined;
}

/**
 * @param {string} bench
 * @param {unknown} value
 * @param {string} what
 * @returns {number}
 */
function num(bench, value, what) {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${bench}: its --json output has no number at ${what}`);
  return value;
}

/** @param {Omit<Figure, 'ratio'>} f @returns {Figure} */
const figure = (f) => {
  const r = ratio(f.value, f.baseline);
  return r === undefined ? f : { ...f, ratio: r };
};

/** @type {Record<string, (json: any) => Figure[]>} */
export const FIGURES = {
  'hook-start': (j) => {
    const base = j.results?.[0];
    num('hook-start', base?.p50, 'results[0].p50');
    return j.results.slice(1).map((/** @type {any} */ r) =>
      figure({ bench: 'hook-start', name: `hook cold start, ${r.command}, p50`, value: num('hook-start', r.p50, 'results[].p50'), unit: 'ms', baseline: base.p50, baselineName: base.command, target: `<= ${j.target}x`, pass: num('hook-start', r.p50, 'p50') / base.p50 <= j.target }),
    );
  },
  'udev-latency': (j) => {
    const p = j.paths;
    const sanhook = num('udev-latency', p?.sanhook?.action?.p50, 'paths.sanhook.action.p50');
    return [
      figure({ bench: 'udev-latency', name: 'udev: uevent -> action start, p50', value: sanhook, unit: 'ms', baseline: num('udev-latency', p?.true?.action?.p50, 'paths.true.action.p50'), baselineName: '/bin/true', target: `<= ${j.target_action_p50_ms} ms`, pass: j.target_met }),
      figure({ bench: 'udev-latency', name: 'udev: uevent -> action start, p50, vs bare node', value: sanhook, unit: 'ms', baseline: num('udev-latency', p?.node?.action?.p50, 'paths.node.action.p50'), baselineName: 'node, first statement' }),
    ];
  },
  fcoe: (j) => {
    const c = j.configurations;
    return [
      figure({ bench: 'fcoe', name: 'fcoe rule: net add without a cfg file, udev done p50', value: num('fcoe', c?.shipped?.add?.p50, 'configurations.shipped.add.p50'), unit: 'ms', baseline: num('fcoe', c?.true?.add?.p50, 'configurations.true.add.p50'), baselineName: 'RUN+="/bin/true"', target: j.target, pass: j.target_met }),
    ];
  },
  timerd: (j) => {
    if (!Array.isArray(j.rows)) throw new Error('timerd: its --json output has no rows');
    const lateBase = j.details?.lateness?.baseline?.p99;
    return j.rows
      .filter((/** @type {any} */ r) => r.target !== '-')
      .map((/** @type {any} */ r) => {
        const late = /^lateness p99/.test(r.metric);
        return figure({
          bench: 'timerd',
          name: /^timerd\b/.test(r.metric) ? r.metric : `timerd: ${r.metric}`,
          value: num('timerd', r.value, `rows[${r.metric}].value`),
          unit: r.unit,
          ...(late && typeof lateBase === 'number' ? { baseline: lateBase, baselineName: 'bare setTimeout p99' } : {}),
          target: r.target,
          pass: r.pass,
        });
      });
  },
  storm: (j) => [
    figure({ bench: 'storm', name: `storm: ${j.events} AENs over ${j.keys} keys (${j.shape}), events/s to quiescence`, value: num('storm', j.events_per_s, 'events_per_s'), unit: '/s', baseline: num('storm', j.baseline?.per_s, 'baseline.per_s'), baselineName: 'bare node, fired alike' }),
    figure({ bench: 'storm', name: 'storm: settle, last event fired -> last action done', value: num('storm', j.settle_ms, 'settle_ms'), unit: 'ms' }),
    figure({ bench: 'storm', name: 'storm: lost events (keys not acted on after their last event)', value: num('storm', j.lost, 'lost'), unit: '', target: '0', pass: j.lost === 0 }),
    figure({
      bench: 'storm',
      name: 'storm: action runs per key, max',
      value: num('storm', j.max_runs_per_key, 'max_runs_per_key'),
      unit: '',
      ...(j.runs_bound === null ? {} : { target: `<= ${j.runs_bound}`, pass: j.max_runs_per_key <= j.runs_bound }),
    }),
  ],
  'peer-nvme-cli': (j) => {
    if (!Array.isArray(j.rows) || j.rows.length < 2) throw new Error('peer-nvme-cli: its --json output has no rows');
    return j.rows.slice(1).map((/** @type {[string, string, string, string]} */ [measure, peer, ours, r]) => {
      const seconds = (/** @type {string} */ t) => (/^[0-9.]+ s$/.test(t) ? Number(t.slice(0, -2)) : t);
      const value = seconds(ours);
      const baseline = seconds(peer);
      return { bench: 'peer-nvme-cli', name: `peer: ${measure}`, value, unit: typeof value === 'number' ? 's' : '', baseline, baselineName: 'nvme-cli', ...(r !== '-' ? { ratio: Number(r) } : {}) };
    });
  },
};

/** @param {number | string | undefined} v */
export function formatValue(v) {
  if (v === undefined) return '-';
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en');
  const abs = Math.abs(v);
  return abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/**
 * @param {Machine} machine
 * @param {readonly Figure[]} figures
 * @param {readonly NotRun[]} notRun
 * @returns {string}
 */
export function formatTable(machine, figures, notRun) {
  const header = ['benchmark', 'figure', 'value', 'unit', 'baseline', 'ratio', 'target'];
  const rows = figures.map((f) => [
    f.bench,
    f.name,
    formatValue(f.value),
    f.unit,
    f.baseline === undefined ? '-' : `${formatValue(f.baseline)}${f.baselineName ? ` (${f.baselineName})` : ''}`,
    f.ratio === undefined ? '-' : `${f.ratio.toFixed(2)}x`,
    f.target === undefined ? '-' : `${f.target}${f.pass === true ? ' met' : f.pass === false ? ' MISSED' : ''}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const right = new Set([2, 5]);
  const line = (/** @type {string[]} */ r) => `| ${r.map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(' | ')} |`;
  const out = [
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB.toFixed(1)} GiB RAM, ${machine.kernel}, node ${machine.node}, ${machine.date}`,
    '',
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
  ];
  if (notRun.length) out.push('', ...notRun.map((n) => `${n.status} ${n.bench}: ${n.reason}`));
  return out.join('\n');
}
