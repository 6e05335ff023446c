#!/usr/bin/env node
/**
 * Bundles the compiled program (dist/cli.js, from tsc) and its dependencies
 * into dist/bundle/, which bin/sanhook.js runs.
 *
 * Why: every udev event starts a fresh node, and resolving and compiling the
 * ~150 files of dist/ and node_modules (commander, pino, execa, yaml,
 * proper-lockfile) was half of a hook's cold start (bench/udev-latency:
 * event -> first `nvme` ~200 ms unbundled, ~100 ms bundled on the CI-class
 * machine). Code splitting keeps the lazy imports lazy: the fast path for an
 * irrelevant uevent loads only cli.js and its small chunks, and execa / pino
 * are chunks loaded on first use. Not minified: a stack trace in a bug report
 * must stay readable.
 *
 * Also writes dist/bundle-packages.json: the npm packages whose code the
 * bundle carries, with version and licence (the .deb's copyright file).
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(REPO, 'dist', 'bundle');

rmSync(OUT, { recursive: true, force: true });
const result = await build({
  entryPoints: [path.join(REPO, 'dist', 'cli.js')],
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // CommonJS dependencies (commander, proper-lockfile, pino) call require() for node built-ins.
  banner: { js: "import { createRequire as __sanhookCreateRequire } from 'node:module'; const require = __sanhookCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: true,
});

// Which npm packages the bundle carries (their code is in it): the Debian
// package's copyright file names each with its licence (scripts/build-deb.mjs).
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const dirs = input.match(/(?:^|\/)node_modules\/(?:@[^/]+\/)?[^/]+\//g);
  if (dirs) packages.set(input.slice(0, input.lastIndexOf(dirs.at(-1)) + dirs.at(-1).length).replace(/^\//, ''), true);
}
const bundled = [...packages.keys()]
  .map((dir) => {
    const manifest = JSON.parse(readFileSync(path.join(REPO, dir, 'package.json'), 'utf8'));
    const licenseFile = readdirSync(path.join(REPO, dir)).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
    return { name: manifest.name, version: manifest.version, license: manifest.license, licenseFile: licenseFile ? path.join(dir, licenseFile) : null };
  })
  .sort((a, b) => a.name.localeCompare(b.name));
writeFileSync(path.join(REPO, 'dist', 'bundle-packages.json'), `${JSON.stringify(bundled, null, 2)}\n`);
