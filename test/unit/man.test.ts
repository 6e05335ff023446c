/**
 * The manual pages come from the program that parses the command line and the
 * config schema: every command, argument, option and setting reaches its page
 * (nothing can drift from --help), roff escaping keeps text as written, and
 * groff reads each page without a warning (in CI, where groff is installed,
 * a missing groff fails instead of skipping).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSections, describeSettings } from '../../src/core/config.js';
import { FABRICS } from '../../src/hooks/index.js';
import { EXIT_STATUS, exitStatusHelp } from '../../src/man/exit-status.js';
import { confPage, manPages, optionTag, sanhookPage, timerdPage } from '../../src/man/pages.js';
import { escapeText, inline, macro, prose } from '../../src/man/roff.js';
import { buildProgram } from '../../src/program.js';

const io = { env: {}, stdout: () => {}, stderr: () => {}, selfArgv: [], platform: 'linux' as const };
const META = { version: '9.9.9', date: '2026-11-30' };
const program = () => buildProgram(io);

describe('roff escaping', () => {
  it.each([
    ['--dry-run', '\\-\\-dry\\-run'],
    ['a\\b', 'a\\eb'],
    ['.start of line', '\\&.start of line'],
    ["'quoted start", "\\&'quoted start"],
    ['mid . and \' stay', "mid . and ' stay"],
    ['0.2 s × n — ok', '0.2 s \\[u00D7] n \\[u2014] ok'],
    ['two\n.lines', 'two\n\\&.lines'],
  ])('%j -> %j', (text, roff) => expect(escapeText(text)).toBe(roff));

  it('quotes macro arguments and doubles inner quotes', () => {
    expect(macro('TH', 'SANHOOK', '8', 'a "b"')).toBe('.TH "SANHOOK" "8" "a ""b"""');
  });

  it('inline markup: **bold**, *italic*, the rest escaped', () => {
    expect(inline('run **sanhook status** in */run/x*-y')).toBe('run \\fBsanhook status\\fR in \\fI/run/x\\fR\\-y');
  });

  it('prose: paragraphs, verbatim blocks, bullets', () => {
    expect(prose('one\ntwo\n\n  cmd --x\n\n- a\n- b')).toBe(['.PP', 'one two', '.PP', '.RS 4', '.nf', 'cmd \\-\\-x', '.fi', '.RE', '.IP \\(bu 2', 'a', '.IP \\(bu 2', 'b'].join('\n'));
  });

  it('option flags: bold flags, italic placeholders', () => {
    expect(optionTag('-a, --traddr <value>')).toBe('\\fB\\-a\\fR, \\fB\\-\\-traddr\\fR \\fIvalue\\fR');
  });
});

describe('the pages carry everything --help does', () => {
  const p = program();
  const commands = p.commands.filter((c) => c.name() !== 'help');

  it('sanhook(8) lists every command but timerd, with every visible option and argument', () => {
    const page = sanhookPage(p, META);
    for (const command of commands.filter((c) => c.name() !== 'timerd')) {
      expect(page, command.name()).toContain(`\\fB${escapeText(command.name())}\\fR`);
      expect(page).toContain(escapeText(command.description()));
      for (const option of command.options.filter((o) => !o.hidden)) expect(page, `${command.name()} ${option.flags}`).toContain(optionTag(option.flags));
      for (const argument of command.registeredArguments) expect(page).toContain(`\\fI${argument.name()}\\fR`);
    }
    for (const option of p.options.filter((o) => !o.hidden)) expect(page, option.flags).toContain(optionTag(option.flags));
    expect(page).toContain('sanhook\\-timerd(8)');
  });

  it('hidden options stay out, as in --help', () => {
    const hidden = commands.flatMap((c) => c.options.filter((o) => o.hidden).map((o) => o.long ?? ''));
    const page = sanhookPage(p, META);
    for (const long of hidden) expect(page).not.toContain(`\\fB${escapeText(long)}\\fR`);
  });

  it('sanhook-timerd(8) has the timerd command options', () => {
    const page = timerdPage(p, META);
    const timerd = commands.find((c) => c.name() === 'timerd')!;
    expect(timerd.options.length).toBeGreaterThan(0);
    for (const option of timerd.options) expect(page).toContain(optionTag(option.flags));
  });

  it('sanhook.conf(5) has every setting of every section with its default', () => {
    const settings = describeSettings(configSections(FABRICS));
    const page = confPage(settings, META);
    for (const s of settings) expect(page, s.key).toContain(`\\fB${escapeText(s.key)}\\fR${s.default ? ` (default: ${escapeText(s.default)})` : ''}`);
    expect(settings.some((s) => s.key.startsWith('srp.')) && settings.some((s) => s.key.startsWith('fcoe.')) && settings.some((s) => s.key.startsWith('nvmf.'))).toBe(true);
  });

  it('every exit code, in --help and in the page', () => {
    const page = sanhookPage(p, META);
    for (const [code, text] of EXIT_STATUS) {
      expect(exitStatusHelp()).toContain(`  ${code}  ${text}`);
      expect(page).toContain(`\\fB${code}\\fR`);
    }
  });

  it('the header names the version and the source date', () => {
    expect(sanhookPage(p, META).split('\n')[1]).toBe('.TH "SANHOOK" "8" "2026\\-11\\-30" "sanhook 9.9.9" "System Administration"');
  });
});

describe('groff reads every page without a warning', () => {
  const groff = spawnSync('groff', ['--version'], { encoding: 'utf8' });
  const missing = groff.error !== undefined;
  it.runIf(!missing || process.env.CI)('groff -man -ww -z', () => {
    if (missing) throw new Error('groff is missing (apt-get install groff-base)');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sanhook-man-'));
    for (const [name, text] of Object.entries(manPages(program(), describeSettings(configSections(FABRICS)), META))) {
      const file = path.join(dir, name);
      writeFileSync(file, text);
      const run = spawnSync('groff', ['-man', '-ww', '-z', file], { encoding: 'utf8' });
      expect(run.stderr, name).toBe('');
      expect(run.status, name).toBe(0);
    }
  });
});
