#!/usr/bin/env node
/**
 * A fake `nvme` (nvme-cli 2.3, as Debian 12 ships it) for integration tests and the demo.
 *
 * Behaviour (state in $FAKE_NVME_STATE, sysfs in $FAKE_SYSFS):
 * - every call appends one JSON line to calls.jsonl: {argv, pid, ppid, start, end, exit}
 *   (start/end are wall-clock ms with sub-ms precision; ppid is the program that ran
 *   nvme, since bin/nvme execs node), written with one write(2);
 * - `discover`: prints logs/<trtype>_<traddr>_<trsvcid>.json (else logs/default.json)
 *   after $FAKE_NVME_DISCOVER_MS ms (the number in the state file `discover-ms`, when it
 *   exists, wins: a test can change the delay while a hook runs); marks active/<address>
 *   exclusively while running and records {"overlap": true} if another discovery for
 *   that address was already active; an address listed in `unreachable` fails exactly
 *   as the real one does; while the state file `discover-hold` exists, a discovery that
 *   has started (its active/ marker in place) waits for it to go and records
 *   {"held": true}: a test orders events by releasing it instead of by a delay (gives
 *   up waiting after 120 s);
 * - `connect`: "already connected" if $FAKE_SYSFS/class/nvme has that path (real
 *   stderr and exit 1), fails like the real one for subnqns listed in `fail-connect`,
 *   else creates /sys/class/nvme/nvmeN with real attribute formats and prints
 *   nvme-cli's JSON {"device":"nvmeN"}; its `address` is the kernel's for that transport
 *   (tcp with src_addr, rdma without).
 * - `get-log /dev/nvmeN --log-id=0x70 --log-len=L --raw-binary` (sanhook re-arms discovery
 *   AENs with it): L bytes of log on stdout if nvmeN exists in the fake sysfs, else
 *   nvme-cli's "No such file or directory" and exit 1.
 * - `connect --help`, `discover --help`, `connect-all --help`: nvme-cli 2.3's argconfig help
 *   pages on stderr (no --owner); with the state file `registry-version` (e.g. "3.0", an
 *   nvme-cli with the ownership registry) they list `--owner`, `version` prints that
 *   version, and `connect --owner NAME` / `discover --persistent --owner NAME` write
 *   $FAKE_ROOT/run/nvme/registry/nvmeN/{owner,seqnum} as libnvme does (temp dir + rename,
 *   0755/0644, the uevent seqnum after the connect); 2.3 rejects --owner as getopt does.
 * - `discover --persistent` (without --device) keeps a discovery controller: creates
 *   /sys/class/nvme/nvmeN (cntrltype discovery) unless one is live at that address.
 * - `disconnect --device nvmeN`: removes the controller, as nvme-cli 2.3 prints it.
 * - every connect bumps $FAKE_SYSFS/kernel/uevent_seqnum (the add event) and gives the
 *   controller a `dev` attribute (major 249, minor N), as the kernel does.
 * Outputs are the real captures in test/fixtures/nvme-cli/.
 */
import { appendFileSync, chmodSync, existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const state = process.env.FAKE_NVME_STATE;
const sysfs = process.env.FAKE_SYSFS;
if (!state || !sysfs) {
  process.stderr.write('fake nvme: FAKE_NVME_STATE and FAKE_SYSFS must be set\n');
  process.exit(99);
}
const now = () => performance.timeOrigin + performance.now();
const start = now();
const [command, ...rest] = process.argv.slice(2);
const record = (fields) => appendFileSync(path.join(state, 'calls.jsonl'), `${JSON.stringify({ argv: process.argv.slice(2), pid: process.pid, ppid: process.ppid, start, end: now(), ...fields })}\n`);
const lines = (file) => (existsSync(path.join(state, file)) ? readFileSync(path.join(state, file), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean) : []);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const options = {
  transport: { type: 'string', short: 't' },
  traddr: { type: 'string', short: 'a' },
  trsvcid: { type: 'string', short: 's' },
  'host-traddr': { type: 'string', short: 'w' },
  'host-iface': { type: 'string', short: 'f' },
  hostnqn: { type: 'string', short: 'q' },
  hostid: { type: 'string', short: 'I' },
  nqn: { type: 'string', short: 'n' },
  'reconnect-delay': { type: 'string', short: 'c' },
  'ctrl-loss-tmo': { type: 'string', short: 'l' },
  persistent: { type: 'boolean', short: 'p' },
  device: { type: 'string', short: 'd' },
  'output-format': { type: 'string', short: 'o' },
};
/** An nvme-cli with the ownership registry (3.0+), when the test says so. */
const registryVersion = existsSync(path.join(state, 'registry-version')) ? readFileSync(path.join(state, 'registry-version'), 'utf8').trim() : undefined;
if (registryVersion) options.owner = { type: 'string', short: 'O' };

/**
 * nvme-cli 2.x argconfig's help layout (on stderr): `  [  --opt=<META>, -x <META> ] --- help`,
 * for `connect`, `discover` and `connect-all` (fabrics.c's usage lines and descriptions;
 * the option rows they share, and each one's own); `--owner` only with the registry.
 */
function helpPage(command) {
  const pages = {
    connect: ['nvme connect <device> [OPTIONS]', 'Connect to NVMeoF subsystem'],
    discover: ['nvme discover <device> [OPTIONS]', 'Send Get Log Page request to Discovery Controller.'],
    'connect-all': ['nvme connect-all <device> [OPTIONS]', 'Discover NVMeoF subsystems and connect to them'],
  };
  const [usage, description] = pages[command];
  const discovery = command === 'connect' ? [] : [
    ['device', 'd', 'DEV', 'use existing discovery controller device'],
    ['persistent', 'p', '', 'persistent discovery connection'],
  ];
  const rows = [
    ['transport', 't', 'STR', 'transport type'],
    ['nqn', 'n', 'STR', 'subsystem nqn'],
    ['traddr', 'a', 'STR', 'transport address'],
    ['trsvcid', 's', 'STR', 'transport service id (e.g. IP port)'],
    ['host-traddr', 'w', 'STR', 'host traddr (e.g. FC WWN\'s)'],
    ['host-iface', 'f', 'STR', 'host transport interface (e.g. IP eth1, enp2s0)'],
    ['hostnqn', 'q', 'STR', 'user-defined hostnqn'],
    ['hostid', 'I', 'STR', 'user-defined hostid (if default not used)'],
    ['reconnect-delay', 'c', 'NUM', 'reconnect timeout period in seconds'],
    ['ctrl-loss-tmo', 'l', 'NUM', 'controller loss timeout period in seconds'],
    ...discovery,
    ...(registryVersion ? [['owner', 'O', 'STR', 'register the controller in the ownership registry as owned by NAME']] : []),
    ['output-format', 'o', 'FMT', 'Output format: normal|json'],
  ];
  const option = ([name, short, meta, help]) => {
    const head = meta ? `  [  --${name}=<${meta}>, -${short} <${meta}> ] ` : `  [  --${name}, -${short} ] `;
    return `${head}${' '.repeat(Math.max(0, 40 - head.length))}--- ${help}`;
  };
  return `\u001b[1mUsage: ${usage}\u001b[0m\n\n${description}\n\n\u001b[1mOptions:\u001b[0m\n${rows.map(option).join('\n')}\n`;
}

/** The kernel's uevent counter: every controller add emits one (and more; one is enough here). */
function bumpSeqnum() {
  const dir = path.join(sysfs, 'kernel');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'uevent_seqnum');
  const next = (existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : 4000) + 1;
  writeFileSync(file, `${next}\n`);
  return next;
}

/** libnvme's registry write: the entry built in a temporary directory and renamed into place. */
function registerOwner(device, owner) {
  const root = process.env.FAKE_ROOT;
  if (!root) throw new Error('FAKE_ROOT must be set for --owner');
  const registry = path.join(root, 'run', 'nvme', 'registry');
  mkdirSync(registry, { recursive: true, mode: 0o755 });
  const temp = path.join(registry, `.${device}.XXXXXX${process.pid}`);
  mkdirSync(temp, { mode: 0o755 });
  chmodSync(temp, 0o755);
  const seqnum = readFileSync(path.join(sysfs, 'kernel', 'uevent_seqnum'), 'utf8').trim();
  for (const [name, value] of [['owner', owner], ['seqnum', seqnum]]) {
    writeFileSync(path.join(temp, name), `${value}\n`, { mode: 0o644 });
    chmodSync(path.join(temp, name), 0o644);
  }
  renameSync(temp, path.join(registry, device));
}

function finish(exit, stdout = '', stderr = '', fields = {}) {
  if (stdout) process.stdout.write(stdout);
  if (stderr) process.stderr.write(stderr);
  record({ exit, ...fields });
  process.exitCode = exit;
}

function controllers() {
  const dir = path.join(sysfs, 'class', 'nvme');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((name) => {
    const attr = (a) => (existsSync(path.join(dir, name, a)) ? readFileSync(path.join(dir, name, a), 'utf8').trim() : '');
    return { name, transport: attr('transport'), address: attr('address'), subsysnqn: attr('subsysnqn'), cntrltype: attr('cntrltype') };
  });
}

async function discover(values) {
  const address = `${values.transport}_${values.traddr ?? 'none'}_${values.trsvcid ?? 'none'}`;
  mkdirSync(path.join(state, 'active'), { recursive: true });
  const marker = path.join(state, 'active', address);
  let overlap = false;
  try {
    closeSync(openSync(marker, 'wx'));
  } catch {
    overlap = true;
  }
  let held = false;
  try {
    const holdUntil = Date.now() + 120_000;
    while (existsSync(path.join(state, 'discover-hold')) && Date.now() < holdUntil) {
      held = true;
      await sleep(10);
    }
    const delay = existsSync(path.join(state, 'discover-ms')) ? readFileSync(path.join(state, 'discover-ms'), 'utf8').trim() : process.env.FAKE_NVME_DISCOVER_MS;
    await sleep(Number(delay ?? 0));
    if (lines('unreachable').includes(`${values.traddr}:${values.trsvcid}`)) {
      return finish(1, '', 'Failed to write to /dev/nvme-fabrics: Connection refused\nfailed to add controller, error connection refused\n', { overlap, address, ...(held ? { held } : {}) });
    }
    const specific = path.join(state, 'logs', `${address}.json`);
    const file = existsSync(specific) ? specific : path.join(state, 'logs', 'default.json');
    const created = values.persistent && !values.device ? persistentDiscoveryController(values) : undefined;
    return finish(0, readFileSync(file, 'utf8'), '', { overlap, address, ...(held ? { held } : {}), ...(created ? { device: created } : {}) });
  } finally {
    if (!overlap) unlinkSync(marker);
  }
}

/** The kernel's well-known discovery subsystem NQN (NVMe-oF spec): every discovery controller's subsysnqn. */
const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

/**
 * `discover --persistent`: nvme-cli keeps the discovery controller; it reuses a live one
 * at that address (libnvme looks it up first), else the kernel creates nvmeN (cntrltype
 * discovery, the add event bumps the uevent counter); with `--owner` (3.0) libnvme
 * registers the new one. Returns the name of the controller it created, if any.
 */
function persistentDiscoveryController(values) {
  const address = `traddr=${values.traddr},trsvcid=${values.trsvcid}`;
  if (controllers().some((c) => c.cntrltype === 'discovery' && c.address.startsWith(address))) return undefined;
  return addController(values, { subsysnqn: DISCOVERY_NQN, cntrltype: 'discovery', ctrl_loss_tmo: 'off', reconnect_delay: '10' });
}

/**
 * The controller's `address` attribute as Linux 6.1 prints it (nvmf_get_address:
 * traddr, trsvcid, then host_traddr and host_iface when given; nvme-tcp alone
 * appends the connected socket's src_addr): test/fixtures/nvme-cli/sysfs-io-ctrl.txt
 * (tcp) and sysfs-io-ctrl-rdma.txt (rdma, no src_addr).
 */
function kernelAddress(values) {
  const fields = [`traddr=${values.traddr}`, `trsvcid=${values.trsvcid}`];
  if (values['host-traddr']) fields.push(`host_traddr=${values['host-traddr']}`);
  if (values['host-iface']) fields.push(`host_iface=${values['host-iface']}`);
  if (values.transport === 'tcp') fields.push(`src_addr=${values['host-traddr'] ?? values.traddr}`);
  return fields.join(',');
}

/**
 * The kernel creates the next free nvmeN with these attributes (the rest from the
 * connect's own values), its add event bumps the uevent counter, and with `--owner`
 * (3.0) libnvme registers it. Returns its name.
 */
function addController(values, attrs) {
  const dir = path.join(sysfs, 'class', 'nvme');
  mkdirSync(dir, { recursive: true });
  let n = 0;
  while (existsSync(path.join(dir, `nvme${n}`))) n += 1;
  const ctrl = path.join(dir, `nvme${n}`);
  mkdirSync(ctrl);
  const all = {
    transport: values.transport,
    address: kernelAddress(values),
    hostnqn: values.hostnqn ?? '',
    hostid: values.hostid ?? '',
    state: 'live',
    dev: `249:${n}`,
    ...attrs,
  };
  for (const [name, value] of Object.entries(all)) writeFileSync(path.join(ctrl, name), `${value}\n`);
  bumpSeqnum();
  if (values.owner) registerOwner(`nvme${n}`, values.owner);
  return `nvme${n}`;
}

function connect(values) {
  const address = `traddr=${values.traddr},trsvcid=${values.trsvcid}`;
  if (controllers().some((c) => c.subsysnqn === values.nqn && c.address.startsWith(address) && c.cntrltype === 'io')) {
    return finish(1, '', 'already connected\n');
  }
  if (lines('fail-connect').includes(values.nqn)) {
    return finish(1, '', 'Failed to write to /dev/nvme-fabrics: Connection refused\ncould not add new controller: connection refused\n');
  }
  const device = addController(values, {
    subsysnqn: values.nqn,
    cntrltype: 'io',
    ctrl_loss_tmo: values['ctrl-loss-tmo'] ?? '600',
    reconnect_delay: values['reconnect-delay'] ?? '10',
  });
  return finish(0, values['output-format'] === 'json' ? `{\n  "device":"${device}"\n}\n` : '', '', { device });
}

/**
 * nvme-cli parses options with getopt_long: a required argument is the next word even
 * when it starts with '-' (`--ctrl-loss-tmo -1`), which node's parseArgs would reject.
 */
function getoptWords(args) {
  const byShort = Object.fromEntries(Object.entries(options).map(([name, o]) => [`-${o.short}`, name]));
  const out = [];
  for (let i = 0; i < args.length; i += 1) {
    const word = args[i];
    const name = word.startsWith('--') && !word.includes('=') ? word.slice(2) : byShort[word];
    if (name && options[name]?.type === 'string' && i + 1 < args.length) {
      out.push(`--${name}=${args[i + 1]}`);
      i += 1;
    } else out.push(word);
  }
  return out;
}

/**
 * `disconnect --device nvmeN`: the kernel deletes the controller (its sysfs directory goes);
 * nvme-cli 2.3 prints nothing and exits 0, and for a device it does not find prints
 * "Did not find device nvmeN" on stderr and still exits 0 (fixtures disconnect-device*).
 */
function disconnect(values) {
  const name = values.device ?? '';
  const dir = path.join(sysfs, 'class', 'nvme', name);
  if (!/^nvme[0-9]+$/.test(name) || !existsSync(dir)) return finish(0, '', `Did not find device ${name}\n`, { device: name });
  rmSync(dir, { recursive: true, force: true });
  return finish(0, '', '', { device: name });
}

function getLog(args) {
  const { values, positionals } = parseArgs({ args, options: { 'log-id': { type: 'string', short: 'i' }, 'log-len': { type: 'string', short: 'l' }, 'raw-binary': { type: 'boolean', short: 'b' } }, strict: true, allowPositionals: true });
  const device = positionals[0] ?? '';
  const name = path.basename(device);
  if (positionals.length !== 1 || !existsSync(path.join(sysfs, 'class', 'nvme', name))) {
    return finish(1, '', `open: No such file or directory\nopen ${device} failed\n`);
  }
  const length = Number(values['log-len'] ?? 0);
  return finish(0, values['raw-binary'] ? '\0'.repeat(length) : '', '', { device: name, logId: values['log-id'] });
}

try {
  if (command === 'get-log') getLog(rest);
  else if (rest.includes('--help') || rest.includes('-h')) finish(0, '', ['connect', 'discover', 'connect-all'].includes(command) ? helpPage(command) : '');
  else {
    const { values } = parseArgs({ args: getoptWords(rest), options, strict: true, allowPositionals: false });
    if (command === 'discover') await discover(values);
    else if (command === 'connect') connect(values);
    else if (command === 'disconnect') disconnect(values);
    else if (command === 'version') finish(0, registryVersion ? `nvme version ${registryVersion} (git ${registryVersion})\nlibnvme version ${registryVersion} (git ${registryVersion})\n` : 'nvme version 2.3 (git 2.3)\nlibnvme version 1.3 (git 1.3)\n');
    else finish(1, '', `fake nvme: unsupported command ${command}\n`);
  }
} catch (error) {
  finish(1, '', `fake nvme: ${error.message}\n`);
}
