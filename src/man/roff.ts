/**
 * Just enough roff (man(7) macros) to write sanhook's manual pages from data:
 * escaping text so groff prints it as written, and the few macros the pages
 * use.
 *
 * Contract: pure string functions; what they return passes
 * `groff -man -ww -z` without a warning (test/unit/man.test.ts).
 */

/**
 * Text as roff prints it: a backslash is `\e`, a hyphen-minus is `\-` (roff
 * turns a bare `-` into a hyphen, which breaks copied options), and a line
 * may not start with `.` or `'` (a control line) — `\&` before them makes it
 * text — and a character beyond ASCII is groff's `\[uXXXX]` (man pages are
 * read as Latin-1 or ASCII by troff without preconv).
 */
export function escapeText(text: string): string {
  return text
    .replaceAll('\\', '\\e')
    .replaceAll('-', '\\-')
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`)
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

/** A macro line: `.TH`, `.SH`, ... with each argument quoted (inner quotes doubled, as groff reads them). */
export function macro(name: string, ...args: readonly string[]): string {
  return [`.${name}`, ...args.map((a) => `"${escapeText(a).replaceAll('"', '""')}"`)].join(' ');
}

/** Bold words (`.B` for a whole line; inline `\fB...\fR`). */
export const bold = (text: string): string => `\\fB${escapeText(text)}\\fR`;
export const italic = (text: string): string => `\\fI${escapeText(text)}\\fR`;

/**
 * Inline markup in prose: `**word**` bold, `*word*` italic, the rest escaped.
 * The page sources stay readable as text (they also feed --help).
 */
export function inline(text: string): string {
  return text
    .split(/(\*\*[^*]+\*\*|\*[^*\s][^*]*\*)/)
    .map((part) => (part.startsWith('**') && part.endsWith('**') && part.length > 4 ? bold(part.slice(2, -2)) : part.startsWith('*') && part.endsWith('*') && part.length > 2 ? italic(part.slice(1, -1)) : escapeText(part)))
    .join('');
}

/** Paragraphs of prose (blank-line separated) as `.PP` blocks; lines starting with `  ` are kept verbatim (`.nf`). */
export function prose(text: string): string {
  const out: string[] = [];
  for (const block of text.trim().split(/\n\s*\n/)) {
    const lines = block.split('\n');
    if (lines.every((l) => l.startsWith('  '))) {
      out.push('.PP', '.RS 4', '.nf', ...lines.map((l) => escapeText(l.slice(2))), '.fi', '.RE');
    } else if (lines.every((l) => l.startsWith('- '))) {
      for (const l of lines) out.push('.IP \\(bu 2', inline(l.slice(2)));
    } else {
      out.push('.PP', inline(lines.join(' ')));
    }
  }
  return out.join('\n');
}

/** A tagged paragraph: `.TP` with the tag line and its text. */
export function tagged(tag: string, text: string): string {
  return ['.TP', tag, inline(text)].join('\n');
}
