/**
 * FCoE's lines in `sanhook status`: each interface of /etc/fcoe with its
 * ctlr, its DCB verdict (the same observation and table dcb-check uses, read
 * only: DCB queries and sysfs reads change nothing) and its retry state
 * (timerd's entry for the key).
 *
 * Contract: report items only, one per configured interface, nothing on a
 * host without cfg files (an NVMe-only host's status stays as it was).
 */
import { timerEntries } from '../../core/timer-entries.js';
import type { CommandContext } from '../../core/fabric.js';
import { fcoeSettings } from './config.js';
import { checkVerdict } from './decide.js';
import { readFcoeConfig } from './fcoe-config.js';
import { observeCheck } from './hooks.js';
import { fcoeKey } from './keys.js';
import type { CheckObservation } from './decide.js';

/** The verdict as one word and one phrase: dcb-check's own (checkVerdict), on the same observation. */
export function describeVerdict(o: CheckObservation): { readonly verdict: string; readonly text: string } {
  const verdict = checkVerdict(o);
  switch (verdict.kind) {
    case 'not-configured':
    case 'not-enabled':
      return { verdict: 'not-managed', text: 'FCOE_ENABLE is not "yes": not managed' };
    case 'netdev-gone':
      return { verdict: verdict.kind, text: 'the netdev does not exist' };
    case 'link-down':
      return { verdict: verdict.kind, text: `link down on ${verdict.link}` };
  }
  if (!verdict.dcb) return { verdict: verdict.kind, text: verdict.text };
  if (verdict.dcb.kind === 'ready') return { verdict: verdict.kind, text: `DCB ready (${verdict.source}): App:FCoE priority ${verdict.dcb.priority}, PFC on ${verdict.dcb.pfc.join(',')}` };
  return { verdict: verdict.kind, text: `DCB ${verdict.kind} (${verdict.source}): ${verdict.text}` };
}

export async function fcoeStatus({ system, config, reporter }: CommandContext): Promise<void> {
  if (system.paths.platform !== 'linux') return;
  const { interfaces } = await readFcoeConfig(system);
  if (interfaces.length === 0) return;
  const settings = fcoeSettings(config);
  const timers = await timerEntries(system);
  for (const cfg of interfaces) {
    const key = fcoeKey(cfg.ifname);
    const observed = await observeCheck(system, settings, cfg.ifname);
    const { verdict, text } = describeVerdict(observed);
    const ctlr = observed.ctlr ? `${observed.ctlr.name} ${observed.ctlr.enabled ? 'enabled' : 'disabled'} (${observed.ctlr.mode})` : 'no ctlr';
    const timer = timers.get(key);
    const retry = timer
      ? `retrying: ${timer.attempts} attempt(s) made${timer.next ? `, next ${timer.next.event} at ${timer.next.at}` : ''}${timer.running ? ' (running)' : ''}`
      : 'no retry pending';
    const via = observed.links.real.ifname === cfg.ifname ? '' : ` on ${observed.links.real.ifname}`;
    reporter.item({
      hook: 'status',
      outcome: 'fcoe',
      key,
      ctlr: observed.ctlr ?? null,
      verdict,
      dcbRequired: cfg.dcbRequired,
      mode: cfg.mode,
      retry: timer ? { attempts: timer.attempts, next: timer.next } : null,
      text: `${key}${via}: ${ctlr}; ${cfg.mode}, DCB ${cfg.dcbRequired ? 'required' : 'not required'}; ${text}; ${retry}`,
    });
  }
}
