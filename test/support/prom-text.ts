/**
 * The textfile as Prometheus reads it: parsed by parse-prometheus-text-format
 * (a well-kept parser of the text exposition format, also what it unescapes
 * label values with), plus the rules that parser is lenient about and
 * node_exporter's textfile collector is not: every family has HELP and TYPE
 * once, before its samples; every sample line is `name{labels} value`, its
 * value a number; no series twice; the file ends with a newline.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { expect } from 'vitest';

export interface Sample {
  readonly name: string;
  readonly type: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? (-?[0-9]+(\.[0-9]+)?)$/;

export function parseTextfile(text: string): Sample[] {
  expect(text.endsWith('\n'), 'ends with a newline').toBe(true);
  const helped = new Set<string>();
  const typed = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([^ ]+) /.exec(line);
    if (meta) {
      const seen = meta[1] === 'HELP' ? helped : typed;
      expect(seen.has(meta[2]!), `${meta[1]} ${meta[2]} once`).toBe(false);
      seen.add(meta[2]!);
      continue;
    }
    const m = SAMPLE_LINE.exec(line);
    expect(m, `a sample line: ${line}`).not.toBeNull();
    expect(helped.has(m![1]!) && typed.has(m![1]!), `HELP and TYPE before ${m![1]}`).toBe(true);
  }
  const samples: Sample[] = [];
  const series = new Set<string>();
  for (const family of parsePrometheusTextFormat(text)) {
    for (const metric of family.metrics) {
      const labels = metric.labels ?? {};
      const id = `${family.name}${JSON.stringify(labels)}`;
      expect(series.has(id), `series ${id} once`).toBe(false);
      series.add(id);
      expect(Number.isFinite(Number(metric.value)), `${id} value ${metric.value}`).toBe(true);
      samples.push({ name: family.name, type: family.type, labels, value: Number(metric.value) });
    }
  }
  return samples;
}

/** The value of the one sample of `name` with exactly these labels (undefined if absent). */
export function valueOf(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  return samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()))?.value;
}
