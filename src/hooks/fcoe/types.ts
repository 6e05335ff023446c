/**
 * FCoE's observations and settings: the shapes its observers produce and its
 * pure decide() reads (DESIGN §3). Types only; nothing here does anything.
 *
 * Contract: every observer (cfg files, netdevs, DCB sources, ctlrs) returns
 * one of these, and decide.ts takes nothing else. A DCB query that fails is a
 * value (`DcbQueryFailure`), never an exception: the decision table retries it.
 */

/** One interface's /etc/fcoe/cfg-<ifname> (fcoe-utils' format), validated. */
export interface FcoeInterfaceConfig {
  /** The FCoE interface: the netdev the ctlr is created on (a VLAN such as eth0.100, or eth0). */
  readonly ifname: string;
  /** The file it came from (for messages and `sanhook status`). */
  readonly file: string;
  /** FCOE_ENABLE="yes": sanhook manages this interface at all. */
  readonly enabled: boolean;
  /** DCB_REQUIRED="yes": create only once DCB, PFC and App:FCoE are up and match. */
  readonly dcbRequired: boolean;
  /** AUTO_VLAN="yes": fcoemon's FIP VLAN discovery (sanhook does not do it: warned, managed as "no"). */
  readonly autoVlan: boolean;
  /** MODE="fabric" (default) or "vn2vn". */
  readonly mode: 'fabric' | 'vn2vn';
  /** FIP_RESP="yes": enable the ctlr's FIP VLAN responder (vn2vn target side). */
  readonly fipResponder: boolean;
}

/** /etc/fcoe/config (fcoe-utils' global file), validated. Absent file: all "no"/defaults. */
export interface FcoeGlobalConfig {
  readonly file: string;
  /** DEBUG="yes": fcoemon's debug logging; sanhook logs its FCoE decisions at info either way. */
  readonly debug: boolean;
  /** USE_SYSLOG="yes": fcoemon's syslog switch; sanhook's log goes where its log format says. */
  readonly useSyslog: boolean;
  /** SUPPORTED_DRIVERS="...": drivers fcoe-utils' init script loads; listed by status. */
  readonly supportedDrivers: readonly string[];
}

/** Link state of one netdev, from /sys/class/net/<if>/{operstate,carrier,flags}. */
export interface NetdevState {
  readonly ifname: string;
  /** The netdev exists in /sys/class/net. */
  readonly present: boolean;
  /** Administratively up (IFF_UP) and operstate up (or unknown with carrier): what fcoemon calls link up. */
  readonly up: boolean;
}

/**
 * The FCoE interface and the real interface DCB is queried on: for a VLAN
 * (8021q) its lower device, recursively (QinQ); otherwise itself.
 */
export interface InterfacePair {
  readonly fcoe: NetdevState;
  /** Same object as `fcoe` when the FCoE interface is not a VLAN. */
  readonly real: NetdevState;
}

/** The five steps of fcoemon's DCB query sequence, in order. */
export const DCB_STEPS = ['dcb-state', 'pfc-config', 'app-config', 'pfc-oper', 'app-oper'] as const;
export type DcbStep = (typeof DCB_STEPS)[number];

/** Which tool answered. */
export type DcbSourceName = 'dcb' | 'lldpad-cee' | 'lldpad-ieee';

/** A query that could not be answered: the step, the tool's argv and its message (one line). */
export interface DcbQueryFailure {
  readonly ok: false;
  readonly source: DcbSourceName;
  readonly step: DcbStep;
  readonly argv: readonly string[];
  readonly message: string;
}

/** PFC: enabled (admin/config) and the priorities with PFC on (0-7). */
export interface PfcConfig {
  readonly enabled: boolean;
  readonly priorities: readonly number[];
}
/** App:FCoE (ethertype 0x8906): enabled, and its priority (0-7) when there is one. */
export interface AppConfig {
  readonly enabled: boolean;
  readonly priority?: number;
}
/** PFC operational state: negotiated and in use, and the priorities in operation. */
export interface PfcOper {
  readonly operational: boolean;
  readonly priorities: readonly number[];
}
/** App:FCoE operational state and the priority in operation. */
export interface AppOper {
  readonly operational: boolean;
  readonly priority?: number;
}

/**
 * What the sequence saw. It stops early once the answer is known: after
 * step 1 when DCB is disabled, after step 3 when App:FCoE is disabled; the
 * later fields are then absent.
 */
export interface DcbObservation {
  readonly ok: true;
  readonly source: DcbSourceName;
  readonly dcbEnabled: boolean;
  readonly pfcConfig?: PfcConfig;
  readonly appConfig?: AppConfig;
  readonly pfcOper?: PfcOper;
  readonly appOper?: AppOper;
}

export type DcbResult = DcbObservation | DcbQueryFailure;

/** An FCoE ctlr in sysfs: /sys/bus/fcoe/devices/ctlr_N, whose parent is the netdev. */
export interface CtlrState {
  /** `ctlr_0` */
  readonly name: string;
  /** The netdev it sits on. */
  readonly ifname: string;
  /** Its `enabled` attribute: 1 → true. */
  readonly enabled: boolean;
  /** Its `mode` attribute, lower-cased: `fabric` or `vn2vn` (the kernel prints Fabric / VN2VN). */
  readonly mode: string;
}

/** Which kernel interface creates and destroys ctlrs. */
export type FcoeControl = 'bus' | 'legacy' | 'none';
