/**
 * FCoE's key kind: `fcoe:<ifname>`, one FCoE interface (the netdev its ctlr
 * sits on: eth0, or a VLAN such as eth0.100). Lock files, pending markers,
 * timer entries and log lines all name it so.
 *
 * Contract: the ifname given is already validated (validate.ts `ifname`).
 */
export const FCOE_KEY_KIND = 'fcoe';

export function fcoeKey(ifname: string): string {
  return `${FCOE_KEY_KIND}:${ifname}`;
}
