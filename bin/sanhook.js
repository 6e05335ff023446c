#!/usr/bin/env -S node --jitless --no-expose-wasm
// --jitless: hooks run inside systemd-udevd's sandbox, whose MemoryDenyWriteExecute=yes
// (upstream and every distribution) kills V8's JIT with SIGTRAP; interpreted JavaScript
// starts as fast for a short-lived hook (docs/design.md "Running under systemd-udevd").
// --no-expose-wasm: node 20 otherwise prints "disabling flag --expose_wasm" on stderr,
// which would land in the journal on every event. (`env -S`: coreutils >= 8.30, FreeBSD.)
// The only place that sets the process exit code (see src/cli.ts). Runs the bundle
// (scripts/bundle.mjs): one file per chunk instead of ~150 modules to resolve at every uevent.
import { fileURLToPath } from 'node:url';
import { main } from '../dist/bundle/cli.js';

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
  // execArgv carries --jitless, so hooks that timerd or a hand-off start run the same way.
  selfArgv: [process.execPath, ...process.execArgv, fileURLToPath(import.meta.url)],
  platform: process.platform,
  stdin: process.stdin,
});
