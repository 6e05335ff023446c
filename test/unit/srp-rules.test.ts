/**
 * The `srp:` section (hooks/srp/config.ts), without processes: YAML text →
 * settings through parseConfig with the registered fabrics, its defaults, a
 * bad timer policy refused at load (file, line, key), and the rule lookup
 * (policyFor / ruleMatches): first match wins, canonical ids, dgid only for
 * IB CM logins, overrides merged over the section's defaults.
 */
import { describe, expect, it } from 'vitest';
import { defaultConfig, parseConfig } from '../../src/core/config.js';
import { ConfigError } from '../../src/core/errors.js';
import { FABRICS } from '../../src/hooks/index.js';
import { policyFor, ruleMatches, ruleSubject, srpSettings, type RuleSubject, type SrpSettings, type TargetRule } from '../../src/hooks/srp/config.js';
import { parseTargetLine } from '../../src/hooks/srp/identity.js';

const FILE = '/etc/sanhook/sanhook.yaml';
const settingsOf = async (text: string): Promise<SrpSettings> => srpSettings(await parseConfig(FILE, text, FABRICS));

async function rejection(text: string): Promise<ConfigError> {
  const error = await parseConfig(FILE, text, FABRICS).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

const DEFAULTS: SrpSettings = {
  reconnectDelay: 5,
  fastIoFail: 5,
  devLoss: 600,
  erased: 'until-added',
  reAdd: { delayMs: 10_000, growth: 'fixed', giveUpMs: 86_400_000 },
  targets: [],
};

const ID = '0002c90300a0b1c2';
const GUID = '0002c90300a0b1c9';
const DGID = 'fe800000000000000002c90300a0b1c3';
const HOST = { ibdev: 'mlx5_0', port: 1 };

describe('srp: settings from YAML', () => {
  it.each([
    ['no file content', ''],
    ['an empty section', 'srp:\n'],
    ['a section of comments', 'srp:\n  # reconnect-delay: 0\n'],
    ['other sections only', 'lock:\n  stale-seconds: 30\n'],
  ])('defaults with %s: reconnect 5, fast-io-fail 5, dev-loss 600, until-added, re-add every 10 s for a day', async (_name, text) => {
    expect(await settingsOf(text)).toEqual(DEFAULTS);
  });

  it('defaultConfig (no file) gives the same', () => {
    expect(srpSettings(defaultConfig(FILE, FABRICS))).toEqual(DEFAULTS);
  });

  it('every setting, read', async () => {
    const text = [
      'srp:',
      '  reconnect-delay: 10',
      '  fast-io-fail: off',
      '  dev-loss: 300',
      '  erased: enforce',
      '  re-add:',
      '    delay: 2.5',
      '    growth: linear',
      '    give-up: off',
      '  targets:',
      '    - id-ext: "0x0002C90300A0B1C2"',
      '      fast-io-fail: 30',
      '      dev-loss: 3600',
      '    - dgid: fe80:0000:0000:0000:0002:c903:00a0:b1c3',
      '      ioc-guid: 0002c90300a0b1c9',
      '      re-add: no',
      '    - ioc-guid: "1"',
      '      reconnect-delay: off',
      '      fast-io-fail: 1',
      '',
    ].join('\n');
    expect(await settingsOf(text)).toEqual({
      reconnectDelay: 10,
      fastIoFail: 'off',
      devLoss: 300,
      erased: 'enforce',
      reAdd: { delayMs: 2500, growth: 'linear', giveUpMs: 0 },
      targets: [
        { idExt: ID, fastIoFail: 30, devLoss: 3600 },
        { dgid: DGID, iocGuid: GUID, reAdd: false },
        { iocGuid: '0000000000000001', reconnectDelay: 'off', fastIoFail: 1 },
      ],
    });
  });

  it('give-up in seconds, as milliseconds', async () => {
    expect((await settingsOf('srp:\n  re-add:\n    give-up: 3600\n')).reAdd).toEqual({ delayMs: 10_000, growth: 'fixed', giveUpMs: 3_600_000 });
  });

  it.each<[string, string, number, string, string]>([
    // the section's own policy: at the key most to blame when the file gives it, else at the section
    ['reconnect-delay 0', 'srp:\n  reconnect-delay: 0\n', 2, 'srp.reconnect-delay', 'reconnect-delay may not be 0 (off disables reconnecting)'],
    ['fast-io-fail not below dev-loss', 'srp:\n  fast-io-fail: 600\n  dev-loss: 100\n', 2, 'srp.fast-io-fail', 'fast-io-fail must be less than dev-loss (I/O must fail fast before the port is deleted)'],
    ['dev-loss not above the default fast-io-fail', 'srp:\n  dev-loss: 5\n', 2, 'srp', 'fast-io-fail must be less than dev-loss (I/O must fail fast before the port is deleted)'],
    ['all three off', 'srp:\n  reconnect-delay: off\n  fast-io-fail: off\n  dev-loss: off\n', 2, 'srp.reconnect-delay', 'reconnect-delay, fast-io-fail and dev-loss may not all be off (nothing would ever fail the I/O or end the wait)'],
    ['fast-io-fail above 600', 'srp:\n  fast-io-fail: 601\n  dev-loss: 900\n', 2, 'srp.fast-io-fail', "fast-io-fail must be at most 600 seconds (the SCSI core's longest block)"],
    ['dev-loss above 600 without fast-io-fail', 'srp:\n  fast-io-fail: off\n  dev-loss: 601\n', 3, 'srp.dev-loss', 'dev-loss must be at most 600 seconds when fast-io-fail is off (I/O would stay blocked longer than the SCSI core allows)'],
    ['after other sections, the line is still right', 'lock:\n  stale-seconds: 30\n\nsrp:\n  erased: enforce\n  reconnect-delay: 0\n', 6, 'srp.reconnect-delay', 'reconnect-delay may not be 0 (off disables reconnecting)'],
    // a rule whose merged policy is invalid, reported with its index
    ['a rule lowering dev-loss below the default fast-io-fail', 'srp:\n  targets:\n    - id-ext: "1"\n      dev-loss: 5\n', 2, 'srp', 'targets[0]: fast-io-fail must be less than dev-loss (I/O must fail fast before the port is deleted)'],
    ['a rule raising fast-io-fail over the section dev-loss', 'srp:\n  dev-loss: 10\n  targets:\n    - id-ext: "1"\n    - ioc-guid: "2"\n      fast-io-fail: 20\n', 2, 'srp', 'targets[1]: fast-io-fail must be less than dev-loss (I/O must fail fast before the port is deleted)'],
    ['a rule raising dev-loss while the section has fast-io-fail off', 'srp:\n  fast-io-fail: off\n  targets:\n    - dgid: fe800000000000000002c90300a0b1c3\n      dev-loss: 3600\n', 2, 'srp', 'targets[0]: dev-loss must be at most 600 seconds when fast-io-fail is off (I/O would stay blocked longer than the SCSI core allows)'],
    ['a rule with reconnect-delay 0', 'srp:\n  targets:\n    - id-ext: "1"\n      reconnect-delay: 0\n', 2, 'srp', 'targets[0]: reconnect-delay may not be 0 (off disables reconnecting)'],
    // records
    ['a rule without a match field', 'srp:\n  targets:\n    - dev-loss: 60\n', 3, 'srp.targets[0]', 'a rule needs id-ext, ioc-guid or dgid to match on'],
    ['an empty rule', 'srp:\n  targets:\n    - {}\n', 3, 'srp.targets[0]', 'a rule needs id-ext, ioc-guid or dgid to match on'],
    ['an empty list item', 'srp:\n  targets:\n    - id-ext: "1"\n    -\n', 4, 'srp.targets[1]', 'a rule needs id-ext, ioc-guid or dgid to match on'],
    ['a rule that is not a mapping', 'srp:\n  targets:\n    - 0002c90300a0b1c2\n', 3, 'srp.targets[0]', 'must be a mapping'],
    ['targets not a list', 'srp:\n  targets: 0002c90300a0b1c2\n', 2, 'srp.targets', 'must be a list of rules'],
    // unknown keys
    ['an unknown setting', 'srp:\n  reconect-delay: 5\n', 2, 'srp.reconect-delay', 'unknown setting (known: reconnect-delay, fast-io-fail, dev-loss, erased, re-add, targets)'],
    ['an unknown rule field', 'srp:\n  targets:\n    - id-ext: "1"\n      io-class: ff00\n', 4, 'srp.targets[0].io-class', 'unknown field (known: id-ext, ioc-guid, dgid, reconnect-delay, fast-io-fail, dev-loss, re-add)'],
    ['an unknown re-add setting', 'srp:\n  re-add:\n    attempts: 3\n', 3, 'srp.re-add.attempts', 'unknown setting (known: delay, growth, give-up)'],
    // values
    ['dev-loss -1', 'srp:\n  dev-loss: -1\n', 2, 'srp.dev-loss', 'must be whole seconds or off, got "-1"'],
    ['dev-loss forever', 'srp:\n  dev-loss: forever\n', 2, 'srp.dev-loss', 'must be whole seconds or off, got "forever"'],
    ['fast-io-fail 1.5', 'srp:\n  fast-io-fail: 1.5\n', 2, 'srp.fast-io-fail', 'must be whole seconds or off, got "1.5"'],
    ['dev-loss 0x10 (as written, not the 16 YAML sees)', 'srp:\n  dev-loss: 0x10\n', 2, 'srp.dev-loss', 'must be whole seconds or off, got "0x10"'],
    ['reconnect-delay OFF', 'srp:\n  reconnect-delay: OFF\n', 2, 'srp.reconnect-delay', 'must be whole seconds or off, got "OFF"'],
    ['a list as a timer', 'srp:\n  dev-loss: [1, 2]\n', 2, 'srp.dev-loss', 'must be a single value'],
    ['erased always', 'srp:\n  erased: always\n', 2, 'srp.erased', 'must be one of until-added, enforce, got "always"'],
    ['re-add delay 0', 'srp:\n  re-add:\n    delay: 0\n', 3, 'srp.re-add.delay', 'must be seconds 0.1-86400, got "0"'],
    ['re-add growth exponential', 'srp:\n  re-add:\n    growth: exponential\n', 3, 'srp.re-add.growth', 'must be one of fixed, linear, got "exponential"'],
    ['re-add give-up 0', 'srp:\n  re-add:\n    give-up: 0\n', 3, 'srp.re-add.give-up', 'must be whole seconds 1-31536000, or off, got "0"'],
    ['a rule id-ext not hex', 'srp:\n  targets:\n    - id-ext: "0xZZ"\n', 3, 'srp.targets[0].id-ext', 'must be a 64-bit hex number (up to 16 hex digits, optional 0x), got "0xZZ"'],
    ['a rule ioc-guid of 17 digits', 'srp:\n  targets:\n    - ioc-guid: 10002c90300a0b1c2\n', 3, 'srp.targets[0].ioc-guid', 'must be a 64-bit hex number (up to 16 hex digits, optional 0x), got "10002c90300a0b1c2"'],
    ['a rule dgid of 31 digits', 'srp:\n  targets:\n    - dgid: fe800000000000000002c90300a0b1c\n', 3, 'srp.targets[0].dgid', 'must be a GID: 32 hex digits, or 8 groups of 4 separated by colons, got "fe800000000000000002c90300a0b1c"'],
    ['a rule re-add maybe', 'srp:\n  targets:\n    - id-ext: "1"\n      re-add: maybe\n', 4, 'srp.targets[0].re-add', 'must be one of yes, no, got "maybe"'],
  ])('%s → refused at load', async (_name, text, line, key, problem) => {
    const error = await rejection(text);
    expect(error).toMatchObject({ file: FILE, line, key });
    expect(error.message).toBe(`${FILE}:${line}: ${key}: ${problem}`);
  });
});

describe('YAML scalars that look like numbers are ids here', () => {
  it.each<[string, string, string]>([
    ['a quoted 0x id', 'id-ext: "0x0002C90300A0B1C2"', ID],
    ['a plain id with hex letters', 'id-ext: 0002c90300a0b1c2', ID],
    ['a plain all-decimal id', 'id-ext: 0000000000001234', '0000000000001234'],
    ['a quoted all-decimal id with an e', 'ioc-guid: "00000000000001e5"', '00000000000001e5'],
  ])('%s', async (_name, field, canonical) => {
    const [rule] = (await settingsOf(`srp:\n  targets:\n    - ${field}\n`)).targets;
    expect(rule?.idExt ?? rule?.iocGuid).toBe(canonical);
  });

  // YAML 1.2's core schema reads `0x0002c90300a0b1c2` as the integer 783964686037442, `1e5` as
  // 100000, and a 16-digit decimal above 2^53 loses digits: a rule would silently name another
  // target. parseConfig gives the converter a plain scalar's text as written (d0eb2c7).
  it.each<[string, string, string]>([
    ['a plain 0x id-ext', 'id-ext: 0x0002c90300a0b1c2', ID],
    ['a plain 0x ioc-guid', 'ioc-guid: 0x10', '0000000000000010'],
    ['a plain id that reads as a float', 'ioc-guid: 1e5', '00000000000001e5'],
    ['a plain all-decimal id above 2^53', 'id-ext: 9007199254740993', '9007199254740993'],
  ])('%s is read as written, not as the number YAML sees', async (_name, field, canonical) => {
    const [rule] = (await settingsOf(`srp:\n  targets:\n    - ${field}\n`)).targets;
    expect(rule?.idExt ?? rule?.iocGuid).toBe(canonical);
  });
});

describe('policyFor / ruleMatches: first match wins, merged over the defaults', () => {
  const RULES = [
    'srp:',
    '  reconnect-delay: 10',
    '  fast-io-fail: 15',
    '  dev-loss: 600',
    '  targets:',
    '    - id-ext: "0x0002C90300A0B1C2"', // [0] one target by id_ext
    '      ioc-guid: "0x0002c90300a0b1c9"',
    '      dev-loss: 3600',
    '      fast-io-fail: 30',
    '    - ioc-guid: 0002c90300a0b1c9', //    [1] every other target of that IOC
    '      re-add: no',
    '    - dgid: fe80:0000:0000:0000:0002:c903:00a0:b1c3', // [2] an IB CM target port
    '      reconnect-delay: off',
    '    - id-ext: "7"', //                   [3] a later rule for the same id_ext as [4]
    '      dev-loss: 120',
    '    - id-ext: "7"', //                   [4] never reached
    '      dev-loss: 60',
    '',
  ].join('\n');

  it.each<[string, RuleSubject, { timers: [unknown, unknown, unknown]; reAdd: boolean; rule?: number }]>([
    ['no rule matches: the section', { idExt: '0000000000000001', iocGuid: '0000000000000002' }, { timers: [10, 15, 600], reAdd: true }],
    ['id-ext and ioc-guid both match: rule 0, its overrides merged', { idExt: ID, iocGuid: GUID }, { timers: [10, 30, 3600], reAdd: true, rule: 0 }],
    ['id-ext matches, ioc-guid does not: rule 0 is not it', { idExt: ID, iocGuid: '0000000000000002' }, { timers: [10, 15, 600], reAdd: true }],
    ['another target of the IOC: rule 1, re-add no', { idExt: '0000000000000009', iocGuid: GUID }, { timers: [10, 15, 600], reAdd: false, rule: 1 }],
    ['rule 0 before rule 1 when both match, dgid too', { idExt: ID, iocGuid: GUID, dgid: DGID }, { timers: [10, 30, 3600], reAdd: true, rule: 0 }],
    ['an IB CM login to the port of rule 2', { idExt: '0000000000000009', iocGuid: '0000000000000002', dgid: DGID }, { timers: ['off', 15, 600], reAdd: true, rule: 2 }],
    ['an RDMA/CM login (no dgid) never matches rule 2', { idExt: '0000000000000009', iocGuid: '0000000000000002' }, { timers: [10, 15, 600], reAdd: true }],
    ['another GID', { idExt: '0000000000000009', iocGuid: '0000000000000002', dgid: 'fe800000000000000002c90300a0b1c4' }, { timers: [10, 15, 600], reAdd: true }],
    ['two rules for one id_ext: the first', { idExt: '0000000000000007', iocGuid: '0000000000000002' }, { timers: [10, 15, 120], reAdd: true, rule: 3 }],
  ])('%s', async (_name, subject, expected) => {
    const settings = await settingsOf(RULES);
    const got = policyFor(settings, subject);
    const [reconnectDelay, fastIoFail, devLoss] = expected.timers;
    expect(got).toStrictEqual({ timers: { reconnectDelay, fastIoFail, devLoss }, reAdd: expected.reAdd, ...(expected.rule !== undefined ? { rule: expected.rule } : {}) });
  });

  it('subjects from parsed targets: an IB CM login carries its dgid, an RDMA/CM one none', async () => {
    const settings = await settingsOf(RULES);
    const ib = parseTargetLine(HOST, `id_ext=9,ioc_guid=2,dgid=${DGID.toUpperCase()},pkey=ffff,service_id=1`, '--target');
    const rdma = parseTargetLine(HOST, 'id_ext=9,ioc_guid=2,dest=10.0.0.1:5555', '--target');
    expect(ruleSubject(ib)).toStrictEqual({ idExt: '0000000000000009', iocGuid: '0000000000000002', dgid: DGID });
    expect(ruleSubject(rdma)).toStrictEqual({ idExt: '0000000000000009', iocGuid: '0000000000000002' });
    expect(policyFor(settings, ruleSubject(ib)).rule).toBe(2);
    expect(policyFor(settings, ruleSubject(rdma)).rule).toBeUndefined();
    // an id_ext given as 0x... in the line matches the rule given as 0x... in the config
    const zeroX = parseTargetLine(HOST, `id_ext=0x${ID.toUpperCase()},ioc_guid=0x${GUID},dest=10.0.0.1:5555`, '--target');
    expect(policyFor(settings, ruleSubject(zeroX)).rule).toBe(0);
  });

  it('with no rules, no rule index', async () => {
    const got = policyFor(await settingsOf(''), { idExt: ID, iocGuid: GUID });
    expect(got).toStrictEqual({ timers: { reconnectDelay: 5, fastIoFail: 5, devLoss: 600 }, reAdd: true });
    expect('rule' in got).toBe(false);
  });

  it.each<[string, TargetRule, RuleSubject, boolean]>([
    ['id-ext equal', { idExt: ID }, { idExt: ID, iocGuid: GUID }, true],
    ['id-ext differs', { idExt: ID }, { idExt: GUID, iocGuid: GUID }, false],
    ['ioc-guid equal', { iocGuid: GUID }, { idExt: ID, iocGuid: GUID }, true],
    ['ioc-guid differs', { iocGuid: ID }, { idExt: ID, iocGuid: GUID }, false],
    ['both given, both equal', { idExt: ID, iocGuid: GUID }, { idExt: ID, iocGuid: GUID }, true],
    ['both given, one differs', { idExt: ID, iocGuid: ID }, { idExt: ID, iocGuid: GUID }, false],
    ['dgid against an IB CM subject', { dgid: DGID }, { idExt: ID, iocGuid: GUID, dgid: DGID }, true],
    ['dgid against an RDMA/CM subject', { dgid: DGID }, { idExt: ID, iocGuid: GUID }, false],
    ['dgid and id-ext, the dgid differs', { idExt: ID, dgid: DGID }, { idExt: ID, iocGuid: GUID, dgid: 'fe800000000000000002c90300a0b1c4' }, false],
    ['timer fields do not match anything', { idExt: ID, devLoss: 60, reAdd: false }, { idExt: ID, iocGuid: GUID }, true],
  ])('ruleMatches: %s → %s', (_name, rule, subject, matches) => {
    expect(ruleMatches(rule, subject)).toBe(matches);
  });
});
