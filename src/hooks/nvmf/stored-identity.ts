/**
 * Which identity of an NVMe-oF controller the udev database holds after one of
 * its uevents: the table rules.d/70-sanhook-nvmf.rules implements (its
 * identity block), stated as a pure function. The remove event carries no
 * subsystem NQN and its sysfs attributes are gone, so `sanhook lost --uevent`
 * names what was lost only from these stored values (SANHOOK_SUBNQN,
 * SANHOOK_CNTRLTYPE, SANHOOK_HOSTNQN; lost.ts classifyLostUevent).
 *
 * Contract (pure, no imports):
 * - A value is taken from the controller's attributes only when the
 *   controller is identified at that event: its `state` reads `live` when
 *   udevd handles the event, or the event is the `NVME_EVENT=connected`
 *   change (the kernel sends it after setting the state to live, at the first
 *   connect and after each reconnect). Before identify (an early `add`) the
 *   attributes can be empty or garbage: `cntrltype` reads `reserved`, and
 *   6.1 prints the not yet known subsystem NQN as `(efault)`.
 * - Only a value udev passes unchanged and sanhook accepts is stored (the
 *   characters of an NQN: letters, digits, `. _ : + @ =` and `-`).
 * - A `change` starts from the values stored before it (the rules import
 *   them, IMPORT{db}: udevd copies no properties from one event to the next),
 *   so an event that cannot read the attributes (handled after the controller
 *   is gone, or not identified) keeps them instead of erasing them.
 * - An `add` starts from nothing: a new controller (a new incarnation of a
 *   recycled name) owns nothing stored before it.
 * - A `remove` changes nothing: udevd hands the stored values to its rules.
 * - An event of a non-fabrics controller (no NVME_TRTYPE), or an action other
 *   than add/change/remove, stores nothing (udevd writes the database from the
 *   event's own properties).
 * The same rows run through this function and through a real systemd-udevd
 * with the shipped rules (test/fixtures/stored-identity-rows.ts).
 */

/** The stored values, by the controller attribute each is read from. */
export interface StoredIdentity {
  /** SANHOOK_SUBNQN, from the attribute `subsysnqn`. */
  readonly subnqn?: string;
  /** SANHOOK_CNTRLTYPE, from `cntrltype` (`io`, `discovery`, `admin`). */
  readonly cntrltype?: string;
  /** SANHOOK_HOSTNQN, from `hostnqn`. */
  readonly hostnqn?: string;
}

export type IdentityField = keyof StoredIdentity;
/** The controller sysfs attributes the values are read from. */
export type IdentityAttribute = 'subsysnqn' | 'cntrltype' | 'hostnqn';

/** Field → [udev property, controller sysfs attribute], in the rules' order. */
export const IDENTITY_FIELDS: readonly (readonly [IdentityField, string, IdentityAttribute])[] = [
  ['subnqn', 'SANHOOK_SUBNQN', 'subsysnqn'],
  ['cntrltype', 'SANHOOK_CNTRLTYPE', 'cntrltype'],
  ['hostnqn', 'SANHOOK_HOSTNQN', 'hostnqn'],
];

/** One uevent of an nvme controller, as udevd sees it when it handles it. */
export interface IdentityEvent {
  /** ACTION. */
  readonly action: string;
  /** NVME_TRTYPE is non-empty: a fabrics controller (a PCIe one never has it). */
  readonly fabrics: boolean;
  /** NVME_EVENT (`connected`, `rediscover`), if any. */
  readonly nvmeEvent?: string;
  /** The attribute `state` when udevd reads it; undefined: unreadable (the controller is gone). */
  readonly state?: string;
  /** The attributes the values come from, as udevd reads them; undefined: unreadable. */
  readonly attributes: Readonly<Partial<Record<IdentityAttribute, string>>>;
}

/** The characters a stored value may have: what validate.nqn() accepts after the domain, all of which udev's $attr{} keeps. */
const STORABLE = /^[A-Za-z0-9._:+@=-]+$/;

export function storable(value: string | undefined): value is string {
  return value !== undefined && STORABLE.test(value);
}

/** The controller is identified at this event: its attributes are the real ones. */
export function identified(event: IdentityEvent): boolean {
  return event.nvmeEvent === 'connected' || event.state === 'live';
}

/** What the udev database holds after `event`, given what it held before (`previous`). */
export function storedIdentity(event: IdentityEvent, previous: StoredIdentity): StoredIdentity {
  if (event.action === 'remove') return previous;
  if ((event.action !== 'add' && event.action !== 'change') || !event.fabrics) return {};
  const base: StoredIdentity = event.action === 'change' ? previous : {};
  if (!identified(event)) return base;
  const stored: Record<string, string> = {};
  for (const [field, , attribute] of IDENTITY_FIELDS) {
    const read = event.attributes[attribute];
    const value = storable(read) ? read : base[field];
    if (value !== undefined) stored[field] = value;
  }
  return stored;
}
