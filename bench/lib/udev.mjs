/**
 * What the benches that time net uevents through systemd-udevd (udev-latency, fcoe)
 * share: a udevd to talk to, and `udevadm monitor` read as it runs.
 *
 * Contract: `ensureUdevd()` starts systemd-udevd only when none answers a ping, and
 * returns the process it started (the caller stops it) or undefined. `startNetMonitor()` spawns udevadm and calls `onBlock({source, ts, props})`
 * for every event block it prints (`source` KERNEL or UDEV, `ts` its receive time in
 * ms on CLOCK_MONOTONIC, `props` the properties); `ready` resolves once udevadm has
 * subscribed to both sources (it prints the "KERNEL - the kernel uevent" line of its
 * banner after that) and rejects if udevadm exits first. The caller kills `process`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { waitFor } from '../../test/support/sandbox.mjs';

/**
 * @param {string} udevadm path of udevadm
 * @param {(block: { source: string, ts: number, props: Record<string, string> }) => void} onBlock
 */
export function startNetMonitor(udevadm, onBlock) {
  const monitor = spawn(udevadm, ['monitor', '--kernel', '--udev', '--property', '--subsystem-match=net'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buffer = '';
  /** @type {{ source: string, ts: number, props: Record<string, string> } | undefined} */
  let block;
  let banner = '';
  let subscribed = false;
  monitor.stdout.setEncoding('utf8');
  monitor.stdout.on('data', (chunk) => {
    if (!subscribed) subscribed = /^KERNEL - /m.test((banner += chunk));
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const head = /^(KERNEL|UDEV)\s*\[(\d+\.\d+)\]/.exec(line);
      if (head) block = { source: head[1], ts: Number(head[2]) * 1000, props: {} };
      else if (line === '' && block) {
        onBlock(block);
        block = undefined;
      } else if (block && line.includes('=')) block.props[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  });
  const listening = () => {
    if (monitor.exitCode !== null) throw new Error(`udevadm monitor exited ${monitor.exitCode}`);
    return subscribed;
  };
  return { process: monitor, ready: waitFor('udevadm monitor to subscribe', listening, { timeoutMs: 10_000, everyMs: 5 }) };
}

/**
 * Does a systemd-udevd answer on its control socket?
 * @param {string} udevadm
 */
export function udevdAlive(udevadm) {
  return spawnSync(udevadm, ['control', '--ping', '--timeout=1'], { stdio: 'ignore' }).status === 0;
}

/**
 * A udevd to run the bench's rules: the one running, or a new one (returned, for the caller to stop).
 * @param {string} udevd path of systemd-udevd
 * @param {string} udevadm path of udevadm
 * @returns {Promise<import('node:child_process').ChildProcess | undefined>}
 */
export async function ensureUdevd(udevd, udevadm) {
  if (udevdAlive(udevadm)) return undefined;
  const started = spawn(udevd, [], { stdio: 'ignore' });
  await waitFor(
    'systemd-udevd to answer a ping',
    () => {
      if (started.exitCode !== null) throw new Error(`systemd-udevd exited ${started.exitCode}`);
      return udevdAlive(udevadm);
    },
    { timeoutMs: 10_000, everyMs: 20 },
  );
  return started;
}
