/**
 * NVMe-oF's lines in `sanhook status` (Linux): every fabrics controller with
 * its owner in nvme-cli's ownership registry (registry.ts): `sanhook`,
 * another orchestrator's name, `unowned`, or a stale entry of a recycled
 * name (shown, ignored).
 *
 * Contract: report items only, read-only; nothing on a host without fabrics
 * controllers.
 */
import type { CommandContext } from '../../core/fabric.js';
import { ioKey, ioOptionsFromController, ioParamsFromOptions } from './io-request.js';
import { describeOwnership, readEntry, readIncarnation, ownershipOf, SANHOOK_OWNER } from './registry.js';
import { readControllers, type Controller } from './sysfs.js';

export async function nvmfStatus({ system, reporter }: CommandContext): Promise<void> {
  if (system.paths.platform !== 'linux') return;
  for (const c of await readControllers(system)) {
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
