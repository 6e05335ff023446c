/**
 * NVMe-oF's lines in `sanhook status` (Linux): every fabrics controller with
 * its owner in nvme-cli's ownership registry (registry.ts): `sanhook`,
 * another orchestrator's name, `unowned`, or a stale entry of a recycled
 * name (shown, ignored); and every persistent discovery controller sanhook
 * created (discovery records: its address key, device, whether it is live).
 *
 * Contract: report items only, read-only; nothing on a host without fabrics
 * controllers.
 */
import type { CommandContext } from '../../core/fabric.js';
import { ioKey, ioOptionsFromController, ioParamsFromOptions } from './io-request.js';
import { describeOwnership, readEntry, readIncarnation, ownershipOf, SANHOOK_OWNER } from './registry.js';
import { readControllers, type Controller } from './sysfs.js';
import { listDiscoveryRecords } from './endpoint-state.js';

export async function nvmfStatus({ system, reporter }: CommandContext): Promise<void> {
  if (system.paths.platform !== 'linux') return;
  const controllers = await readControllers(system);
  for (const { key, record } of await listDiscoveryRecords(system)) {
    const state = controllers.find((c) => c.name === record.device && c.cntrltype === 'discovery')?.state ?? 'gone';
    reporter.item({
      hook: 'status',
      outcome: 'nvmf-discovery',
      key,
      device: record.device,
      state,
      text: `${key}: persistent discovery controller ${record.device} created by sanhook, ${state}${state === 'gone' ? ' (timerd brings it back: see sanhook timers)' : ''}`,
    });
  }
  for (const c of controllers) {
    const entry = await readEntry(system, c.name);
    const ownership = ownershipOf(entry, entry ? await readIncarnation(system, c.name) : undefined);
    const owner = ownership.kind === 'ours' ? SANHOOK_OWNER : ownership.kind === 'other' ? ownership.owner : null;
    const key = c.cntrltype === 'discovery' ? undefined : ioKeyOf(c);
    reporter.item({
      hook: 'status',
      outcome: 'nvmf',
      device: c.name,
      ...(key ? { key } : {}),
      cntrltype: c.cntrltype || null,
      state: c.state,
      owner,
      ...(ownership.kind === 'stale' ? { staleEntry: { owner: ownership.owner, seqnum: ownership.seqnum, addSeqnum: ownership.incarnation } } : {}),
      ...(entry ? { seqnum: entry.seqnum } : {}),
      text: `${c.name}: ${c.cntrltype || 'fabrics'} controller ${c.subsysnqn} at ${c.transport} ${c.traddr}:${c.trsvcid}, ${c.state}; owner ${describeOwnership(ownership)}`,
    });
  }
}

/** The I/O path's key, when sysfs describes a valid one (sysfs is data too). */
function ioKeyOf(c: Controller): string | undefined {
  try {
    return ioKey(ioParamsFromOptions(ioOptionsFromController(c)));
  } catch {
    return undefined;
  }
}
