#!/usr/bin/env node
/**
 * Writes sanhook's manual pages into dist/manpages/ (sanhook.8, sanhook-timerd.8,
 * sanhook.conf.5) from the compiled program (dist/, from tsc): the same
 * commander program and config schema that `--help` and the README's
 * settings table come from (src/man/pages.ts). Part of `npm run build`.
 *
 * The page date is the source date, not today: SOURCE_DATE_EPOCH when set
 * (reproducible builds), else the last commit's date, else the date
 * package.json was last changed; a rebuild of one commit is byte-identical.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(REPO, 'dist', 'manpages');

const { buildProgram } = await import(path.join(REPO, 'dist', 'program.js'));
const { configSections, describeSettings } = await import(path.join(REPO, 'dist', 'core', 'config.js'));
const { FABRICS } = await import(path.join(REPO, 'dist', 'hooks', 'index.js'));
const { manPages } = await import(path.join(REPO, 'dist', 'man', 'pages.js'));

function sourceDate() {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch && /^\d+$/.test(epoch)) return new Date(Number(epoch) * 1000);
  try {
    return new Date(execFileSync('git', ['log', '-1', '--format=%cI'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    return statSync(path.join(REPO, 'package.json')).mtime;
  }
}

const version = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version;
const io = { env: {}, stdout: () => {}, stderr: () => {}, selfArgv: [], platform: 'linux' };
const pages = manPages(buildProgram(io), describeSettings(configSections(FABRICS)), { version, date: sourceDate().toISOString().slice(0, 10) });

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
for (const [name, text] of Object.entries(pages)) writeFileSync(path.join(OUT, name), text);
console.log(`man: ${Object.keys(pages).map((n) => `dist/manpages/${n}`).join(', ')}`);
