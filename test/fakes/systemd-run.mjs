#!/usr/bin/env node
/**
 * A fake `systemd-run` (systemd 252) for integration tests: records its argv, then
 * really runs the command detached, as a transient service unit would.
 *
 * - Accepts only the options listed in OPTIONS (an unknown one fails as the real
 *   one does: "unrecognized option", exit 1), so a changed command line is caught.
 * - Validates the unit name like systemd (characters, length); ".service" is
 *   appended when the name has no suffix. A unit of the same name that is still
 *   running makes the call fail ("already exists"), like the real manager.
 * - Appends one JSON line to $FAKE_NVME_STATE/systemd-run.jsonl:
 *   {argv, pid, ppid, start, unit, options, command, pending}
 *   where `pending` lists $FAKE_PENDING_DIR at the moment of the call (so a test
 *   can check that the caller recorded its event before handing off).
 * - The command runs in a new session (detached, like a unit: not a child of the
 *   caller's process group), cwd "/", with a clean environment: PATH, every FAKE_*
 *   variable and --setenv values only (no udev variables leak into the unit).
 *   Its stdout+stderr go to $FAKE_NVME_STATE/units/<unit>.log (the "journal");
 *   when it ends, units/<unit>.json gets {unit, argv, mainPid, start, end, exitCode, signal}.
 * - Returns at once (exit 0) after starting the unit.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const state = process.env.FAKE_NVME_STATE;
if (!state) {
  process.stderr.write('fake systemd-run: FAKE_NVME_STATE must be set\n');
  process.exit(99);
}
const now = () => performance.timeOrigin + performance.now();
const units = path.join(state, 'units');

if (process.argv[2] === '--fake-unit-runner') {
  // The "service manager" side: run the main process, record how it ended.
  const unit = process.argv[3];
  const command = process.argv.slice(5);
  const start = now();
  const child = spawn(command[0], command.slice(1), { stdio: 'inherit', env: process.env, cwd: '/' });
  const done = (exitCode, signal) => {
    writeFileSync(path.join(units, `${unit}.json`), JSON.stringify({ unit, argv: command, mainPid: child.pid, start, end: now(), exitCode, signal }));
    try {
      unlinkSync(path.join(units, `${unit}.active`));
    } catch {}
  };
  child.on('error', (error) => done(203, null, error));
  child.on('exit', (code, signal) => done(code, signal));
} else {
  main();
}

function main() {
  const start = now();
  const argv = process.argv.slice(2);
  /** name → takes a value */
  const OPTIONS = {
    '--no-block': false,
    '--collect': false,
    '-G': false,
    '--quiet': false,
    '-q': false,
    '--unit': true,
    '-u': true,
    '--description': true,
    '--setenv': true,
    '-E': true,
    '--property': true,
    '-p': true,
    '--service-type': true,
  };
  const options = {};
  const setenv = {};
  let i = 0;
  for (; i < argv.length; i += 1) {
    const word = argv[i];
    if (word === '--') {
      i += 1;
      break;
    }
    if (!word.startsWith('-')) break;
    const eq = word.startsWith('--') ? word.indexOf('=') : -1;
    const name = eq > 0 ? word.slice(0, eq) : word;
    if (!(name in OPTIONS)) return fail(`systemd-run: unrecognized option '${word}'`);
    let value = true;
    if (OPTIONS[name]) {
      if (eq > 0) value = word.slice(eq + 1);
      else {
        i += 1;
        if (i >= argv.length) return fail(`systemd-run: option '${word}' requires an argument`);
        value = argv[i];
      }
    } else if (eq > 0) return fail(`systemd-run: option '${name}' doesn't allow an argument`);
    const long = { '-G': '--collect', '-q': '--quiet', '-u': '--unit', '-E': '--setenv', '-p': '--property' }[name] ?? name;
    if (long === '--setenv') {
      const at = value.indexOf('=');
      if (at <= 0) return fail(`Failed to parse environment variable: ${value}`);
      setenv[value.slice(0, at)] = value.slice(at + 1);
    } else options[long] = value;
  }
  const command = argv.slice(i);
  if (command.length === 0) return fail('Command line to execute required.');
  let unit = typeof options['--unit'] === 'string' ? options['--unit'] : `run-u${process.pid}`;
  if (!/\.(service|scope)$/.test(unit)) unit = `${unit}.service`;
  if (unit.length > 255 || !/^[A-Za-z0-9:_.\\@-]+$/.test(unit)) return fail(`Failed to mangle unit name: Invalid argument`);

  const pendingDir = process.env.FAKE_PENDING_DIR;
  const pending = pendingDir && existsSync(pendingDir) ? readdirSync(pendingDir).sort() : [];
  appendFileSync(path.join(state, 'systemd-run.jsonl'), `${JSON.stringify({ argv, pid: process.pid, ppid: process.ppid, start, unit, options, setenv, command, pending })}\n`);

  mkdirSync(units, { recursive: true });
  try {
    closeSync(openSync(path.join(units, `${unit}.active`), 'wx'));
  } catch {
    return fail(`Failed to start transient service unit: Unit ${unit} was already loaded or has a fragment file.`);
  }
  const env = { ...setenv };
  for (const [name, value] of Object.entries(process.env)) {
    if (name === 'PATH' || name.startsWith('FAKE_')) env[name] = value;
  }
  env.INVOCATION_ID = Math.random().toString(16).slice(2).padEnd(32, '0');
  const log = openSync(path.join(units, `${unit}.log`), 'a');
  const runner = spawn(process.execPath, [fileURLToPath(import.meta.url), '--fake-unit-runner', unit, '--', ...command], {
    detached: true,
    stdio: ['ignore', log, log],
    env,
    cwd: '/',
  });
  runner.unref();
  closeSync(log);
  if (!options['--quiet']) process.stderr.write(`Running as unit: ${unit}\n`);
  process.exitCode = 0;
}

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exitCode = 1;
}
