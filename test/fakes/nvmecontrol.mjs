#!/usr/bin/env node
/**
 * A fake FreeBSD `nvmecontrol` (the FreeBSD 15 one with nvmf(4) reconnect timers:
 * sys/dev/nvmf/host/nvmf.c e4452d45) for integration tests.
 *
 * Every message, format, option and exit code below is copied from freebsd-src; the
 * file (and commit, where the stored copy had one) sits next to each. Sources:
 *   sbin/nvmecontrol/reconnect.c  e4452d45ec5ae661364f6a442ce1392a831bb9b5
 *   sbin/nvmecontrol/connect.c    77ef280472c35238ac2878351fd5e2ab061df253
 *   sbin/nvmecontrol/fabrics.c    0b6dcf16b9887034195856860e50b6a9593580c3
 *   sbin/nvmecontrol/disconnect.c 1058c12197aba80d0777e3484f350436fca55fd7
 *   sbin/nvmecontrol/comnd.c      e4452d45ec5ae661364f6a442ce1392a831bb9b5 (arg_parse, arg_help, cmd_dispatch)
 *   sbin/nvmecontrol/devlist.c    (current version: print_controller_info, scan_controller, scan_namespace)
 *   sbin/nvmecontrol/nvmecontrol.c (open_dev)
 *   lib/libnvmf/nvmf_host.c       129e661d1db55fe550b771fb1427b3564ebfabe2 (nvmf_disconnect_host, default host NQN)
 *   sys/dev/nvmf/host/nvmf_ctldev.c 0b30aa50b6aef28c2a7eb0ab0afe7faf48b797aa (nvmf_disconnect_by_name)
 *   sys/dev/nvmf/host/nvmf.c      e4452d45 (nvmf_reconnect_host: EBUSY while associated)
 *   lib/libc/stdlib/getopt_long.c (the BSD getopt_long messages), lib/libutil/humanize_number.c 589bc2ca
 *
 * State in the directory $FAKE_NVMECONTROL_STATE (exit 99 if unset):
 *   calls.jsonl       one JSON line per call (one appendFileSync): {argv, pid, ppid, start, end, exit, ...extra};
 *                     start/end are wall-clock ms with sub-ms precision. `reconnect` adds
 *                     {device, overlap}: it holds active/<device> (openSync 'wx') while it runs and
 *                     records overlap:true if another reconnect of that device held it already.
 *                     `connect` adds {device} (the nvmeN it created), `connect-all` {devices}.
 *   controllers.json  { "nvme0": { "state": "connected"|"disconnected", "transport": "tcp",
 *                     "traddr": "10.0.0.5", "trsvcid": "4420", "subnqn": "nqn...", "hostnqn": "nqn...",
 *                     "disconnectedSince": <epoch ms> } }; written atomically (tmp + rename) under
 *                     controllers.lock. Missing file: no controllers. Optional fields: "mn" (model
 *                     number, default "FreeBSD"), "namespaces": [{"nsid": 1, "bytes": 10737418240}]
 *                     (devlist lines nvme0ns1; none by default), "reconnectDelay"/"ctrlLossTmo"
 *                     (what connect/reconnect -r/-l set; the fake only stores them), and
 *                     "transport": "pcie" for a local PCIe controller (no association: devlist shows
 *                     no suffix, reconnect/disconnect do not apply to it).
 *   reconnect-ms      reconnect sleeps this many ms (the TCP connect and CONNECT handshake, i.e.
 *                     before the unreachable check and the kernel handoff).
 *   connect-ms        the same for connect and connect-all (once per command).
 *   unreachable       lines `traddr:trsvcid [refused|timeout|unreach]`: TCP connect to that
 *                     address fails (default errno ECONNREFUSED).
 *   fail-connect      lines of SubNQNs the target rejects at CONNECT (not a subsystem it serves).
 *   discovery.json    connect-all's discovery log: [{trtype, traddr, trsvcid, subnqn}] (+ optional
 *                     adrfam "ipv4"|"ipv6"|..., sectype "none"|"tls1.2"|...). Missing: empty log.
 *   hostuuid          kern.hostuuid (the default host NQN is built from it).
 *
 * The CLI behaviour in one table (exit codes are sysexits: 64 usage, 68 no host, 69 unavailable,
 * 72 no device file, 74 I/O error):
 *   devlist                  ` nvme0: FreeBSD (connected via TCP 10.0.0.5:4420)` / `(disconnected for N seconds)`
 *                            per controller (+ namespace lines of connected ones), exit 0;
 *                            none: "No NVMe controllers found." on stdout, exit 69
 *   reconnect nvmeX [addr]   silent, exit 0 | absent 72 | addr without port 64 | unreachable 68 |
 *                            still connected 74 ("Failed to handoff queues to kernel: Device busy")
 *   connect addr:port nqn    creates the lowest free nvmeN, silent, exit 0 | no port 64 | unreachable 68
 *   connect-all addr[:port]  connects every log entry (again, even if connected: the real one does not
 *                            check), per-entry failures only warn, exit 0 | discovery unreachable 68
 *   disconnect nvmeX|SubNQN  silent, exit 0 | nothing matched 74
 *   disconnect-all           silent, exit 0 | nothing connected 74
 *   unknown command          "Unknown command: X" + usage, exit 64
 */
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const state = process.env.FAKE_NVMECONTROL_STATE;
if (!state) {
  process.stderr.write('fake nvmecontrol: FAKE_NVMECONTROL_STATE must be set\n');
  process.exit(99);
}

const now = () => performance.timeOrigin + performance.now();
const start = now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const file = (name) => path.join(state, name);
const lines = (name) => (existsSync(file(name)) ? readFileSync(file(name), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean) : []);
const msFrom = (name) => (existsSync(file(name)) ? Number(readFileSync(file(name), 'utf8').trim()) || 0 : 0);

// sysexits.h
const EX_USAGE = 64;
const EX_NOHOST = 68;
const EX_UNAVAILABLE = 69;
const EX_OSFILE = 72;
const EX_IOERR = 74;

// FreeBSD strerror(3) texts of the errnos that occur here.
const ENOENT = 'No such file or directory';
const EBUSY = 'Device busy';
const ENXIO = 'Device not configured';
const ENOTTY = 'Inappropriate ioctl for device';
const EINVAL = 'Invalid argument';
const CONNECT_ERRNO = { refused: 'Connection refused', timeout: 'Operation timed out', unreach: 'No route to host' };

let out = '';
let err = '';
const fields = {};

class Exit extends Error {
  constructor(code) {
    super(`exit ${code}`);
    this.code = code;
  }
}

// err(3) family: "<progname>: <message>[: strerror]". getprogname() is "nvmecontrol".
const warnx = (msg) => {
  err += `nvmecontrol: ${msg}\n`;
};
const warnc = (errno, msg) => warnx(`${msg}: ${errno}`);
const errx = (code, msg) => {
  warnx(msg);
  throw new Exit(code);
};
const errc = (code, errno, msg) => errx(code, `${msg}: ${errno}`);

// ---------------------------------------------------------------------------
// Controllers (the kernel's nvme devices) in controllers.json.

function readControllers() {
  return existsSync(file('controllers.json')) ? JSON.parse(readFileSync(file('controllers.json'), 'utf8')) : {};
}

/** Read-modify-write of controllers.json under controllers.lock (concurrent commands must not lose updates). */
async function updateControllers(fn) {
  const lock = file('controllers.lock');
  for (let tries = 0; ; tries += 1) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 10_000) unlinkSync(lock); // a holder that died
      } catch {
        /* released meanwhile */
      }
      await sleep(2);
    }
  }
  try {
    const controllers = readControllers();
    const result = fn(controllers);
    const tmp = file(`controllers.json.${process.pid}.tmp`);
    writeFileSync(tmp, `${JSON.stringify(controllers, null, 2)}\n`);
    renameSync(tmp, file('controllers.json'));
    return result;
  } finally {
    unlinkSync(lock);
  }
}

const unitOf = (name) => Number(/^nvme([0-9]+)$/.exec(name)?.[1] ?? NaN);
const isFabrics = (c) => (c.transport ?? 'tcp') !== 'pcie';

/** DEVICE_UNIT_ANY: the kernel gives a new nvme device the lowest free unit (nvmf_ctldev.c nvmf_handoff_host). */
function lowestFreeUnit(controllers) {
  let n = 0;
  while (controllers[`nvme${n}`]) n += 1;
  return `nvme${n}`;
}

// ---------------------------------------------------------------------------
// The host side: default host NQN, address parsing, TCP connect.

/** fabrics.c nvmf_default_hostnqn() → libnvmf nvmf_nqn_from_hostuuid(): NVMF_NQN_UUID_PRE + kern.hostuuid. */
function defaultHostnqn() {
  const uuid = existsSync(file('hostuuid')) ? readFileSync(file('hostuuid'), 'utf8').trim() : '5f2d7a6e-3c1b-4e8f-9a0d-6b4c2e1f8a73';
  return `nqn.2014-08.org.nvmexpress:uuid:${uuid}`;
}

/** nvmft_subr.c nvmf_nqn_valid() (what libnvmf uses): 1 to NVMF_NQN_MAX_LEN (223) bytes, nothing else. */
const nqnValid = (nqn) => {
  const len = Buffer.byteLength(nqn);
  return len > 0 && len <= 223;
};

/**
 * fabrics.c nvmf_parse_address(): "[v6]:port", "v4:port", "host:port", "[v6]", "v6", "v4", "host".
 * Malformed: errx(EX_USAGE, "Invalid address %s", in_address).
 */
function parseAddress(inAddress) {
  if (inAddress.startsWith('[')) {
    const close = inAddress.indexOf(']', 1);
    if (close === -1 || close === 1) errx(EX_USAGE, `Invalid address ${inAddress}`);
    const address = inAddress.slice(1, close);
    const rest = inAddress.slice(close + 1);
    if (rest === '') return { address, port: null };
    if (rest[0] === ':' && rest.length > 1) return { address, port: rest.slice(1) };
    errx(EX_USAGE, `Invalid address ${inAddress}`);
  }
  const colon = inAddress.indexOf(':');
  if (colon === -1) return { address: inAddress, port: null };
  // "If there is another colon, assume this is an IPv6 address."
  if (inAddress.indexOf(':', colon + 1) !== -1) return { address: inAddress, port: null };
  if (colon === 0 || colon === inAddress.length - 1) errx(EX_USAGE, `Invalid address ${inAddress}`);
  return { address: inAddress.slice(0, colon), port: inAddress.slice(colon + 1) };
}

/** The errno of a TCP connect to address:port per the state file `unreachable`, or null when it connects. */
function connectErrno(address, port) {
  for (const line of lines('unreachable')) {
    const [where, kind] = line.split(/\s+/);
    if (where === `${address}:${port}`) return CONNECT_ERRNO[kind] ?? CONNECT_ERRNO.refused;
  }
  return null;
}

/**
 * fabrics.c connect_nvm_queues() up to the point where the kernel gets the queues. Returns 0 or
 * the sysexits code the caller exits with (the caller decides: connect exits, connect-all ignores).
 */
function connectNvmQueues({ address, port, subnqn, hostnqn, numIoQueues }) {
  if (hostnqn == null || !nqnValid(hostnqn)) {
    warnx(`Invalid HostNQN ${hostnqn}`); // fabrics.c connect_nvm_queues
    return EX_USAGE;
  }
  const errno = connectErrno(address, port);
  if (errno) {
    warnx(`Failed to connect to controller at ${address}:${port}: ${errno}`); // fabrics.c tcp_qpair_params: warn()
    return EX_NOHOST;
  }
  if (lines('fail-connect').includes(subnqn)) {
    // fabrics.c connect_nvm_adminq; the reason is libnvmf nvmf_connect()'s na_error for a CONNECT
    // rejected with "invalid parameter": a target that does not serve the SubNQN (Linux nvmet) points
    // IATTR 1 (connect data) / IPO 256 (offset of subnqn in the connect data) at it.
    warnx(`Failed to connect to NVM controller ${subnqn}: CONNECT invalid parameter IATTR: 0x1 IPO: 0x100`);
    return EX_IOERR;
  }
  if (numIoQueues === 0) {
    warnc(EINVAL, 'Failed to request I/O queues'); // fabrics.c: nvmf_host_request_queues(requested < 1) is EINVAL
    return EX_IOERR;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Command-line parsing: comnd.c arg_parse() on the BSD getopt_long(3).

const arg = (long, short, type, descr) => ({ long, short, type, descr });

/** connect.c connect_opts[] (connect and connect-all). */
const CONNECT_OPTS = [
  arg('transport', 't', 'string', 'Transport type'),
  arg('cntlid', 'c', 'string', 'Controller ID'),
  arg('nr-io-queues', 'i', 'uint16', 'Number of I/O queues'),
  arg('queue-size', 'Q', 'uint16', 'Number of entries in each I/O queue'),
  arg('keep-alive-tmo', 'k', 'uint32', 'Keep Alive timeout (in seconds)'),
  arg('reconnect-delay', 'r', 'uint32', 'Delay between reconnect attempts after connection loss (in seconds)'),
  arg('ctrl-loss-tmo', 'l', 'uint32', 'Controller loss timeout after connection loss (in seconds)'),
  arg('hostnqn', 'q', 'string', 'Host NQN'),
  arg('flow_control', 'F', 'none', 'Request SQ flow control'),
  arg('hdr_digests', 'g', 'none', 'Enable TCP PDU header digests'),
  arg('data_digests', 'G', 'none', 'Enable TCP PDU data digests'),
];
/** reconnect.c reconnect_opts[]: connect's without -c. */
const RECONNECT_OPTS = CONNECT_OPTS.filter((o) => o.long !== 'cntlid');
/** devlist.c devlist_opts[]. */
const DEVLIST_OPTS = [arg('human', 'h', 'none', 'Show human readable disk size')];

const COMMANDS = {
  connect: { descr: 'Connect to a fabrics controller', opts: CONNECT_OPTS, args: ['address', 'SubNQN'] },
  'connect-all': { descr: 'Discover and connect to fabrics controllers', opts: CONNECT_OPTS, args: ['address'] },
  devlist: { descr: 'List NVMe controllers and namespaces', opts: DEVLIST_OPTS, args: null },
  disconnect: { descr: 'Disconnect from a fabrics controller', opts: null, args: ['controller-id|namespace-id|SubNQN'] },
  'disconnect-all': { descr: 'Disconnect from all fabrics controllers', opts: null, args: null },
  reconnect: { descr: 'Reconnect to a fabrics controller', opts: RECONNECT_OPTS, args: ['controller-id'] },
};

/** Real nvmecontrol commands this fake does not model (a test calling one is a test bug, not a usage error). */
const UNMODELLED = ['admin-passthru', 'discover', 'firmware', 'format', 'identify', 'io-passthru', 'logpage', 'ns', 'nsid', 'perftest', 'power', 'reset', 'resv', 'sanitize', 'selftest'];

/** comnd.c arg_help(): prints the command's usage and exits EX_USAGE. */
function argHelp(name, unknown) {
  const cmd = COMMANDS[name];
  // "if (argv[optind]) fprintf(stderr, "Unknown argument: %s\n", argv[optind]);" — the word getopt
  // stopped at (approximated on the unpermuted argv).
  if (unknown !== undefined) err += `Unknown argument: ${unknown}\n`;
  err += `Usage:\n    nvmecontrol ${name}${cmd.opts ? ' <args>' : ''}${(cmd.args ?? []).map((a) => ` ${a}`).join('')}\n\n${cmd.descr}\n`;
  if (cmd.opts) {
    err += 'Options:\n';
    for (const o of cmd.opts) {
      const suffix = o.type === 'none' ? '' : o.type === 'string' ? '=<STRING>' : '=<NUM>';
      const buf = ` -${o.short}, --${o.long}${suffix}`.slice(0, 30); // char buf[31]
      err += `${buf.padEnd(30)} - ${o.descr}\n`; // "%-30.30s - %s\n"
    }
  }
  throw new Exit(EX_USAGE);
}

/** strtoul(optarg, NULL, 0) as a 64-bit unsigned long: base prefix, partial parse, wrap of '-', ULONG_MAX on overflow. */
function strtoul(s) {
  let i = 0;
  while (i < s.length && /\s/.test(s[i])) i += 1;
  let negative = false;
  if (s[i] === '+' || s[i] === '-') {
    negative = s[i] === '-';
    i += 1;
  }
  let base = 10;
  if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && /[0-9a-fA-F]/.test(s[i + 2] ?? '')) {
    base = 16;
    i += 2;
  } else if (s[i] === '0') base = 8;
  const max = 0xffffffffffffffffn;
  let value = 0n;
  for (; i < s.length; i += 1) {
    const digit = parseInt(s[i], 36);
    if (Number.isNaN(digit) || digit >= base) break;
    value = value * BigInt(base) + BigInt(digit);
    if (value > max) return max;
  }
  return negative ? (max + 1n - value) % (max + 1n) : value;
}

const LIMITS = { uint16: 0xffffn, uint32: 0xffffffffn };

/**
 * comnd.c arg_parse() over BSD getopt_long: options anywhere (permutation, unless
 * POSIXLY_CORRECT), `--` ends them, clustered short flags, -oVALUE / -o VALUE, --long=VALUE /
 * --long VALUE, unique prefixes of long names; `-?`/`--help` and every getopt error end in
 * arg_help (exit 64); a number above the type's range: "Bad value to --%s: %s", exit 64.
 * Returns {values, positionals}: the declared positional args are checked ("Missing arg %s");
 * extra positionals are returned, not rejected (reconnect's optional address).
 */
function argParse(name, words) {
  const cmd = COMMANDS[name];
  const opts = cmd.opts ?? [];
  const values = {};
  const positionals = [];
  const fail = (message, index) => {
    if (message) warnx(message); // getopt_long's own warnx
    argHelp(name, words[index]);
  };
  const store = (o, optarg) => {
    if (o.type === 'none') values[o.long] = true;
    else if (o.type === 'string') values[o.long] = optarg;
    else {
      const v = strtoul(optarg);
      if (v > LIMITS[o.type]) {
        err += `Bad value to --${o.long}: ${optarg}\n`;
        throw new Exit(EX_USAGE);
      }
      values[o.long] = Number(v);
    }
  };
  for (let i = 0; i < words.length; i += 1) {
    const word = words[i];
    if (word === '--') {
      positionals.push(...words.slice(i + 1));
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      if (process.env.POSIXLY_CORRECT) {
        positionals.push(...words.slice(i));
        break;
      }
      positionals.push(word);
      continue;
    }
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const given = eq === -1 ? word.slice(2) : word.slice(2, eq);
      if (given === 'help') fail(null, i + 1);
      const exact = opts.find((o) => o.long === given);
      const matches = exact ? [exact] : opts.filter((o) => o.long.startsWith(given));
      if ('help'.startsWith(given) && !exact) matches.push({ long: 'help', type: 'none' });
      if (matches.length === 0) fail(`unknown option -- ${given}`, i + 1);
      if (matches.length > 1) fail(`ambiguous option -- ${given}`, i + 1);
      const o = matches[0];
      if (o.long === 'help') fail(null, i + 1);
      if (o.type === 'none') {
        if (eq !== -1) fail(`option doesn't take an argument -- ${given}`, i + 1);
        store(o);
      } else if (eq !== -1) store(o, word.slice(eq + 1));
      else if (i + 1 < words.length) {
        store(o, words[i + 1]);
        i += 1;
      } else fail(`option requires an argument -- ${given}`, i + 1);
      continue;
    }
    for (let j = 1; j < word.length; j += 1) {
      const ch = word[j];
      const last = j === word.length - 1;
      if (ch === '?') fail(null, last ? i + 1 : i);
      const o = opts.find((x) => x.short === ch);
      if (!o) fail(`unknown option -- ${ch}`, last ? i + 1 : i);
      if (o.type === 'none') {
        store(o);
        continue;
      }
      if (!last) store(o, word.slice(j + 1));
      else if (i + 1 < words.length) {
        store(o, words[i + 1]);
        i += 1;
      } else fail(`option requires an argument -- ${ch}`, i + 1);
      break;
    }
  }
  for (const [k, a] of (cmd.args ?? []).entries()) {
    if (positionals.length <= k) {
      err += `Missing arg ${a}\n`;
      argHelp(name);
    }
  }
  return { values, positionals };
}

/** nvmecontrol.c open_dev(): "/dev/" + name in char full_path[64]; err(EX_OSFILE, "could not open %s%s", ...). */
function openDev(name, controllers) {
  const fullPath = `/dev/${name}`.slice(0, 63);
  const ns = /^(nvme[0-9]+)ns([0-9]+)$/.exec(name);
  if (controllers[name]) return { controller: name, namespace: false };
  if (ns && controllers[ns[1]]?.namespaces?.some((n) => n.nsid === Number(ns[2]))) return { controller: ns[1], namespace: true };
  errc(EX_OSFILE, name === '' ? 'Is a directory' : ENOENT, `could not open ${fullPath} for write`); // "" opens /dev/ itself
}

const transportOf = (values) => {
  const transport = values.transport ?? 'tcp';
  return transport.toLowerCase() === 'tcp' ? 'tcp' : null; // strcasecmp(opt.transport, "tcp")
};

// ---------------------------------------------------------------------------
// Commands.

/** libnvmf nvmf_transport_type() (the FreeBSD one keeps the "\n" in its default format). */
function transportName(transport) {
  const trtype = typeof transport === 'number' ? transport : ({ rdma: 1, fc: 2, tcp: 3, 'intra-host': 0xfe }[transport] ?? 0);
  return { 1: 'RDMA', 2: 'Fibre Channel', 3: 'TCP', 0xfe: 'Intra-host' }[trtype] ?? `0x${trtype.toString(16).padStart(2, '0')}\n`.slice(0, 7);
}

/** sys/dev/nvme nvme_strvis(mn, cdata.mn, sizeof(mn) = 64, NVME_MODEL_NUMBER_LENGTH = 40). */
function strvis(model) {
  let s = model.slice(0, 40);
  s = s.replace(/^ +/, '').replace(/[ \0]+$/, '');
  return [...s].map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) >= 0x7f ? '?' : c)).join('').slice(0, 63);
}

/** humanize_number(buf, 7, size, "B", HN_AUTOSCALE, HN_B | HN_NOSPACE | HN_DECIMAL) (lib/libutil 589bc2ca). */
function humanize(size) {
  const len = 7;
  const prefixes = ['B', 'K', 'M', 'G', 'T', 'P', 'E'];
  const divisor = 1024n;
  const divisordeccut = 973n;
  const baselen = 1 + 1 + 1; // baselen 1, one digit, strlen("B")
  let max = 1n;
  for (let i = len - baselen; i > 0; i -= 1) max *= 10n;
  let quotient = BigInt(size);
  let remainder = 0n;
  let i = 0;
  while ((quotient >= max || (quotient === max - 1n && (remainder >= divisordeccut || remainder >= divisor / 2n))) && i < 6) {
    remainder = quotient % divisor;
    quotient /= divisor;
    i += 1;
  }
  let text;
  if (((quotient === 9n && remainder < divisordeccut) || quotient < 9n) && i > 0) {
    const s1 = quotient + (remainder * 10n + divisor / 2n) / divisor / 10n;
    const s2 = ((remainder * 10n + divisor / 2n) / divisor) % 10n;
    text = `${s1}.${s2}${prefixes[i]}B`;
  } else text = `${quotient + (remainder + divisor / 2n) / divisor}${prefixes[i]}B`;
  return text.slice(0, len - 1); // snprintf into char buf[7]
}

/**
 * devlist.c (current): for each /dev/nvmeN, N = 0..256:
 *   printf("%6s: %s", name, mn);
 *   connected: printf(" (connected via %s %.*s:%.*s)", nvmf_transport_type(dle->trtype), traddr, trsvcid)
 *              (only when the controller has reconnect parameters, i.e. is a fabrics one)
 *   else:      printf(" (disconnected for %ju seconds)", now - last_disconnect)
 *   printf("\n"); then, for connected controllers only, each active namespace:
 *   printf("  %10s (%juMB)\n", "nvmeNnsM", size / 1024 / 1024)   (-h: "  %10s (%s)\n", humanized)
 * None found: printf("No NVMe controllers found.\n"); exit(EX_UNAVAILABLE).
 */
function devlist(words) {
  const { values } = argParse('devlist', words);
  const controllers = readControllers();
  const names = Object.keys(controllers)
    .filter((n) => unitOf(n) <= 256)
    .sort((a, b) => unitOf(a) - unitOf(b));
  const nowSec = BigInt(Math.floor(Date.now() / 1000));
  for (const name of names) {
    const c = controllers[name];
    const connected = !isFabrics(c) || c.state !== 'disconnected';
    let line = `${name.padStart(6)}: ${strvis(c.mn ?? 'FreeBSD')}`;
    if (isFabrics(c) && connected) line += ` (connected via ${transportName(c.transport ?? 'tcp')} ${c.traddr}:${c.trsvcid})`;
    if (!connected) {
      const since = BigInt(Math.floor((c.disconnectedSince ?? Date.now()) / 1000));
      line += ` (disconnected for ${BigInt.asUintN(64, nowSec - since)} seconds)`;
    }
    out += `${line}\n`;
    if (!connected) continue; // print_controller_info() returned false: no namespace scan
    for (const ns of [...(c.namespaces ?? [])].sort((a, b) => a.nsid - b.nsid)) {
      if (!ns.bytes) continue; // nsdata.nsze == 0
      const nsName = `${name}ns${ns.nsid}`.padStart(10);
      out += values.human ? `  ${nsName} (${humanize(ns.bytes)})\n` : `  ${nsName} (${Math.floor(ns.bytes / 1024 / 1024)}MB)\n`;
    }
  }
  if (names.length === 0) {
    out += 'No NVMe controllers found.\n';
    throw new Exit(EX_UNAVAILABLE);
  }
}

/**
 * reconnect.c (e4452d45) reconnect_fn(): open_dev(dev, write) → fetch_and_validate_rparams() →
 * with a trailing address reconnect_by_address() (options from this command line, port required),
 * else reconnect_by_params() (everything the kernel saved at connect time) → connect_nvm_queues()
 * (the TCP connect: unreachable fails here, before the kernel is asked) → nvmf_reconnect_host():
 * EBUSY while the old association is still up. Silent on success.
 */
async function reconnect(words) {
  fields.overlap = false;
  const { values, positionals } = argParse('reconnect', words);
  const device = positionals[0];
  fields.device = device;
  mkdirSync(file('active'), { recursive: true });
  const marker = file(path.join('active', device.replaceAll('/', '_')));
  let overlap = false;
  try {
    closeSync(openSync(marker, 'wx'));
  } catch {
    overlap = true;
  }
  fields.overlap = overlap;
  try {
    const { controller: name, namespace } = openDev(device, readControllers());
    const c = readControllers()[name];
    // NVMF_RECONNECT_PARAMS on a namespace or a PCIe controller's cdev: not an nvmf ioctl there.
    if (namespace || !isFabrics(c)) {
      warnc(ENOTTY, 'Failed to fetch reconnect parameters');
      throw new Exit(EX_IOERR);
    }
    let target;
    if (positionals.length > 1) {
      // reconnect_by_address()
      if (!transportOf(values)) {
        warnx('Unsupported or invalid transport');
        throw new Exit(EX_USAGE);
      }
      const { address, port } = parseAddress(positionals[1]);
      if (port === null) {
        warnx('Explicit port required');
        throw new Exit(EX_USAGE);
      }
      target = {
        address,
        port,
        subnqn: c.subnqn,
        hostnqn: values.hostnqn ?? defaultHostnqn(),
        numIoQueues: values['nr-io-queues'] ?? 1,
        reconnectDelay: values['reconnect-delay'] ?? 10, // NVMF_DEFAULT_RECONNECT_DELAY
        ctrlLossTmo: values['ctrl-loss-tmo'] ?? 600, // NVMF_DEFAULT_CONTROLLER_LOSS
      };
    } else {
      // reconnect_by_params(): the saved discovery log entry, host NQN and timers; options ignored.
      target = { address: c.traddr, port: c.trsvcid, subnqn: c.subnqn, hostnqn: c.hostnqn ?? defaultHostnqn(), numIoQueues: 1 };
    }
    await sleep(msFrom('reconnect-ms'));
    const code = connectNvmQueues(target);
    if (code !== 0) throw new Exit(code);
    await updateControllers((controllers) => {
      const current = controllers[name];
      if (!current) {
        warnc(ENXIO, 'Failed to handoff queues to kernel'); // the device was detached meanwhile
        throw new Exit(EX_IOERR);
      }
      if (current.state !== 'disconnected') {
        warnc(EBUSY, 'Failed to handoff queues to kernel'); // nvmf.c: sc->admin != NULL → EBUSY
        throw new Exit(EX_IOERR);
      }
      current.state = 'connected';
      delete current.disconnectedSince;
      if (target.reconnectDelay !== undefined) {
        Object.assign(current, { traddr: target.address, trsvcid: target.port, hostnqn: target.hostnqn, reconnectDelay: target.reconnectDelay, ctrlLossTmo: target.ctrlLossTmo });
      }
    });
  } finally {
    if (!overlap) unlinkSync(marker);
  }
}

/** A new association handed to the kernel: a new nvmeN (libnvmf nvmf_handoff_host → nvmf_ctldev.c). */
function newController(controllers, { address, port, subnqn, hostnqn, reconnectDelay, ctrlLossTmo }) {
  const name = lowestFreeUnit(controllers);
  controllers[name] = { state: 'connected', transport: 'tcp', traddr: address, trsvcid: port, subnqn, hostnqn, reconnectDelay, ctrlLossTmo };
  return name;
}

/** connect_fn() / connect_all_fn(): the checks both make before any address is parsed, and the parameters. */
function connectParams(values) {
  if ((values['nr-io-queues'] ?? 1) <= 0) errx(EX_USAGE, 'Invalid number of I/O queues');
  if (!transportOf(values)) errx(EX_USAGE, 'Unsupported or invalid transport');
  return {
    hostnqn: values.hostnqn ?? defaultHostnqn(),
    numIoQueues: values['nr-io-queues'] ?? 1,
    reconnectDelay: values['reconnect-delay'] ?? 10,
    ctrlLossTmo: values['ctrl-loss-tmo'] ?? 600,
  };
}

/**
 * connect.c connect_fn(): port required; silent on success and does not say which nvmeN the
 * kernel created. Connecting a SubNQN that is already connected at that address is not refused:
 * the target gives the host another controller (dynamic controller model) and the kernel attaches
 * another nvmeN — nothing in nvmecontrol, libnvmf or nvmf_handoff_host() checks for duplicates.
 * traddr is stored as given; the real dle holds getnameinfo(NI_NUMERICHOST) of the peer, which is
 * the same for a numeric address (host names are not resolved here).
 */
async function connect(words) {
  const { values, positionals } = argParse('connect', words);
  const params = connectParams(values);
  const { address, port } = parseAddress(positionals[0]);
  if (port === null) errx(EX_USAGE, 'Explicit port required');
  const cntlid = values.cntlid ?? 'dynamic';
  // fabrics.c nvmf_parse_cntlid(): "dynamic", "static" or a number up to NVMF_CNTLID_STATIC_MAX (0xffef)
  if (!['dynamic', 'static'].includes(cntlid.toLowerCase()) && strtoul(cntlid) > 0xffefn) errx(EX_USAGE, 'Invalid controller ID');
  await sleep(msFrom('connect-ms'));
  const code = connectNvmQueues({ address, port, subnqn: positionals[1], ...params });
  if (code !== 0) throw new Exit(code);
  fields.device = await updateControllers((controllers) => newController(controllers, { address, port, subnqn: positionals[1], ...params }));
}

/**
 * connect.c connect_all_fn(): discovery controller at address (port default "8009", fabrics.c
 * "7.4.9.3 Default port for discovery"); a failure to reach it exits (EX_NOHOST). Then
 * connect_discovery_entry() for each log entry — "XXX: Track portids and avoid duplicate
 * connections for a given (subnqn,portid)?": it does not skip connected subsystems — and each
 * entry's errors are only warned about; the command exits 0.
 */
async function connectAll(words) {
  const { values, positionals } = argParse('connect-all', words);
  const params = connectParams(values);
  const parsed = parseAddress(positionals[0]);
  const port = parsed.port ?? '8009';
  // fabrics.c connect_discovery_adminq()
  if (values.hostnqn !== undefined && !nqnValid(values.hostnqn)) errx(EX_USAGE, `Invalid HostNQN ${values.hostnqn}`);
  await sleep(msFrom('connect-ms'));
  const errno = connectErrno(parsed.address, port);
  if (errno) {
    warnx(`Failed to connect to controller at ${parsed.address}:${port}: ${errno}`); // tcp_qpair_params(): warn(), then exit(EX_NOHOST)
    throw new Exit(EX_NOHOST);
  }
  const log = existsSync(file('discovery.json')) ? JSON.parse(readFileSync(file('discovery.json'), 'utf8')) : [];
  const devices = [];
  for (const entry of log) {
    const trtype = entry.trtype ?? 'tcp';
    if (trtype !== 'tcp' && trtype !== 3) {
      warnx(`Skipping unsupported transport ${transportName(trtype)} for ${entry.subnqn}`);
      continue;
    }
    const adrfam = entry.adrfam ?? (String(entry.traddr).includes(':') ? 'ipv6' : 'ipv4');
    if (!['ipv4', 'ipv6', 1, 2].includes(adrfam)) {
      warnx(`Skipping unsupported address family for ${entry.subnqn}`);
      continue;
    }
    if (![undefined, 'none', 0].includes(entry.sectype)) {
      warnx(`Skipping unsupported TCP security type for ${entry.subnqn}`);
      continue;
    }
    const target = { address: String(entry.traddr), port: String(entry.trsvcid), subnqn: entry.subnqn, ...params };
    if (connectNvmQueues(target) !== 0) continue; // connect_nvm_controller()'s result is ignored
    devices.push(await updateControllers((controllers) => newController(controllers, target)));
  }
  fields.devices = devices;
}

/**
 * disconnect.c: nvmf_nqn_valid(arg) is only a length check (1-223 bytes), so practically every
 * argument — nvme0, a SubNQN, even /dev/nvme0 — goes to the kernel as a name;
 * nvmf_ctldev.c nvmf_disconnect_by_name() detaches every nvmf controller whose nameunit or SubNQN
 * equals it, ENOENT if none: errc(EX_IOERR, error, "failed to disconnect from %s", ...).
 */
async function disconnect(words) {
  const { positionals } = argParse('disconnect', words);
  const name = positionals[0];
  if (!nqnValid(name)) {
    openDev(name, readControllers()); // longer than an NQN: open_dev() of a path that cannot exist
  }
  const removed = await updateControllers((controllers) => {
    const matched = Object.keys(controllers).filter((n) => isFabrics(controllers[n]) && (n === name || controllers[n].subnqn === name));
    for (const n of matched) delete controllers[n];
    return matched.length;
  });
  if (removed === 0) errc(EX_IOERR, ENOENT, `failed to disconnect from ${name}`);
}

/** disconnect.c disconnect_all(): takes no arguments at all (arg_parse is not called); ENOENT if nothing was detached. */
async function disconnectAll() {
  const removed = await updateControllers((controllers) => {
    const matched = Object.keys(controllers).filter((n) => isFabrics(controllers[n]));
    for (const n of matched) delete controllers[n];
    return matched.length;
  });
  if (removed === 0) errc(EX_IOERR, ENOENT, 'failed to disconnect from remote controllers');
}

/** comnd.c gen_usage(): every registered command, sorted by name (the real one lists all of them; here the modelled ones). */
function genUsage() {
  err += 'usage:\n';
  for (const [name, cmd] of Object.entries(COMMANDS).sort(([a], [b]) => (a < b ? -1 : 1))) {
    err += `    nvmecontrol ${name.padEnd(15)} - ${cmd.descr}\n`;
  }
  throw new Exit(EX_USAGE);
}

async function main(argv) {
  const [command, ...rest] = argv;
  if (command === undefined) genUsage();
  if (command === 'devlist') return devlist(rest);
  if (command === 'reconnect') return reconnect(rest);
  if (command === 'connect') return connect(rest);
  if (command === 'connect-all') return connectAll(rest);
  if (command === 'disconnect') return disconnect(rest);
  if (command === 'disconnect-all') return disconnectAll();
  if (UNMODELLED.includes(command)) {
    err += `fake nvmecontrol: '${command}' is a real nvmecontrol command this fake does not model\n`;
    throw new Exit(EX_USAGE);
  }
  err += `Unknown command: ${command}\n`; // comnd.c cmd_dispatch()
  genUsage();
}

let exit = 0;
try {
  await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof Exit) exit = error.code;
  else {
    err += `fake nvmecontrol: ${error.stack ?? error.message}\n`;
    exit = 70;
  }
}
if (out) process.stdout.write(out);
if (err) process.stderr.write(err);
appendFileSync(file('calls.jsonl'), `${JSON.stringify({ argv: process.argv.slice(2), pid: process.pid, ppid: process.ppid, start, end: now(), exit, ...fields })}\n`);
process.exitCode = exit;
