/**
 * Static checks of the shipped udev rules (the real-udev behaviour is in
 * test/system/udev-host.test.ts): fixed-word RUN lines only, jumps that land,
 * and match values that agree with the hook's own filter.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AEN_DISCOVERY_LOG_CHANGED } from '../../src/uevent-filter.js';

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

  it('RUN commands are fixed words: no substitution, absolute programs, exactly the two expected commands', () => {
    const runs = all.filter((k) => k.key === 'RUN');
    for (const run of runs) {
      expect(run.value, 'no $env{}/$kernel/%k substitution in RUN').not.toMatch(/[$%]/);
      expect(run.value, 'no quoting games').not.toMatch(/["'\\]/);
      expect(run.op).toBe('+=');
      expect(run.value.split(/\s+/)[0]).toMatch(/^\//);
    }
    expect(runs.map((r) => r.value.split(/\s+/))).toEqual([
      ['/usr/bin/systemd-cat', '--identifier=sanhook', '/usr/bin/sanhook', 'connect', '--uevent'],
      ['/usr/bin/sanhook', 'connect', '--uevent'],
    ]);
  });

  it('the systemd-cat wrapper is used only when it and journald are there, and then the plain RUN is skipped', () => {
    const wrapped = lines.find((l) => l.includes('RUN+="/usr/bin/systemd-cat'))!;
    expect(keys(wrapped)).toEqual([
      { key: 'TEST', op: '==', value: '/usr/bin/systemd-cat' },
      { key: 'TEST', op: '==', value: '/run/systemd/journal/stdout' },
      { key: 'RUN', op: '+=', value: '/usr/bin/systemd-cat --identifier=sanhook /usr/bin/sanhook connect --uevent' },
      { key: 'GOTO', op: '=', value: 'sanhook_nvmf_end' },
    ]);
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

  it('filters on the subsystem first, and matches the same values as the hook (uevent-filter.ts)', () => {
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
      ]),
    );
    expect(all.filter((k) => k.key === 'ENV' && k.op !== '==' && k.op !== '!='), 'the rules never set properties').toEqual([]);
  });
});
