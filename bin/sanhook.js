#!/usr/bin/env node
// The only place that sets the process exit code (see src/cli.ts).
import { fileURLToPath } from 'node:url';
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  selfArgv: [process.execPath, fileURLToPath(import.meta.url)],
});
