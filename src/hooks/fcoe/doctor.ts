/**
 * What FCoE needs on a host, for `sanhook doctor` (core/requirements.ts).
 *
 * FCoE is in use when an /etc/fcoe/cfg-<ifname> (not fcoe-utils' template)
 * enables it (FCOE_ENABLE=yes). Then libfcoe (/sys/bus/fcoe: ctlr_create,
 * ctlr_destroy) and fcoe (the software FCoE transport that ctlr_create
 * attaches; an offload NIC's driver, bnx2fc or qedf, brings its own) are
 * blocking. The DCB tools are blocking only when an enabled interface has
 * DCB_REQUIRED=yes, and then the one `fcoe.dcb-source` reads: `dcb` (iproute2)
 * for `dcb`, and for `auto`, whose fallback it is when lldpad does not run;
 * `lldptool` (lldpad) for `lldpad`. A cfg file sanhook cannot read is its own
 * failed check (every FCoE hook stops at it) and counts FCoE as in use.
 */
import type { CommandContext } from '../../core/fabric.js';
import { ConfigError, EnvironmentError } from '../../core/errors.js';
import type { CheckResult, FabricDoctor, ModuleNeed, ToolNeed, Usage } from '../../core/requirements.js';
import { fcoeSettings } from './config.js';
import { fcoeDir, readFcoeConfig } from './fcoe-config.js';

const MODULES: readonly ModuleNeed[] = [
  { module: 'libfcoe', platform: 'linux', purpose: 'FCoE controllers (/sys/bus/fcoe)', neededFor: 'fcoe', evidence: ['bus/fcoe'] },
  { module: 'fcoe', platform: 'linux', purpose: 'software FCoE transport (offload NICs: their own driver)', neededFor: 'fcoe' },
];

const TOOLS: readonly ToolNeed[] = [
  {
    tool: 'dcb',
    platform: 'linux',
    purpose: "iproute2's DCB query (kernel dcbnl)",
    neededFor: 'fcoe:dcb',
    versionArgs: ['-V'],
    // dcb.c: printf("dcb utility, iproute2-%s\n", version)
    parseVersion: ({ exitCode, stdout }) => (exitCode === 0 ? /^dcb utility, iproute2-(\S+)/m.exec(stdout)?.[1] : undefined),
    install: 'apt install iproute2',
  },
  {
    tool: 'lldptool',
    platform: 'linux',
    purpose: "lldpad's DCB query",
    neededFor: 'fcoe:lldpad',
    versionArgs: ['-v'],
    // lldptool.c: "lldptool v<VERSION_STR>" and the copyright lines
    parseVersion: ({ exitCode, stdout }) => (exitCode === 0 ? /^lldptool v(\S+)/m.exec(stdout)?.[1] : undefined),
    install: 'apt install lldpad',
  },
];

async function usage(context: CommandContext): Promise<Usage> {
  const used = new Map<string, string>();
  const { interfaces } = await readFcoeConfig(context.system);
  const enabled = interfaces.filter((i) => i.enabled);
  const [first] = enabled;
  if (first) used.set('fcoe', `${first.file} has FCOE_ENABLE="yes"`);
  const dcb = enabled.find((i) => i.dcbRequired);
  if (dcb) {
    const source = fcoeSettings(context.config).dcbSource;
    const why = `${dcb.file} has DCB_REQUIRED="yes" and fcoe.dcb-source is ${source}`;
    if (source === 'lldpad') used.set('fcoe:lldpad', why);
    else used.set('fcoe:dcb', source === 'auto' ? `${why} (iproute2 dcb when lldpad does not run)` : why);
  }
  return used;
}

async function checks(context: CommandContext): Promise<readonly CheckResult[]> {
  if (context.system.paths.platform !== 'linux') return [];
  const dir = fcoeDir(context.system);
  try {
    const { interfaces } = await readFcoeConfig(context.system);
    return [{ id: 'fcoe:config', status: 'pass', seen: `${dir}: ${interfaces.length} interface file(s)${interfaces.length ? `: ${interfaces.map((i) => `${i.ifname}${i.enabled ? '' : ' (disabled)'}`).join(', ')}` : ''}` }];
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof EnvironmentError)) throw error;
    return [{ id: 'fcoe:config', status: 'fail', seen: `${error.message}: every FCoE hook stops at this error`, advice: `fix it (fcoe-utils' format: see ${dir}/cfg-ethx)` }];
  }
}

export const FCOE_DOCTOR: FabricDoctor = { modules: MODULES, tools: TOOLS, usage, checks };
