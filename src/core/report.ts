/**
 * What a hook tells the person (or program) that ran it, on stdout.
 *
 * Contract: `text` prints one human line per item as it happens; `json`
 * prints one JSON object per line (NDJSON) with the same fields. Logs (stderr)
 * are separate and for machines; the report is the answer to "what happened".
 */
export const OUTPUT_FORMATS = ['text', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface ReportItem {
  readonly hook: string;
  readonly key?: string;
  /** A short verb: connected, skipped, failed, would-run, queued, nothing-to-do, ... */
  readonly outcome: string;
  /** The human sentence for text output. */
  readonly text: string;
  readonly [field: string]: unknown;
}

export interface Reporter {
  item(item: ReportItem): void;
}

export function createReporter(format: OutputFormat, write: (line: string) => void): Reporter {
  return {
    item(item) {
      if (format === 'json') {
        const { text: _text, ...fields } = item;
        write(`${JSON.stringify(fields)}\n`);
      } else {
        write(`${item.outcome.padEnd(17)} ${item.text}\n`);
      }
    },
  };
}

/** Collects items (tests, and callers that post-process). */
export function collectingReporter(): Reporter & { readonly items: ReportItem[] } {
  const items: ReportItem[] = [];
  return { items, item: (item) => void items.push(item) };
}
