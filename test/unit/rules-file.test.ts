/**
 * Static checks of the shipped udev rules (the real-udev behaviour is in
 * test/system/udev-host.test.ts): fixed-word RUN lines only, jumps that land,
 * and match values that agree with the hook's own filter.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { classifyLostUevent } from '../../src/hooks/nvmf/lost.js';
import { IDENTITY_FIELDS } from '../../src/hooks/nvmf/stored-identity.js';
import { classifyUevent } from '../../src/hooks/nvmf/connect-request.js';
import { resolvePaths } from '../../src/core/system.js';
import { armedFlagPathFor } from '../../src/timerd/client.js';
import { AEN_DISCOVERY_LOG_CHANGED } from '../../src/hooks/nvmf/prefilter.js';
import * as validate from '../../src/hooks/nvmf/validate.js';

/** The lost/connected/connect commands the rules run, in file order. */
const COMMANDS = ['connect', 'connected', 'lost'] as const;
/** Characters of a stored value (a glob class): what validate.nqn() accepts after the domain. */
const NQN_CHARS = 'A-Za-z0-9._:+@=-';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/nvme-cli');
const RULES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../rules.d/70-sanhook-nvmf.rules');

/** Rules as udev reads them: comments and blank lines dropped, backslash-newline joined. */
function rules(text: string): string[] {
  return text
    .replace(/\\\n/g, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

const KEY = /([A-Z]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"/g;
function keys(rule: string): { key: string; attr?: string; op: string; value: string }[] {
  return [...rule.matchAll(KEY)].map((m) => ({ key: m[1]!, ...(m[2] !== undefined ? { attr: m[2] } : {}), op: m[3]!, value: m[4]! }));
}

describe('rules.d/70-sanhook-nvmf.rules', () => {
  const text = readFileSync(RULES, 'utf8');
  const lines = rules(text);
  const all = lines.flatMap(keys);

  it('every rule parses into keys (no stray text)', () => {
    for (const line of lines) {
      expect(line.replace(KEY, '').replace(/[\s,]/g, ''), line).toBe('');
    }
  });

  it('RUN commands are fixed words: no substitution, absolute programs, exactly the expected commands', () => {
    const runs = all.filter((k) => k.key === 'RUN');
    for (const run of runs) {
      expect(run.value, 'no $env{}/$kernel/%k substitution in RUN').not.toMatch(/[$%]/);
      expect(run.value, 'no quoting games').not.toMatch(/["'\\]/);
      expect(run.op).toBe('+=');
      expect(run.value.split(/\s+/)[0]).toMatch(/^\//);
    }
    expect(runs.map((r) => r.value.split(/\s+/).filter((w) => !w.startsWith('--property=') && !w.startsWith('--setenv=')))).toEqual(
      COMMANDS.flatMap((command) => [
        ...(command === 'connect' ? [['/usr/bin/systemd-run', '--no-block', '--quiet', '--collect', '/usr/bin/sanhook', 'connect', '--uevent']] : []),
        ['/usr/bin/systemd-cat', '--identifier=sanhook', '/usr/bin/sanhook', '--log-format', 'journal', command, '--uevent'],
        ['/usr/bin/sanhook', command, '--uevent'],
      ]),
    );
  });

  describe('the connect hand-off to a transient unit under systemd', () => {
    const at = lines.indexOf('LABEL="sanhook_nvmf_connect"');
    const handOff = keys(lines[at + 1]!);
    const words = handOff.find((k) => k.key === 'RUN')!.value.split(/\s+/);
    const passed = words.filter((w) => w.startsWith('--setenv=')).map((w) => w.slice('--setenv='.length));
    const properties = new Map(words.filter((w) => w.startsWith('--property=')).map((w) => w.slice('--property='.length).split('=') as [string, string]));

    it('only when systemd is PID 1 (sd_booted: /run/systemd/system) and systemd-run exists; the inline branches follow', () => {
      expect(handOff.filter((k) => k.key !== 'RUN')).toEqual([
        { key: 'TEST', op: '==', value: '/run/systemd/system' },
        { key: 'TEST', op: '==', value: '/usr/bin/systemd-run' },
        { key: 'GOTO', op: '=', value: 'sanhook_nvmf_end' },
      ]);
      expect(passed.every((name) => /^[A-Z_]+$/.test(name)), 'names only: the value comes from the event (passthrough)').toBe(true);
    });

    it('passes every variable the hook reads: each real uevent classifies the same through the unit as in udev', () => {
      // systemd-run --setenv=NAME gives an absent NAME as NAME= (env-util.c strv_env_replace_strdup_passthrough)
      const throughUnit = (env: Record<string, string>) => Object.fromEntries(passed.map((name) => [name, env[name] ?? '']));
      const events: Record<string, string>[] = [];
      for (const file of ['uevent-aen.txt', 'uevent-connect.txt', 'uevent-remove.txt', 'uevent-discover-persistent.txt', 'uevent-aen-rdma.txt', 'uevent-connect-rdma.txt', 'uevent-lost-rdma.txt']) {
        for (const block of readFileSync(path.join(FIXTURES, file), 'utf8').split(/\n\s*\n/)) {
          if (!/^UDEV /m.test(block)) continue;
          events.push(Object.fromEntries(block.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])));
        }
      }
      events.push(
        { ACTION: 'change', SUBSYSTEM: 'nvme', DEVPATH: '/devices/virtual/nvme-fabrics/ctl/nvme3', NVME_EVENT: 'rediscover', NVME_TRTYPE: 'tcp', NVME_TRADDR: '10.0.0.5', NVME_TRSVCID: '8009', NVME_HOST_TRADDR: 'none', NVME_HOST_IFACE: 'none', SEQNUM: '9' },
        { ACTION: 'change', SUBSYSTEM: 'fc', DEVPATH: '/devices/virtual/fc/fc_udev_device', FC_EVENT: 'nvmediscovery', NVMEFC_HOST_TRADDR: 'nn-0x20000090fa942779:pn-0x10000090fa942779', NVMEFC_TRADDR: 'nn-0x201700a09890f5bf:pn-0x201900a09890f5bf', SEQNUM: '10' },
      );
      const relevant = events.filter((e) => classifyUevent(e).kind !== 'irrelevant');
      expect(relevant.length, 'the fixtures hold AEN, rediscover and FC events').toBeGreaterThanOrEqual(3);
      for (const event of events) expect(classifyUevent(throughUnit(event)), JSON.stringify(event)).toEqual(classifyUevent(event));
    });

    it('the unit can write what the hook writes, and nothing else; no W+X memory; logs as `sanhook`', () => {
      expect(Object.fromEntries(properties)).toMatchObject({
        SyslogIdentifier: 'sanhook',
        // the report (stdout) only repeats the log; the log (stderr) must still reach the journal
        StandardOutput: 'null',
        StandardError: 'journal',
        ProtectSystem: 'strict',
        StateDirectory: 'sanhook',
        StateDirectoryMode: '0700', // holds host NQNs: never systemd's default 0755
        RuntimeDirectory: 'sanhook',
        RuntimeDirectoryPreserve: 'yes',
        MemoryDenyWriteExecute: 'yes',
      });
    });
  });

  it('each command has its label: the systemd-cat wrapper only when it and journald are there, then the plain RUN is skipped', () => {
    for (const command of COMMANDS) {
      const label = lines.findIndex((l) => l === `LABEL="sanhook_nvmf_${command}"`);
      expect(label, command).toBeGreaterThan(0);
      // connect: the systemd hand-off comes first (tested below)
      const at = command === 'connect' ? label + 1 : label;
      expect(keys(lines[at + 1]!)).toEqual([
        { key: 'TEST', op: '==', value: '/usr/bin/systemd-cat' },
        { key: 'TEST', op: '==', value: '/run/systemd/journal/stdout' },
        { key: 'RUN', op: '+=', value: `/usr/bin/systemd-cat --identifier=sanhook /usr/bin/sanhook --log-format journal ${command} --uevent` },
        { key: 'GOTO', op: '=', value: 'sanhook_nvmf_end' },
      ]);
      const plain = keys(lines[at + 2]!);
      expect(plain[0]).toEqual({ key: 'RUN', op: '+=', value: `/usr/bin/sanhook ${command} --uevent` });
      // the plain RUN ends its block: a jump to the end, unless the end label follows anyway
      expect(lines[at + 3]!).toMatch(/^LABEL="/);
      if (lines[at + 3] !== 'LABEL="sanhook_nvmf_end"') expect(plain.slice(1)).toEqual([{ key: 'GOTO', op: '=', value: 'sanhook_nvmf_end' }]);
    }
    expect(lines.at(-1)).toBe('LABEL="sanhook_nvmf_end"');
  });

  it('the nvme events jump to the right command, lost and connected only for fabrics controllers (NVME_TRTYPE)', () => {
    const jumps = lines.filter((l) => !l.startsWith('SUBSYSTEM') && keys(l).some((k) => k.key === 'GOTO' && /^sanhook_nvmf_(connect|connected|lost)$/.test(k.value)));
    expect(jumps.map(keys)).toEqual([
      [{ key: 'ACTION', op: '==', value: 'change' }, { key: 'ENV', attr: 'NVME_AEN', op: '==', value: AEN_DISCOVERY_LOG_CHANGED }, { key: 'GOTO', op: '=', value: 'sanhook_nvmf_connect' }],
      [{ key: 'ACTION', op: '==', value: 'change' }, { key: 'ENV', attr: 'NVME_EVENT', op: '==', value: 'rediscover' }, { key: 'GOTO', op: '=', value: 'sanhook_nvmf_connect' }],
      [
        { key: 'ACTION', op: '==', value: 'change' },
        { key: 'ENV', attr: 'NVME_EVENT', op: '==', value: 'connected' },
        { key: 'ENV', attr: 'NVME_TRTYPE', op: '==', value: '?*' },
        // timerd keeps this file exactly while a timer is armed (armedFlagPathFor)
        { key: 'TEST', op: '==', value: armedFlagPathFor(resolvePaths('/', '/sys', 'linux').run) },
        { key: 'GOTO', op: '=', value: 'sanhook_nvmf_connected' },
      ],
      [{ key: 'ACTION', op: '==', value: 'remove' }, { key: 'ENV', attr: 'NVME_TRTYPE', op: '==', value: '?*' }, { key: 'GOTO', op: '=', value: 'sanhook_nvmf_lost' }],
    ]);
  });

  it("keeps a fabrics controller's add-event SEQNUM (its incarnation, the registry's seqnum guard): set on add only, digits only; each change imports it (tested with the identity block)", () => {
    const line = lines.find((l) => l.includes('ENV{SANHOOK_ADD_SEQNUM}='))!;
    expect(keys(line)).toEqual([
      { key: 'ACTION', op: '==', value: 'add' },
      { key: 'ENV', attr: 'NVME_TRTYPE', op: '==', value: '?*' },
      { key: 'ENV', attr: 'SEQNUM', op: '==', value: '?*' },
      { key: 'ENV', attr: 'SEQNUM', op: '!=', value: '*[!0-9]*' },
      { key: 'ENV', attr: 'SANHOOK_ADD_SEQNUM', op: '=', value: '$env{SEQNUM}' },
    ]);
  });

  it('the identity block (stored-identity.ts): a change imports what is stored, values are read only from an identified controller, only non-empty values udev passes unchanged, under the names the lost hook reads', () => {
    const sets = all.filter((k) => k.key === 'ENV' && k.op !== '==' && k.op !== '!=' && k.attr !== 'SANHOOK_ADD_SEQNUM');
    expect(sets).toEqual(IDENTITY_FIELDS.map(([, property, attribute]) => ({ key: 'ENV', attr: property, op: '=', value: `$attr{${attribute}}` })));
    const start = lines.indexOf('ACTION!="add|change", GOTO="sanhook_nvmf_identity_end"');
    expect(start, 'the identity block is entered only on add and change').toBeGreaterThan(0);
    expect(lines[start + 1]).toBe('ENV{NVME_TRTYPE}!="?*", GOTO="sanhook_nvmf_identity_end"');
    // a change (never an add) starts from the stored values, the incarnation included
    const imports = [...IDENTITY_FIELDS.map(([, property]) => property), 'SANHOOK_ADD_SEQNUM'];
    imports.forEach((property, index) => {
      expect(keys(lines[start + 2 + index]!)).toEqual([
        { key: 'ACTION', op: '==', value: 'change' },
        { key: 'IMPORT', attr: 'db', op: '=', value: property },
      ]);
    });
    const gate = start + 2 + imports.length;
    // identified(): the connected event, or the state reads live (an unreadable one fails ==, passes !=)
    expect(keys(lines[gate]!)).toEqual([
      { key: 'ENV', attr: 'NVME_EVENT', op: '!=', value: 'connected' },
      { key: 'ATTR', attr: 'state', op: '!=', value: 'live' },
      { key: 'GOTO', op: '=', value: 'sanhook_nvmf_identity_end' },
    ]);
    for (const [index, set] of sets.entries()) {
      const attr = /^\$attr\{([a-z]+)\}$/.exec(set.value)![1]!;
      expect(keys(lines[gate + 1 + index]!)).toEqual([
        { key: 'ATTR', attr, op: '==', value: '?*' },
        { key: 'ATTR', attr, op: '!=', value: `*[!${NQN_CHARS}]*` },
        set,
      ]);
    }
    expect(lines[gate + 1 + sets.length]).toBe('LABEL="sanhook_nvmf_identity_end"');
    expect(all.filter((k) => k.key === 'IMPORT' && k.attr === 'db')).toHaveLength(imports.length);
    // before the jumps, so the AEN/rediscover/connected events store it too
    expect(start).toBeLessThan(lines.findIndex((l) => l.includes('GOTO="sanhook_nvmf_connect"') && !l.startsWith('SUBSYSTEM')));
    // the names are the ones classifyLostUevent reads
    const lost = classifyLostUevent({
      SUBSYSTEM: 'nvme',
      ACTION: 'remove',
      NVME_TRTYPE: 'tcp',
      SANHOOK_SUBNQN: 'nqn.2014-08.org.example:s',
      SANHOOK_CNTRLTYPE: 'io',
      SANHOOK_HOSTNQN: 'nqn.2014-08.org.example:h',
    });
    expect(lost).toMatchObject({ kind: 'lost', cntrltype: 'io', options: { nqn: 'nqn.2014-08.org.example:s', hostnqn: 'nqn.2014-08.org.example:h' } });
  });

  it('the stored characters are exactly those sanhook accepts after `nqn.<date>.<domain>:`, and all pass udev\'s $attr{} substitution unchanged', () => {
    const inClass = (c: string) => new RegExp(`^[${NQN_CHARS}]$`).test(c);
    // udev (UDEV_ALLOWED_CHARS_INPUT and udev_replace_chars): alphanumerics, "#+-.:=@_" and "/ $%?," are kept
    const udevKeeps = /^[A-Za-z0-9#+\-.:=@_/ $%?,]$/;
    for (let code = 0x20; code < 0x7f; code += 1) {
      const c = String.fromCharCode(code);
      let accepted = true;
      try {
        validate.nqn(`nqn.2014-08.org.example:a${c}b`);
      } catch {
        accepted = false;
      }
      expect(inClass(c), JSON.stringify(c)).toBe(accepted);
      if (inClass(c)) expect(c).toMatch(udevKeeps);
    }
  });

  it('every GOTO lands on a LABEL defined later; labels are unique', () => {
    const labels = all.filter((k) => k.key === 'LABEL').map((k) => k.value);
    expect(new Set(labels).size).toBe(labels.length);
    lines.forEach((line, index) => {
      for (const jump of keys(line).filter((k) => k.key === 'GOTO')) {
        const target = lines.findIndex((l) => keys(l).some((k) => k.key === 'LABEL' && k.value === jump.value));
        expect(target, `${jump.value} from "${line}"`).toBeGreaterThan(index);
      }
    });
  });

  it('filters on the subsystem first, and matches the same values as the hooks (uevent-filter.ts, lost.ts, connected.ts)', () => {
    expect(keys(lines[0]!)).toEqual([
      { key: 'SUBSYSTEM', op: '!=', value: 'nvme|fc' },
      { key: 'GOTO', op: '=', value: 'sanhook_nvmf_end' },
    ]);
    const env = all.filter((k) => k.key === 'ENV' && k.op === '==');
    expect(env).toEqual(
      expect.arrayContaining([
        { key: 'ENV', attr: 'NVME_AEN', op: '==', value: AEN_DISCOVERY_LOG_CHANGED },
        { key: 'ENV', attr: 'NVME_EVENT', op: '==', value: 'rediscover' },
        { key: 'ENV', attr: 'FC_EVENT', op: '==', value: 'nvmediscovery' },
        { key: 'ENV', attr: 'NVMEFC_HOST_TRADDR', op: '==', value: '?*' },
        { key: 'ENV', attr: 'NVMEFC_TRADDR', op: '==', value: '?*' },
        { key: 'ENV', attr: 'NVME_EVENT', op: '==', value: 'connected' },
        { key: 'ENV', attr: 'NVME_TRTYPE', op: '==', value: '?*' },
      ]),
    );
  });
});

describe('rules.d/70-sanhook-srp.rules', () => {
  const SRP_RULES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../rules.d/70-sanhook-srp.rules');
  const lines = rules(readFileSync(SRP_RULES, 'utf8'));
  const all = lines.flatMap(keys);

  it('every rule parses into keys, and every GOTO lands on a LABEL', () => {
    for (const line of lines) expect(line.replace(KEY, '').replace(/[\s,]/g, ''), line).toBe('');
    const labels = all.filter((k) => k.key === 'LABEL').map((k) => k.value);
    for (const jump of all.filter((k) => k.key === 'GOTO')) expect(labels).toContain(jump.value);
  });

  it('RUN commands are fixed words: srp-setup and lost, each through systemd-cat when journald listens, else bare', () => {
    const runs = all.filter((k) => k.key === 'RUN');
    for (const run of runs) {
      expect(run.value).not.toMatch(/[$%"'\\]/);
      expect(run.op).toBe('+=');
    }
    expect(runs.map((r) => r.value.split(/\s+/))).toEqual(
      ['srp-setup', 'lost'].flatMap((command) => [
        ['/usr/bin/systemd-cat', '--identifier=sanhook', '/usr/bin/sanhook', '--log-format', 'journal', command, '--uevent'],
        ['/usr/bin/sanhook', command, '--uevent'],
      ]),
    );
  });

  it("stores only values the hooks' validators accept, each guarded by a character class no separator passes", () => {
    const stores = lines.filter((line) => /ENV\{SANHOOK_SRP_[A-Z_]+\}="/.test(line)).map(keys);
    expect(stores.map((k) => k.find((x) => x.key === 'ENV' && x.op === '=')!.attr).sort()).toEqual(
      ['SANHOOK_SRP_DGID', 'SANHOOK_SRP_IBDEV', 'SANHOOK_SRP_IBPORT', 'SANHOOK_SRP_ID_EXT', 'SANHOOK_SRP_IOC_GUID', 'SANHOOK_SRP_PKEY', 'SANHOOK_SRP_SERVICE_ID'].sort(),
    );
    for (const rule of stores) {
      const attr = rule.find((k) => k.key === 'ATTR' && k.op === '!=')!;
      const allowed = /^\*\[!([^\]]+)\]\*$/.exec(attr.value)![1]!;
      expect(allowed, `${attr.attr}: no comma, newline, slash or space can be stored`).not.toMatch(/[,/\s]/);
      expect(rule.find((k) => k.key === 'ENV' && k.op === '=')!.value).toBe(`$attr{${attr.attr}}`);
    }
  });

  it('the events match the prefilters: srp_remote_ports add → srp-setup, an ib_srp scsi_host remove with the stored identity → lost', () => {
    expect(lines).toContain('SUBSYSTEM=="srp_remote_ports", ACTION=="add", GOTO="sanhook_srp_setup"');
    expect(lines).toContain('SUBSYSTEM=="scsi_host", ACTION=="remove", ENV{SANHOOK_SRP_ID_EXT}=="?*", GOTO="sanhook_srp_lost"');
    expect(lines).toContain('SUBSYSTEM=="scsi_host", ACTION=="add|change", ATTR{proc_name}=="ib_srp", GOTO="sanhook_srp_identity"');
  });
});
