/**
 * nvme-cli's controller ownership registry (/run/nvme/registry), end to end: the real
 * program, the fake nvme as Debian 12's 2.3 (no registry: sanhook writes its entries)
 * or as a registry-capable 3.0 (`connect --owner`), entries in the documented layout.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectExit, Sandbox, SUBSYS1 } from './harness.js';

const TARGET = ['-t', 'tcp', '-a', '127.0.0.1', '-s', '4420'];
const PATH1 = [...TARGET, '-n', SUBSYS1];

let box: Sandbox;
beforeEach(() => {
  box = new Sandbox();
});
afterEach(async () => {
  await box.cleanup();
});

const registry = () => path.join(box.root, 'run', 'nvme', 'registry');
const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);
const entry = (name: string) => ({ owner: readFileSync(path.join(registry(), name, 'owner'), 'utf8'), seqnum: readFileSync(path.join(registry(), name, 'seqnum'), 'utf8') });
/** Another orchestrator's entry, as libnvme writes it. */
function writeEntry(name: string, owner: string, seqnum: number): void {
  mkdirSync(path.join(registry(), name), { recursive: true });
  writeFileSync(path.join(registry(), name, 'owner'), `${owner}\n`);
  writeFileSync(path.join(registry(), name, 'seqnum'), `${seqnum}\n`);
}
const seqnumNow = () => Number(readFileSync(path.join(box.sysfs, 'kernel', 'uevent_seqnum'), 'utf8'));

describe("sanhook's own entries (nvme-cli 2.3: sanhook writes them)", () => {
  it('have the documented layout and modes, the connect-time seqnum, and appear whole', async () => {
    // a reader polling all the while: every entry it sees is complete
    const seen: string[] = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        for (const name of (() => { try { return readdirSync(registry()); } catch { return []; } })()) {
          if (name.startsWith('.')) continue;
          const files = readdirSync(path.join(registry(), name)).sort();
          seen.push(`${name}:${files.join(',')}:${readFileSync(path.join(registry(), name, 'owner'), 'utf8').trim()}:${readFileSync(path.join(registry(), name, 'seqnum'), 'utf8').trim() !== ''}`);
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    const result = await box.run(['connect', ...TARGET]);
    polling = false;
    await poll;
    expectExit(result, 0);
    expect(readdirSync(registry())).toEqual(['nvme0', 'nvme1']); // no temporary directory left
    expect(mode(registry())).toBe('755');
    for (const name of ['nvme0', 'nvme1']) {
      expect(mode(path.join(registry(), name))).toBe('755');
      expect(readdirSync(path.join(registry(), name)).sort()).toEqual(['owner', 'seqnum']);
      expect(mode(path.join(registry(), name, 'owner'))).toBe('644');
      expect(mode(path.join(registry(), name, 'seqnum'))).toBe('644');
      expect(entry(name).owner).toBe('sanhook\n');
    }
    // stamped after each connect's add event: the first with the counter as it was then
    expect(Number(entry('nvme1').seqnum)).toBe(seqnumNow());
    expect(Number(entry('nvme0').seqnum)).toBe(seqnumNow() - 1);
    expect(new Set(seen.map((s) => s.replace(/^nvme[0-9]+:/, '')))).toEqual(new Set(seen.length > 0 ? ['owner,seqnum:sanhook:true'] : []));
    expect(box.probes().map((c) => c.argv)).toEqual([['connect', '--help']]); // asked once per run
  });

  it('a stale entry of a recycled name is replaced, not obeyed (the race the seqnum guard exists for)', async () => {
    // stas's nvme0 is gone; its remove rule has not run yet; sanhook's connect gets nvme0 again
    writeEntry('nvme0', 'stas', 17);
    const result = await box.run(['connect', ...PATH1]);
    expectExit(result, 0);
    expect(entry('nvme0').owner).toBe('sanhook\n');
    expect(Number(entry('nvme0').seqnum)).toBe(seqnumNow());
    expect(readdirSync(registry())).toEqual(['nvme0']);
    expect(result.stdout).toContain('replaced a leftover entry of stas, seqnum 17');
  });

  it('status shows each controller with its owner (text and -o json)', async () => {
    expectExit(await box.run(['connect', ...TARGET]), 0);
    writeEntry('nvme1', 'stas', seqnumNow() + 5);
    const json = await box.run(['-o', 'json', 'status']);
    expectExit(json, 0);
    const items = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((i) => i.outcome === 'nvmf');
    expect(items.map((i) => [i.device, i.owner])).toEqual([['nvme0', 'sanhook'], ['nvme1', 'stas']]);
    const text = await box.run(['status']);
    expect(text.stdout).toMatch(/nvme0: io controller .* live; owner sanhook/);
    expect(text.stdout).toMatch(/nvme1: io controller .* live; owner stas/);
  });
});

describe('nvme-cli 3.0 (registry-capable): it records the owner itself', () => {
  it('connect carries --owner sanhook and sanhook writes nothing of its own', async () => {
    writeFileSync(path.join(box.state, 'registry-version'), '3.0\n');
    const result = await box.run(['-o', 'json', 'connect', ...PATH1]);
    expectExit(result, 0);
    expect(box.nvmeCalls('connect').map((c) => c.argv)).toEqual([expect.arrayContaining(['--owner', 'sanhook'])]);
    expect(result.stdout).not.toContain('"claimed"');
    expect(entry('nvme0').owner).toBe('sanhook\n');
  });
});

describe("another orchestrator's controller is never touched", () => {
  beforeEach(async () => {
    expectExit(await box.run(['connect', ...PATH1]), 0);
    writeEntry('nvme0', 'stas', seqnumNow() + 1); // stas took the path over (its stamp is the newer)
  });

  it('disconnect refuses it (exit 1, naming the owner), writes no tombstone', async () => {
    const before = box.calls().length;
    const result = await box.run(['disconnect', '--device', 'nvme0']);
    expectExit(result, 1);
    expect(result.stdout + result.stderr).toContain('nvme0 is owned by stas');
    expect(box.calls().length).toBe(before);
    const tombstones = path.join(box.stateDir, 'nvmf', 'disconnected');
    expect(existsSync(tombstones) ? readdirSync(tombstones) : []).toEqual([]);
  });

  it('reconnect leaves it to stas (even while the kernel retries it)', async () => {
    writeFileSync(path.join(box.sysfs, 'class', 'nvme', 'nvme0', 'state'), 'connecting\n');
    const before = box.calls().length;
    const result = await box.run(['-o', 'json', 'reconnect', ...PATH1]);
    expectExit(result, 0);
    expect(result.stdout).toContain('"owned-by-other"');
    expect(box.calls().length).toBe(before);
  });

  it('a discovery round does not adopt it', async () => {
    const result = await box.run(['-o', 'json', 'connect', ...PATH1]);
    expectExit(result, 0);
    expect(result.stdout).toContain('"owned-by-other"');
    expect(box.nvmeCalls('connect')).toHaveLength(1);
  });
});
