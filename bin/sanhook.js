#!/usr/bin/env node
// The only place that sets the process exit code (see src/cli.ts).
import { fileURLToPath } from 'node:url';
import { main } from '../dist/cli.js';

// A reader that went away (`sanhook status | head`, a systemd-cat that died) must not
// turn a finished hook into an unhandled 'error' and a stack trace: drop the output.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  selfArgv: [process.execPath, fileURLToPath(import.meta.url)],
});
