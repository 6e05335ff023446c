/**
 * devd/sanhook.conf, checked without devd (it does not run on Linux): every
 * notify block parses, overrides the stock /etc/devd/nvmf.conf (priority >
 * 100), matches the kernel's event as devd would (anchored, case-insensitive
 * regular expressions), agrees with sanhook's own classifier, and its action
 * runs an existing sanhook subcommand with valid options: the action's words,
 * with devd's variables substituted from the event, are run through the real
 * CLI (`--platform freebsd --dry-run`, fake nvmecontrol) and must exit 0.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyDevdEvent, parseDevdEvent } from '../../src/hooks/nvmf/devd-event.js';
import { REPO, Sandbox } from './harness.js';

interface NotifyBlock {
  readonly line: number;
  readonly priority: number;
  readonly matches: [string, string][];
  readonly actions: string[];
}

/** devd.conf(5) notify blocks: `notify N { match "k" "v"; ... action "..."; };` (comments are # to end of line). */
function parseConf(text: string): NotifyBlock[] {
  const blocks: NotifyBlock[] = [];
  const stripped = text.replace(/#[^\n]*/g, '');
  const re = /notify\s+(\d+)\s*\{([^}]*)\}\s*;/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(stripped))) {
    const body = m[2]!;
    const statements = body.split(';').map((s) => s.trim()).filter(Boolean);
    const matches: [string, string][] = [];
    const actions: string[] = [];
    for (const st of statements) {
      const match = /^match\s+"([^"]*)"\s+"([^"]*)"$/.exec(st);
      const action = /^action\s+"([^"]*)"$/.exec(st);
      if (match) matches.push([match[1]!, match[2]!]);
      else if (action) actions.push(action[1]!);
      else throw new Error(`devd/sanhook.conf: unknown statement ${JSON.stringify(st)}`);
    }
    blocks.push({ line: stripped.slice(0, m.index).split('\n').length, priority: Number(m[1]), matches, actions });
  }
  // nothing outside blocks but whitespace
  expect(stripped.replace(re, '').trim()).toBe('');
  return blocks;
}

/** The kernel events the rules are for, one per block, by its system value. */
const EVENTS: Record<string, string> = {
  nvme: '!system=nvme subsystem=controller type=RECONNECT name="nvme0"',
  nvmf: '!system=nvmf subsystem=nvme0 type=reconnect',
};

/** daemon(8) options that take a value (FreeBSD 14/15), and those that do not. */
const DAEMON_WITH_VALUE = new Set(['-c', '-l', '-m', '-o', '-p', '-P', '-R', '-s', '-t', '-T', '-u', '-M']);
const DAEMON_FLAGS = new Set(['-f', '-H', '-r', '-S']);

const CONF = readFileSync(path.join(REPO, 'devd', 'sanhook.conf'), 'utf8');
const blocks = parseConf(CONF);

let box: Sandbox;
beforeAll(() => {
  box = new Sandbox({ platform: 'freebsd' });
  box.writeControlFile(
    'controllers.json',
    JSON.stringify({ nvme0: { state: 'disconnected', transport: 'tcp', traddr: '10.0.0.5', trsvcid: '4420', subnqn: 'nqn.2026-11.io.sanhook:subsys1', hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:3b2ec7f2-8d5e-11ef-9c4a-0cc47a8c2f10', disconnectedSince: Date.now() } }),
  );
});
afterAll(async () => {
  await box.cleanup();
});

describe('devd/sanhook.conf', () => {
  it('has a block for each form of the reconnect notification', () => {
    expect(blocks.map((b) => b.matches.find(([k]) => k === 'system')?.[1]).sort()).toEqual(['nvme', 'nvmf']);
  });

  describe.each(blocks.map((b) => [`block at line ${b.line}`, b] as const))('%s', (_name, block) => {
    const system = block.matches.find(([k]) => k === 'system')![1];
    const event = parseDevdEvent(EVENTS[system]!);

    it('outranks the stock nvmf.conf (priority 100): devd runs only the highest-priority matching notify', () => {
      expect(block.priority).toBeGreaterThan(100);
    });

    it('matches the kernel event as devd does (^pattern$, case-insensitive), and sanhook classifies the same event as a reconnect of nvme0', () => {
      for (const [key, pattern] of block.matches) {
        expect(new RegExp(`^${pattern}$`, 'i').test(event.vars[key] ?? ''), `${key} ${pattern}`).toBe(true);
      }
      expect(classifyDevdEvent(event)).toMatchObject({ kind: 'reconnect', device: 'nvme0' });
    });

    it('has one action: daemon(8) with valid options, env(1) setting PATH only, then /usr/local/bin/sanhook, no shell syntax', () => {
      expect(block.actions).toHaveLength(1);
      const words = block.actions[0]!.split(/\s+/);
      expect(words[0]).toBe('/usr/sbin/daemon');
      let i = 1;
      while (words[i]!.startsWith('-')) {
        if (DAEMON_WITH_VALUE.has(words[i]!)) i += 2;
        else if (DAEMON_FLAGS.has(words[i]!)) i += 1;
        else throw new Error(`unknown daemon(8) option ${words[i]}`);
      }
      expect(words[i]).toBe('/usr/bin/env');
      i += 1;
      while (words[i]!.includes('=')) {
        expect(words[i]).toMatch(/^PATH=\/[^ ]*\/usr\/local\/bin(:|$)/);
        i += 1;
      }
      expect(words[i]).toBe('/usr/local/bin/sanhook');
      expect(block.actions[0]).not.toMatch(/[;&|<>`]|\$\(/);
    });

    it('the action runs an existing sanhook subcommand with valid options (real CLI, dry run)', async () => {
      const words = block.actions[0]!.split(/\s+/);
      const args = words.slice(words.indexOf('/usr/local/bin/sanhook') + 1).map((w) =>
        w.replace(/^\$([a-z]+)$/, (_m, name: string) => {
          const value = event.vars[name];
          if (value === undefined) throw new Error(`action uses $${name}, which the event does not carry`);
          return value;
        }),
      );
      const result = await box.run(['-o', 'json', ...args], { globals: [...box.globals(), '--dry-run'] });
      expect(result.exitCode, result.stderr).toBe(0);
      // the plan: reconnect, then (run by devd, not timerd) drop the controller's timer
      const plan = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(plan[0]).toMatchObject({ hook: 'reconnect', device: 'nvme0', outcome: 'would-reconnect', kind: 'run' });
    });
  });
});
