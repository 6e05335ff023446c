/**
 * SRP target logins (hooks/srp/identity.ts), without processes: add_target
 * lines parsed to canonical targets and built back, every refusal naming its
 * option, and the builder's own guard against separators in hand-built
 * targets.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import {
  ADD_TARGET_LINE_MAX,
  addTargetLine,
  destination,
  gid,
  hex64,
  ibdevName,
  LINE_KEYS,
  parseTargetLine,
  pkey,
  source,
  srpHostDir,
  srpHostName,
  targetFields,
  targetFromFields,
  TUNING_OPTIONS,
  type SrpHost,
  type SrpTarget,
} from '../../src/hooks/srp/identity.js';

const HOST: SrpHost = { ibdev: 'mlx5_0', port: 1 };
const OPT = '--target';

/** The UsageError `fn` throws. */
function usage(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error('expected a UsageError');
}

/** Parses, and checks that the built line is canonical: it parses to the same target and builds to itself. */
function roundTrip(line: string): { target: SrpTarget; built: string } {
  const target = parseTargetLine(HOST, line, OPT);
  const built = addTargetLine(target);
  const again = parseTargetLine(HOST, built, OPT);
  expect(again).toEqual(target);
  expect(addTargetLine(again)).toBe(built);
  return { target, built };
}

const RDMA_LINE = 'id_ext=0x0002C90300A0B1C2,ioc_guid=0x0002c90300a0b1c2,initiator_ext=0x1,dest=10.91.0.1:5555,src=10.91.0.1';
const IB_LINE = 'id_ext=200100A0B8000001,ioc_guid=0x00A0B80000000001,dgid=FE800000000000000002C90300A0B1C3,pkey=ffff,service_id=0x0002c90300a0b1c2';
/** A valid RDMA/CM line to append one more option to. */
const BASE = 'id_ext=1,ioc_guid=2,dest=10.0.0.1:5555';

describe('parseTargetLine: canonical targets', () => {
  it('an RDMA/CM line: ids as 16 lowercase hex digits without 0x, dest and src as given', () => {
    const { target, built } = roundTrip(RDMA_LINE);
    expect(target).toEqual({
      host: HOST,
      idExt: '0002c90300a0b1c2',
      iocGuid: '0002c90300a0b1c2',
      initiatorExt: '0000000000000001',
      address: { kind: 'rdma-cm', dest: '10.91.0.1:5555', src: '10.91.0.1' },
      options: {},
    });
    expect(built).toBe('id_ext=0002c90300a0b1c2,ioc_guid=0002c90300a0b1c2,initiator_ext=0000000000000001,dest=10.91.0.1:5555,src=10.91.0.1');
  });

  it('an IB CM line: dgid 32 lowercase digits, pkey 4 digits, service_id 16; initiator_ext 0 when absent', () => {
    const { target, built } = roundTrip(IB_LINE);
    expect(target).toEqual({
      host: HOST,
      idExt: '200100a0b8000001',
      iocGuid: '00a0b80000000001',
      initiatorExt: '0000000000000000',
      address: { kind: 'ib-cm', dgid: 'fe800000000000000002c90300a0b1c3', pkey: 'ffff', serviceId: '0002c90300a0b1c2' },
      options: {},
    });
    expect(built).toBe('id_ext=200100a0b8000001,ioc_guid=00a0b80000000001,initiator_ext=0000000000000000,dgid=fe800000000000000002c90300a0b1c3,pkey=ffff,service_id=0002c90300a0b1c2');
  });

  it.each<[string, string, Partial<SrpTarget> | Record<string, unknown>, string]>([
    ['short pkey, padded', 'id_ext=1,ioc_guid=2,dgid=fe800000000000000002c90300a0b1c3,pkey=0x7ff,service_id=3', { address: { kind: 'ib-cm', dgid: 'fe800000000000000002c90300a0b1c3', pkey: '07ff', serviceId: '0000000000000003' } }, 'pkey=07ff'],
    ['dgid in the colon form sysfs shows', 'id_ext=1,ioc_guid=2,dgid=FE80:0000:0000:0000:0002:C903:00A0:B1C3,pkey=ffff,service_id=3', { address: { kind: 'ib-cm', dgid: 'fe800000000000000002c90300a0b1c3', pkey: 'ffff', serviceId: '0000000000000003' } }, 'dgid=fe800000000000000002c90300a0b1c3'],
    ['IPv6 dest, lowercased, brackets kept', 'id_ext=1,ioc_guid=2,dest=[FE80::1]:4420', { address: { kind: 'rdma-cm', dest: '[fe80::1]:4420' } }, 'dest=[fe80::1]:4420'],
    ['IPv6 src', 'id_ext=1,ioc_guid=2,dest=[fd00::2]:5555,src=[FD00::1]', { address: { kind: 'rdma-cm', dest: '[fd00::2]:5555', src: '[fd00::1]' } }, 'src=[fd00::1]'],
    ['a port with leading zeros, as a number', 'id_ext=1,ioc_guid=2,dest=10.0.0.1:05555', { address: { kind: 'rdma-cm', dest: '10.0.0.1:5555' } }, 'dest=10.0.0.1:5555'],
    ['0X prefix', 'id_ext=0X1,ioc_guid=2,dest=10.0.0.1:5555', { idExt: '0000000000000001' }, 'id_ext=0000000000000001'],
    ['16 hex digits after 0x', 'id_ext=0xFFFFFFFFFFFFFFFF,ioc_guid=2,dest=10.0.0.1:5555', { idExt: 'ffffffffffffffff' }, 'id_ext=ffffffffffffffff'],
    ['a trailing newline (echo)', `${BASE}\n`, { idExt: '0000000000000001' }, 'dest=10.0.0.1:5555'],
    ['newline as a separator, as the kernel splits', 'id_ext=1\nioc_guid=2\ndest=10.0.0.1:5555', { iocGuid: '0000000000000002' }, 'ioc_guid=0000000000000002'],
    ['empty pieces skipped', ',id_ext=1,,ioc_guid=2,dest=10.0.0.1:5555,', { iocGuid: '0000000000000002' }, 'ioc_guid=0000000000000002'],
  ])('%s', (_name, line, partial, piece) => {
    const { target, built } = roundTrip(line);
    expect(target).toMatchObject(partial);
    expect(built.split(',')).toContain(piece);
  });

  it('tuning options: canonical spelling, in the canonical order, round trip', () => {
    const { target, built } = roundTrip(`${BASE},queue_size=128,tl_retry_count=7,io_class=0xFF00,max_sect=01024,allow_ext_sg=1,ch_count=4`);
    expect(target.options).toEqual({ max_sect: '1024', io_class: 'ff00', allow_ext_sg: '1', tl_retry_count: '7', queue_size: '128', ch_count: '4' });
    expect(built).toBe('id_ext=0000000000000001,ioc_guid=0000000000000002,initiator_ext=0000000000000000,dest=10.0.0.1:5555,max_sect=1024,io_class=ff00,allow_ext_sg=1,tl_retry_count=7,queue_size=128,ch_count=4');
  });

  it('every tuning option is a line key, after the address keys', () => {
    expect(LINE_KEYS.slice(-TUNING_OPTIONS.length)).toEqual([...TUNING_OPTIONS]);
    expect(LINE_KEYS.slice(0, 8)).toEqual(['id_ext', 'ioc_guid', 'initiator_ext', 'dgid', 'pkey', 'service_id', 'dest', 'src']);
  });

  it.each<[string, string, string]>([
    ['tl_retry_count', '2', '2'],
    ['tl_retry_count', '7', '7'],
    ['cmd_sg_entries', '1', '1'],
    ['cmd_sg_entries', '255', '255'],
    ['allow_ext_sg', '0', '0'],
    ['allow_ext_sg', '1', '1'],
    ['io_class', 'ff00', 'ff00'],
    ['io_class', '0100', '0100'],
    ['io_class', '100', '0100'],
    ['io_class', '0xFF00', 'ff00'],
    ['queue_size', '1', '1'],
    ['sg_tablesize', '1', '1'],
    ['sg_tablesize', '2048', '2048'],
    ['max_sect', '1', '1'],
    ['max_sect', '2147483647', '2147483647'],
    ['max_cmd_per_lun', '62', '62'],
    ['target_can_queue', '1', '1'],
    ['comp_vector', '0', '0'],
    ['max_it_iu_size', '0', '0'],
    ['ch_count', '1', '1'],
  ])('in range: %s=%s → %s', (option, value, canonical) => {
    expect(parseTargetLine(HOST, `${BASE},${option}=${value}`, OPT).options[option as (typeof TUNING_OPTIONS)[number]]).toBe(canonical);
  });

  it.each<[string, string]>([
    ['tl_retry_count', '1'],
    ['tl_retry_count', '8'],
    ['tl_retry_count', '0x3'],
    ['cmd_sg_entries', '0'],
    ['cmd_sg_entries', '256'],
    ['allow_ext_sg', '2'],
    ['allow_ext_sg', 'yes'],
    ['io_class', '1234'],
    ['io_class', 'ff01'],
    ['io_class', ''],
    ['queue_size', '0'],
    ['queue_size', '-1'],
    ['sg_tablesize', '0'],
    ['sg_tablesize', '2049'],
    ['max_sect', '0'],
    ['max_sect', '2147483648'],
    ['max_sect', '1e3'],
    ['max_cmd_per_lun', '0'],
    ['target_can_queue', '0'],
    ['comp_vector', '-1'],
    ['max_it_iu_size', '1.5'],
    ['ch_count', '0'],
  ])('out of range: %s=%s, naming the option', (option, value) => {
    const error = usage(() => parseTargetLine(HOST, `${BASE},${option}=${value}`, OPT));
    expect(error.option).toBe(`${OPT}: ${option}`);
    expect(error.message.startsWith(`${OPT}: ${option}: `)).toBe(true);
  });
});

describe('parseTargetLine: refusals name the option', () => {
  it.each<[string, string, string, RegExp?]>([
    ['an unknown key', `${BASE},io_klass=ff00`, 'io_klass', /unknown add_target option/],
    ['a key given twice', 'id_ext=1,ioc_guid=2,id_ext=3,dest=10.0.0.1:5555', 'id_ext', /given twice/],
    ['a key given twice with the same value', `${BASE},dest=10.0.0.1:5555`, 'dest', /given twice/],
    ['id_ext 0xZZ', 'id_ext=0xZZ,ioc_guid=2,dest=10.0.0.1:5555', 'id_ext', /64-bit hex number/],
    ['id_ext of 17 hex digits', 'id_ext=10002c90300a0b1c2,ioc_guid=2,dest=10.0.0.1:5555', 'id_ext', /64-bit hex number/],
    ['id_ext -1', 'id_ext=-1,ioc_guid=2,dest=10.0.0.1:5555', 'id_ext', /64-bit hex number/],
    ['id_ext empty', 'id_ext=,ioc_guid=2,dest=10.0.0.1:5555', 'id_ext', /64-bit hex number/],
    ['id_ext 0x alone', 'id_ext=0x,ioc_guid=2,dest=10.0.0.1:5555', 'id_ext', /64-bit hex number/],
    ['id_ext a traversal', 'id_ext=../../x,ioc_guid=2,dest=10.0.0.1:5555', 'id_ext', /64-bit hex number/],
    ['initiator_ext not hex', 'id_ext=1,ioc_guid=2,initiator_ext=g,dest=10.0.0.1:5555', 'initiator_ext', /64-bit hex number/],
    ['ioc_guid missing', 'id_ext=1,dest=10.0.0.1:5555', 'ioc_guid', /missing/],
    ['id_ext missing', 'ioc_guid=2,dest=10.0.0.1:5555', 'id_ext', /missing/],
    ['no address at all', 'id_ext=1,ioc_guid=2', 'dgid', /missing/],
    ['dgid of 31 digits', 'id_ext=1,ioc_guid=2,dgid=fe800000000000000002c90300a0b1c,pkey=ffff,service_id=3', 'dgid', /GID/],
    ['dgid of 33 digits', 'id_ext=1,ioc_guid=2,dgid=fe800000000000000002c90300a0b1c30,pkey=ffff,service_id=3', 'dgid', /GID/],
    ['dgid in 7 colon groups', 'id_ext=1,ioc_guid=2,dgid=fe80:0000:0000:0002:c903:00a0:b1c3,pkey=ffff,service_id=3', 'dgid', /GID/],
    ['pkey of 5 digits', 'id_ext=1,ioc_guid=2,dgid=fe800000000000000002c90300a0b1c3,pkey=0ffff,service_id=3', 'pkey', /P_Key/],
    ['pkey missing for IB CM', 'id_ext=1,ioc_guid=2,dgid=fe800000000000000002c90300a0b1c3,service_id=3', 'pkey', /missing/],
    ['service_id missing for IB CM', 'id_ext=1,ioc_guid=2,dgid=fe800000000000000002c90300a0b1c3,pkey=ffff', 'service_id', /missing/],
    ['dgid missing for IB CM', 'id_ext=1,ioc_guid=2,pkey=ffff,service_id=3', 'dgid', /missing/],
    ['dest without a port', 'id_ext=1,ioc_guid=2,dest=10.0.0.1', 'dest', /IPv4:port/],
    ['dest with an empty port', 'id_ext=1,ioc_guid=2,dest=10.0.0.1:', 'dest', /IPv4:port/],
    ['dest port 0', 'id_ext=1,ioc_guid=2,dest=10.0.0.1:0', 'dest', /IPv4:port/],
    ['dest port 65536', 'id_ext=1,ioc_guid=2,dest=10.0.0.1:65536', 'dest', /IPv4:port/],
    ['dest a hostname', 'id_ext=1,ioc_guid=2,dest=srp-target.example:5555', 'dest', /IPv4:port/],
    ['dest IPv6 without brackets', 'id_ext=1,ioc_guid=2,dest=fe80::1:5555', 'dest', /IPv4:port/],
    ['dest IPv4 in brackets', 'id_ext=1,ioc_guid=2,dest=[10.0.0.1]:5555', 'dest', /IPv4:port/],
    ['dest a bare port', 'id_ext=1,ioc_guid=2,dest=:5555', 'dest', /IPv4:port/],
    ['src with a port', 'id_ext=1,ioc_guid=2,dest=10.0.0.1:5555,src=10.0.0.2:5555', 'src', /IPv4 address or \[IPv6\]/],
    ['src IPv6 without brackets', 'id_ext=1,ioc_guid=2,dest=10.0.0.1:5555,src=fd00::1', 'src', /IPv4 address or \[IPv6\]/],
    ['src without dest (IB CM)', 'id_ext=1,ioc_guid=2,dgid=fe800000000000000002c90300a0b1c3,pkey=ffff,service_id=3,src=10.0.0.2', 'src', /only with dest/],
    ['dest mixed with dgid', 'id_ext=1,ioc_guid=2,dest=10.0.0.1:5555,dgid=fe800000000000000002c90300a0b1c3', 'dgid', /not with dest/],
    ['dest mixed with pkey', 'id_ext=1,ioc_guid=2,dest=10.0.0.1:5555,pkey=ffff', 'pkey', /not with dest/],
  ])('%s', (_name, line, key, why) => {
    const error = usage(() => parseTargetLine(HOST, line, OPT));
    expect(error.option).toBe(`${OPT}: ${key}`);
    expect(error.message.startsWith(`${OPT}: ${key}: `)).toBe(true);
    if (why) expect(error.message).toMatch(why);
  });

  it.each<[string, string, RegExp]>([
    ['a piece without =', `${BASE},allow_ext_sg`, /each option must be key=value/],
    ['a piece with an empty key', `${BASE},=1`, /each option must be key=value/],
    ['a space', 'id_ext=1, ioc_guid=2,dest=10.0.0.1:5555', /printable ASCII without spaces/],
    ['a tab', `${BASE}\t`, /printable ASCII without spaces/],
    ['a carriage return', `${BASE}\r\n`, /printable ASCII without spaces/],
    ['a NUL', `${BASE}\0`, /printable ASCII without spaces/],
    ['DEL', `${BASE}\x7f`, /printable ASCII without spaces/],
    ['an escape', `id_ext=1\x1b,ioc_guid=2,dest=10.0.0.1:5555`, /printable ASCII without spaces/],
    ['non-ASCII', `${BASE},io_class=ｆｆ00`, /printable ASCII without spaces/],
    ['longer than ADD_TARGET_LINE_MAX', BASE + ','.repeat(ADD_TARGET_LINE_MAX + 1 - BASE.length), /at most 1024 characters/],
  ])('the line: %s', (_name, line, why) => {
    const error = usage(() => parseTargetLine(HOST, line, OPT));
    expect(error.option).toBe(OPT);
    expect(error.message).toMatch(why);
  });

  it('a line of exactly ADD_TARGET_LINE_MAX characters is still read', () => {
    expect(ADD_TARGET_LINE_MAX).toBe(1024);
    const line = BASE + ','.repeat(ADD_TARGET_LINE_MAX - BASE.length);
    expect(line).toHaveLength(ADD_TARGET_LINE_MAX);
    expect(parseTargetLine(HOST, line, OPT).idExt).toBe('0000000000000001');
  });

  it('a refused value is shown quoted and cut, never raw', () => {
    const error = usage(() => parseTargetLine(HOST, `id_ext=${'f'.repeat(200)},ioc_guid=2,dest=10.0.0.1:5555`, OPT));
    expect(error.message).toContain('(200 characters)');
    expect(error.message.length).toBeLessThan(300);
  });

  // the pieces are collected without a prototype: __proto__ reaches the unknown-key check
  it('__proto__=x is an unknown key like any other', () => {
    const error = usage(() => parseTargetLine(HOST, `${BASE},__proto__=x`, OPT));
    expect(error.option).toBe(`${OPT}: __proto__`);
  });

  // node's isIP() accepts an IPv6 zone (fe80::1%eth0): refused in ipOf, before the builder's guard.
  it('a dest with an IPv6 scope id is refused at parse time (UsageError naming dest)', () => {
    const error = usage(() => parseTargetLine(HOST, 'id_ext=1,ioc_guid=2,dest=[fe80::1%eth0]:5555', OPT));
    expect(error.option).toBe(`${OPT}: dest`);
  });
});

describe('targetFromFields: one field may not smuggle another option in', () => {
  const fields = { id_ext: '1', ioc_guid: '2', dest: '10.0.0.1:5555' };
  it.each<[string, Record<string, string>, string]>([
    ['a comma in dest', { ...fields, dest: '10.0.0.1:5555,io_class=ff00' }, 'dest'],
    ['a newline in dest', { ...fields, dest: '10.0.0.1:5555\nio_class=ff00' }, 'dest'],
    ['a comma in id_ext', { ...fields, id_ext: '1,dest=10.0.0.9:5555' }, 'id_ext'],
    ['a newline in id_ext', { ...fields, id_ext: '1\nio_class=ff00' }, 'id_ext'],
    ['a comma in src', { ...fields, src: '10.0.0.2,io_class=ff00' }, 'src'],
    ['a comma in a tuning option', { ...fields, max_sect: '1,io_class=ff00' }, 'max_sect'],
    ['a newline in pkey', { id_ext: '1', ioc_guid: '2', dgid: 'fe800000000000000002c90300a0b1c3', pkey: 'ffff\n', service_id: '3' }, 'pkey'],
    ['an unknown key', { ...fields, 'io_class=ff00,x': '1' }, 'io_class=ff00,x'],
    ['__proto__ as an own key (JSON)', { ...fields, ...(JSON.parse('{"__proto__":"x"}') as Record<string, string>) }, '__proto__'],
  ])('%s', (_name, given, key) => {
    const error = usage(() => targetFromFields(HOST, given, OPT));
    expect(error.option).toBe(`${OPT}: ${key}`);
    expect(error.message.startsWith(`${OPT}: ${key}: `)).toBe(true);
  });

  it('targetFields is the inverse of targetFromFields', () => {
    const target = parseTargetLine(HOST, `${RDMA_LINE},queue_size=64`, OPT);
    expect(targetFromFields(HOST, targetFields(target), 'timer')).toEqual(target);
    const ib = parseTargetLine(HOST, IB_LINE, OPT);
    expect(targetFields(ib)).toEqual({
      id_ext: '200100a0b8000001',
      ioc_guid: '00a0b80000000001',
      initiator_ext: '0000000000000000',
      dgid: 'fe800000000000000002c90300a0b1c3',
      pkey: 'ffff',
      service_id: '0002c90300a0b1c2',
    });
  });
});

describe("addTargetLine: the builder's own guard", () => {
  const good = (): SrpTarget => parseTargetLine(HOST, RDMA_LINE, OPT);
  it.each<[string, () => SrpTarget, RegExp]>([
    ['a comma in dest', () => ({ ...good(), address: { kind: 'rdma-cm', dest: '10.0.0.1:5555,io_class=ff00' } }), /refusing dest=/],
    ['a newline in src', () => ({ ...good(), address: { kind: 'rdma-cm', dest: '10.0.0.1:5555', src: '10.0.0.2\nio_class=ff00' } }), /refusing src=/],
    ['a comma in idExt', () => ({ ...good(), idExt: '1,io_class=ff00' }), /refusing id_ext=/],
    ['a slash in iocGuid', () => ({ ...good(), iocGuid: '../../x' }), /refusing ioc_guid=/],
    ['an empty initiatorExt', () => ({ ...good(), initiatorExt: '' }), /refusing initiator_ext=/],
    ['a space in a tuning option', () => ({ ...good(), options: { max_sect: '1 2' } }), /refusing max_sect=/],
    ['a comma in pkey', () => ({ ...good(), address: { kind: 'ib-cm', dgid: 'fe800000000000000002c90300a0b1c3', pkey: 'ffff,x', serviceId: '3' } }), /refusing pkey=/],
    ['an option name the kernel does not know', () => ({ ...good(), options: { 'io_class,dest': 'ff00' } as SrpTarget['options'] }), /refusing io_class,dest=/],
  ])('%s', (_name, build, message) => {
    let error: unknown;
    try {
      addTargetLine(build());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(message);
  });
});

describe('srpHostName: srp-<ibdev>-<port>, never a path', () => {
  it.each<[string, SrpHost]>([
    ['srp-mlx5_0-1', { ibdev: 'mlx5_0', port: 1 }],
    ['srp-mlx4_0-2', { ibdev: 'mlx4_0', port: 2 }],
    ['srp-rxe0-255', { ibdev: 'rxe0', port: 255 }],
    ['srp-my-dev.1-3', { ibdev: 'my-dev.1', port: 3 }],
  ])('%s', (name, host) => {
    expect(srpHostName(name, '--srp-host')).toEqual(host);
    expect(srpHostDir(host)).toBe(name);
  });

  it.each([
    ['srp-rxe0'],
    ['srp-rxe0-0'],
    ['srp-rxe0-256'],
    ['srp-rxe0-1000'],
    ['srp-rxe0-'],
    ['srp-rx/e0-1'],
    ['srp-../../etc-1'],
    ['srp-..-1'],
    ['srp-.hidden-1'],
    ['srp--1'],
    ['srp-rxe 0-1'],
    ['srp-rxe0-1\n'],
    ['mlx5_0-1'],
    ['SRP-mlx5_0-1'],
    [`srp-${'a'.repeat(64)}-1`],
    [''],
  ])('refuses %j, naming the option', (name) => {
    const error = usage(() => srpHostName(name, '--srp-host'));
    expect(error.option).toBe('--srp-host');
    expect(error.message.startsWith('--srp-host: ')).toBe(true);
  });

  it('an ibdev name of 63 characters is the longest', () => {
    expect(ibdevName('a'.repeat(63), 'ibdev')).toBe('a'.repeat(63));
    expect(usage(() => ibdevName('a'.repeat(64), 'ibdev')).option).toBe('ibdev');
  });
});

describe('the field validators on their own', () => {
  it.each<[string, (v: string, o: string) => unknown, string, unknown]>([
    ['hex64', hex64, '0x1', '0000000000000001'],
    ['hex64', hex64, 'ABCDEF', '0000000000abcdef'],
    ['gid', gid, 'FE800000000000000002C90300A0B1C3', 'fe800000000000000002c90300a0b1c3'],
    ['gid', gid, 'fe80:0000:0000:0000:0002:c903:00a0:b1c3', 'fe800000000000000002c90300a0b1c3'],
    ['pkey', pkey, '0x8001', '8001'],
    ['pkey', pkey, 'F', '000f'],
    ['destination', destination, '192.168.1.10:1', '192.168.1.10:1'],
    ['destination', destination, '[::FFFF:10.0.0.1]:65535', '[::ffff:10.0.0.1]:65535'],
    ['source', source, '192.168.1.9', '192.168.1.9'],
  ])('%s(%j) → %j', (_name, fn, raw, canonical) => {
    expect(fn(raw, 'x')).toEqual(canonical);
  });

  it.each<[string, (v: string, o: string) => unknown, string]>([
    ['hex64', hex64, '0x-1'],
    ['hex64', hex64, '1 '],
    ['gid', gid, 'fe80::2:c903:a0:b1c3'],
    ['gid', gid, 'g'.repeat(32)],
    ['pkey', pkey, '0x'],
    ['pkey', pkey, '-1'],
    ['destination', destination, `${'1'.repeat(60)}.0.0.1:5555`],
    ['destination', destination, '10.0.0.1:5555:5555'],
    ['destination', destination, '010.0.0.1:5555'],
    ['source', source, ''],
    ['source', source, '10.0.0.256'],
  ])('%s refuses %j', (_name, fn, raw) => {
    expect(usage(() => fn(raw, 'x')).option).toBe('x');
  });
});
