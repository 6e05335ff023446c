/**
 * What NVMe-oF needs on a host, for `sanhook doctor` (core/requirements.ts).
 *
 * Blocking, always: nvme-fabrics and nvme-cli (FreeBSD: nvmf, nvmecontrol).
 * NVMe-oF's udev rules act on kernel events that need no configuration at
 * all: FC-NVMe discovery events from the FC transport, discovery-log AENs and
 * controller removal of controllers an admin connected by hand (FreeBSD:
 * devd's RECONNECT notifications). So the
 * fabric's base is needed on every host sanhook is installed on, configured or
 * not. A transport module (nvme-tcp, nvme-rdma, nvme-fc, nvme-loop; FreeBSD
 * nvmf_tcp) is blocking only when something configured uses it: a line of
 * /etc/nvme/discovery.conf or a path sanhook manages (nvmf/managed records).
 *
 * Own checks (Linux; nvmecontrol does not read these files):
 * - /etc/nvme/discovery.conf parses (a bad line stops `connect --all`);
 * - /etc/nvme/hostnqn and hostid, read by the hooks' own reader
 *   (host-identity.ts): malformed is blocking (every hook that reads them
 *   stops at a config error); absent is a warning (nvme-cli then generates a
 *   host NQN from the DMI system UUID, and the kernel uses a random host ID
 *   each boot: targets' allowed-host lists may not know either).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../../core/errors.js';
import type { CommandContext } from '../../core/fabric.js';
import type { CheckResult, FabricDoctor, ModuleNeed, ToolNeed, Usage } from '../../core/requirements.js';
import type { System } from '../../core/system.js';
import { parseDiscoveryConf, type ConfLine } from './connect-request.js';
import { listManaged } from './endpoint-state.js';
import { hostFilePath, readHostFile, type HostFile } from './host-identity.js';

/** The feature a transport's paths count under (Usage keys). */
const feature = (transport: string) => `nvmf:${transport}`;

const BASE = 'its hooks run on kernel events (FC-NVMe discovery, discovery AENs, controller removal) without any configuration';
const BASE_FREEBSD = "devd runs its hooks on the kernel's controller events (RECONNECT) without any configuration";

const MODULES: readonly ModuleNeed[] = [
  // the nvme-fabrics class exists while the module is in the kernel, also when built in
  { module: 'nvme-fabrics', platform: 'linux', purpose: 'NVMe-oF core (/dev/nvme-fabrics)', always: BASE, evidence: ['class/nvme-fabrics'] },
  { module: 'nvme-tcp', platform: 'linux', purpose: 'NVMe/TCP transport', neededFor: feature('tcp') },
  { module: 'nvme-rdma', platform: 'linux', purpose: 'NVMe/RDMA transport', neededFor: feature('rdma') },
  // nvme-fc creates the fc_udev_device that sends FC-NVMe discovery events
  { module: 'nvme-fc', platform: 'linux', purpose: 'NVMe/FC transport', neededFor: feature('fc'), evidence: ['class/fc/fc_udev_device'] },
  { module: 'nvme-loop', platform: 'linux', purpose: 'NVMe loopback transport (testing)', neededFor: feature('loop') },
  { module: 'nvmf', platform: 'freebsd', purpose: 'NVMe-oF host (nvmf(4))', always: BASE_FREEBSD },
  { module: 'nvmf_tcp', platform: 'freebsd', purpose: 'NVMe/TCP transport (nvmf_tcp(4))', neededFor: feature('tcp') },
];

const TOOLS: readonly ToolNeed[] = [
  {
    tool: 'nvme',
    platform: 'linux',
    purpose: 'nvme-cli: connect, discover, disconnect',
    always: BASE,
    versionArgs: ['version'],
    // "nvme version 2.3 (git 2.3)\nlibnvme version 1.3 (git 1.3)" (Debian 12)
    parseVersion: ({ exitCode, stdout }) => (exitCode === 0 ? /^nvme version (\S+)/m.exec(stdout)?.[1] : undefined),
    minVersion: { version: '2.0', why: "sanhook reads nvme-cli 2's JSON output of connect and list" },
    install: 'apt install nvme-cli',
  },
  {
    tool: 'nvmecontrol',
    platform: 'freebsd',
    purpose: 'connect, reconnect, disconnect',
    always: BASE_FREEBSD,
    // nvmecontrol has no version command: its version is the base system's. `devlist` answers on every
    // host (exit 1 with "No NVMe controllers found" on one without any), so any exit means present.
    versionArgs: ['devlist'],
    parseVersion: () => 'of the base system',
    install: 'nvmecontrol is part of the FreeBSD base system; NVMe-oF needs a release with nvmf(4)',
  },
];

type ConfSeen = { readonly file: string; readonly state: 'absent' } | { readonly file: string; readonly state: 'valid'; readonly lines: readonly ConfLine[] } | { readonly file: string; readonly state: 'invalid'; readonly message: string };

async function readDiscoveryConf(system: System): Promise<ConfSeen> {
  const file = path.join(system.paths.etc, 'nvme', 'discovery.conf');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { file, state: 'absent' };
    return { file, state: 'invalid', message: `${file}: cannot read: ${(error as Error).message}` };
  }
  try {
    return { file, state: 'valid', lines: parseDiscoveryConf(file, text) };
  } catch (error) {
    if (error instanceof ConfigError) return { file, state: 'invalid', message: error.message };
    throw error;
  }
}

/** The transports discovery.conf and sanhook's managed paths use, each with where it was seen first. */
async function usage(context: CommandContext): Promise<Usage> {
  const used = new Map<string, string>([['nvmf', BASE]]);
  const conf = await readDiscoveryConf(context.system);
  if (conf.state === 'valid') {
    for (const { line, request } of conf.lines) if (!used.has(feature(request.discovery.transport))) used.set(feature(request.discovery.transport), `${conf.file} line ${line} uses ${request.discovery.transport}`);
  }
  for (const managed of await listManaged(context.system)) {
    if (!used.has(feature(managed.transport))) used.set(feature(managed.transport), `sanhook manages a ${managed.transport} path to ${managed.subnqn}`);
  }
  return used;
}

export function evaluateDiscoveryConf(seen: ConfSeen): CheckResult {
  const id = 'nvmf:discovery.conf';
  if (seen.state === 'absent') return { id, status: 'pass', seen: `${seen.file}: absent (no discovery controllers to connect at boot; events still work)` };
  if (seen.state === 'invalid') return { id, status: 'fail', seen: `${seen.message}: \`sanhook connect --all\` (boot) stops here`, advice: `fix ${seen.file}: one \`nvme discover\` argument list per line` };
  const addresses = seen.lines.map((l) => `${l.request.discovery.transport} ${l.request.discovery.traddr}:${l.request.discovery.trsvcid}`);
  return { id, status: 'pass', seen: `${seen.file}: ${seen.lines.length} discovery controller(s)${addresses.length ? `: ${addresses.join(', ')}` : ''}` };
}

/** What the hooks' own reader made of /etc/nvme/hostnqn or hostid. */
export type HostFileSeen = { readonly name: HostFile; readonly file: string } & ({ readonly state: 'absent' } | { readonly state: 'valid'; readonly value: string } | { readonly state: 'invalid'; readonly message: string });

export function evaluateHostFile(seen: HostFileSeen): CheckResult {
  const id = `nvmf:${seen.name}`;
  if (seen.state === 'valid') return { id, status: 'pass', seen: `${seen.file}: ${seen.value}` };
  if (seen.state === 'invalid') return { id, status: 'fail', seen: `${seen.message}: every NVMe-oF hook stops at this error`, advice: seen.name === 'hostnqn' ? `nvme gen-hostnqn > ${seen.file}` : `uuidgen > ${seen.file}` };
  if (seen.name === 'hostnqn') {
    return { id, status: 'warn', seen: `${seen.file}: absent; nvme-cli generates a host NQN from the system UUID, which targets' allowed-host lists may not know`, advice: `install -d ${path.dirname(seen.file)} && nvme gen-hostnqn > ${seen.file}` };
  }
  return { id, status: 'warn', seen: `${seen.file}: absent; the kernel uses a random host ID each boot`, advice: `install -d ${path.dirname(seen.file)} && uuidgen > ${seen.file}` };
}

async function observeHostFile(system: System, name: HostFile): Promise<HostFileSeen> {
  const file = hostFilePath(system, name);
  try {
    const value = await readHostFile(system, name);
    return value === undefined ? { name, file, state: 'absent' } : { name, file, state: 'valid', value };
  } catch (error) {
    if (error instanceof ConfigError) return { name, file, state: 'invalid', message: error.message };
    throw error;
  }
}

async function checks(context: CommandContext): Promise<readonly CheckResult[]> {
  const { system } = context;
  if (system.paths.platform !== 'linux') return [];
  return [evaluateDiscoveryConf(await readDiscoveryConf(system)), evaluateHostFile(await observeHostFile(system, 'hostnqn')), evaluateHostFile(await observeHostFile(system, 'hostid'))];
}

export const NVMF_DOCTOR: FabricDoctor = { modules: MODULES, tools: TOOLS, usage, checks };
