/**
 * SRP's lines in `sanhook status`: every SRP remote port with its state,
 * timers, SCSI devices and the policy sanhook would give it; every login
 * timerd is re-adding (deleted by the kernel, no port now); every target
 * erased on purpose.
 *
 * Contract: report items only, read-only; nothing on a host without SRP
 * ports, timers or records (an NVMe-only host's status stays as it was).
 */
import type { CommandContext } from '../../core/fabric.js';
import { listRecords } from '../../core/state.js';
import { timerEntries } from '../../core/timer-entries.js';
import { policyFor, ruleSubject, srpSettings } from './config.js';
import { SRP_KEY_KIND } from './keys.js';
import { SRP_STORES } from './locations.js';
import { describePolicy } from './policy.js';
import { readPorts } from './sysfs.js';
import { resolveLogin } from './targets.js';

export async function srpStatus({ system, config, reporter }: CommandContext): Promise<void> {
  if (system.paths.platform !== 'linux') return;
  const settings = srpSettings(config);
  const timers = await timerEntries(system);
  const shown = new Set<string>();
  for (const port of await readPorts(system)) {
    const h = port.scsiHost;
    const login = await resolveLogin(system, { host: h.host, idExt: h.idExt, iocGuid: h.iocGuid, ...(h.ib ? { ib: h.ib } : {}) });
    shown.add(login.key);
    const policy = policyFor(settings, login.target ? ruleSubject(login.target) : { idExt: h.idExt, iocGuid: h.iocGuid, ...(h.ib ? { dgid: h.ib.dgid } : {}) });
    const devices = port.devices.map((d) => `${d.name} ${d.state}`).join(', ') || 'no SCSI devices';
    const matches = describePolicy(port.timers) === describePolicy(policy.timers) ? 'as sanhook sets them' : `sanhook's policy: ${describePolicy(policy.timers)}`;
    const reAdd = login.target ? 'can be added again' : 'cannot be added again (RDMA/CM, not added with srp-add)';
    reporter.item({
      hook: 'status',
      outcome: 'srp',
      key: login.key,
      port: port.name,
      state: port.state,
      timers: port.timers,
      scsiHost: `host${h.hostNo}`,
      devices: port.devices,
      text: `${login.key}: ${port.name} (host${h.hostNo}) ${port.state}; ${describePolicy(port.timers)} (${matches}); failed_reconnects ${port.failedReconnects ?? '?'}; ${devices}; ${reAdd}`,
    });
  }
  for (const [key, timer] of timers) {
    if (!key.startsWith(`${SRP_KEY_KIND}:`) || shown.has(key)) continue;
    reporter.item({
      hook: 'status',
      outcome: 'srp',
      key,
      state: 'deleted',
      retry: { attempts: timer.attempts, next: timer.next },
      text: `${key}: deleted by the kernel; re-adding: ${timer.attempts} attempt(s) made${timer.next ? `, next ${timer.next.event} at ${timer.next.at}` : ''}${timer.running ? ' (running)' : ''}`,
    });
  }
  for (const record of await listRecords(system, SRP_STORES.erased)) {
    const key = String(record.key);
    if (shown.has(key)) continue;
    reporter.item({ hook: 'status', outcome: 'srp', key, state: 'erased', text: `${key}: erased on purpose (${String(record.reason ?? 'manual')}, ${String(record.at ?? '?')}); sanhook adds it again only after srp-add` });
  }
}
