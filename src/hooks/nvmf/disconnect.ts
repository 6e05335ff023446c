/**
 * `sanhook disconnect` (admin): disconnect NVMe-oF I/O controllers and make
 * sure nothing brings them back — not timerd, not `lost`, not a later AEN or
 * boot-time connect — until an admin runs `sanhook connect --nqn <nqn>`.
 *
 * Contract: for every matching path, in this order: tombstone (durable) →
 * forget the managed record → disarm its timer → `nvme disconnect -d nvmeX`.
 * The tombstone comes first so the remove uevent's `lost` already sees it.
 * Paths known only from sanhook's records (lost, being retried) are covered too.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ActionError, UsageError } from '../../core/errors.js';
import type { IoConnectParams } from './connect-decide.js';
import { forgetManaged, markDisconnected } from './endpoint-state.js';
import { ioKey, ioOptionsFromController, ioParamsFromOptions } from './io-request.js';
import { firstLine, NVME } from './nvme-cli.js';
import { readControllers, type Controller } from './sysfs.js';
import type { Reporter } from '../../core/report.js';
import type { System } from '../../core/system.js';
import { canonicalIp } from './validate.js';
import * as validate from './validate.js';
import { disarmQuietly } from './reconnect.js';

export interface DisconnectFilter {
  readonly device?: string;
  readonly nqn?: string;
  readonly transport?: string;
  readonly traddr?: string;
  readonly trsvcid?: string;
}

export function validateFilter(raw: Record<string, string | undefined>): DisconnectFilter {
  const filter: { -readonly [K in keyof DisconnectFilter]: DisconnectFilter[K] } = {};
  if (raw.device !== undefined) filter.device = validate.device(raw.device);
  if (raw.nqn !== undefined) filter.nqn = validate.nqn(raw.nqn);
  if (raw.transport !== undefined) filter.transport = validate.transport(raw.transport);
  if (raw.traddr !== undefined) filter.traddr = validate.transportAddress(raw.traddr, (filter.transport ?? 'tcp') as validate.Transport, '--traddr');
  if (raw.trsvcid !== undefined) filter.trsvcid = validate.port(raw.trsvcid);
  if (!filter.device && !filter.nqn) throw new UsageError('give --device nvmeX or --nqn NQN (optionally with --transport/--traddr/--trsvcid)', '--nqn');
  return filter;
}

/** Pure: does this I/O path match the admin's filter? */
export function matches(filter: DisconnectFilter, path: { device?: string; params: IoConnectParams }): boolean {
  if (filter.device) return path.device === filter.device;
  return (
    path.params.subnqn === filter.nqn &&
    (filter.transport === undefined || path.params.transport === filter.transport) &&
    (filter.traddr === undefined || canonicalIp(path.params.traddr) === canonicalIp(filter.traddr)) &&
    (filter.trsvcid === undefined || path.params.trsvcid === filter.trsvcid)
  );
}

function paramsOf(controller: Controller): IoConnectParams | undefined {
  try {
    return ioParamsFromOptions(ioOptionsFromController(controller));
  } catch {
    return undefined;
  }
}

async function managedPaths(system: System): Promise<IoConnectParams[]> {
  const dir = path.join(system.paths.state, 'nvmf', 'managed');
  const names = await readdir(dir).catch(() => [] as string[]);
  const result: IoConnectParams[] = [];
  for (const name of names.filter((n) => !n.endsWith('.tmp'))) {
    try {
      const record = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as { params: Record<string, string> };
      result.push(ioParamsFromOptions(record.params));
    } catch {
      // unreadable or vanished: not ours to act on
    }
  }
  return result;
}

export async function runDisconnect(system: System, filter: DisconnectFilter, dryRun: boolean, reporter: Reporter): Promise<void> {
  const controllers = (await readControllers(system)).filter((c) => c.cntrltype !== 'discovery');
  const targets = new Map<string, { device?: string; params: IoConnectParams }>();
  for (const controller of controllers) {
    const params = paramsOf(controller);
    if (params && matches(filter, { device: controller.name, params })) targets.set(controller.name, { device: controller.name, params });
  }
  if (!filter.device) {
    const live = new Set([...targets.values()].map((t) => ioKey(t.params)));
    for (const params of await managedPaths(system)) {
      if (!live.has(ioKey(params)) && matches(filter, { params })) targets.set(ioKey(params), { params });
    }
  }
  if (targets.size === 0) {
    reporter.item({ hook: 'disconnect', outcome: 'nothing-to-do', text: 'no NVMe-oF I/O controller or sanhook record matches' });
    return;
  }
  const failures: string[] = [];
  for (const target of targets.values()) {
    const key = ioKey(target.params);
    const argv = target.device ? ['disconnect', '--device', target.device] : undefined;
    if (dryRun) {
      reporter.item({ hook: 'disconnect', key, outcome: 'would-disconnect', text: `${key}: would mark disconnected, disarm${argv ? `, run nvme ${argv.join(' ')}` : ''}` });
      continue;
    }
    await markDisconnected(system, key);
    await forgetManaged(system, key);
    const disarmed = await disarmQuietly(system, key);
    let outcome = 'disconnected';
    if (argv) {
      const result = await system.exec(NVME, argv);
      if (result.exitCode !== 0 || /did not find/i.test(result.stderr)) {
        outcome = 'failed';
        failures.push(`${target.device}: ${firstLine(result.stderr) || `exit ${result.exitCode}`}`);
      }
    }
    system.log.info({ hook: 'disconnect', key, device: target.device ?? null, outcome, disarmed }, 'disconnect');
    reporter.item({
      hook: 'disconnect',
      key,
      device: target.device,
      outcome,
      disarmed,
      text: `${key}: ${outcome}${target.device ? ` (${target.device})` : ' (was not connected)'}${disarmed ? '; timer disarmed' : ''}; will not be reconnected`,
    });
  }
  if (failures.length > 0) throw new ActionError(`nvme disconnect failed: ${failures.join('; ')}`, { failures });
}
