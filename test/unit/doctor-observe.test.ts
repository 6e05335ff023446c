/**
 * `sanhook doctor`'s observation where the integration test cannot reach:
 * FreeBSD's `kldstat -q -m` through the System's exec (a scripted exec here),
 * a tool that is not installed, and Linux's built-in module evidence.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EnvironmentError } from '../../src/core/errors.js';
import type { ModuleNeed, ToolNeed } from '../../src/core/requirements.js';
import type { Exec, System } from '../../src/core/system.js';
import { observeModule, observeTool } from '../../src/doctor/observe.js';
import { FABRICS } from '../../src/hooks/index.js';
import { tempSystem } from '../support/system.js';

const nvmfDoctor = FABRICS.find((f) => f.name === 'nvmf')!.doctor!;
const module = (name: string) => nvmfDoctor.modules.find((m) => m.module === name)!;
const freebsd = (system: System): System => ({ ...system, paths: { ...system.paths, platform: 'freebsd' } });

describe('FreeBSD modules: kldstat -q -m NAME', () => {
  const calls: string[][] = [];
  const exec: Exec = async (file, args) => {
    calls.push([file, ...args]);
    // kldstat -q -m exits 0 when the module is loaded or compiled in, 1 when not
    return { argv: [file, ...args], exitCode: args.at(-1) === 'nvmf' ? 0 : 1, stdout: '', stderr: '' };
  };
  it.each([
    ['nvmf', { loaded: true, how: 'kldstat -q -m nvmf' }],
    ['nvmf_tcp', { loaded: false, looked: 'kldstat -q -m nvmf_tcp (exit 1)' }],
  ])('%s', async (name, seen) => {
    expect(await observeModule(freebsd(tempSystem(exec)), module(name) as ModuleNeed)).toEqual(seen);
    expect(calls.at(-1)).toEqual(['kldstat', '-q', '-m', name]);
  });

  it('no kldstat on PATH: not loaded, saying why', async () => {
    const missing: Exec = async (file) => {
      throw new EnvironmentError(`${file}: not found on PATH (is it installed?)`);
    };
    expect(await observeModule(freebsd(tempSystem(missing)), module('nvmf'))).toEqual({ loaded: false, looked: 'kldstat -q -m nvmf: kldstat: not found on PATH (is it installed?)' });
  });
});

describe('Linux modules', () => {
  it('/sys/module/<name with underscores>, or a built-in module evidence path', async () => {
    const system = tempSystem();
    expect((await observeModule(system, module('nvme-fabrics'))).loaded).toBe(false);
    mkdirSync(path.join(system.paths.sysfs, 'class', 'nvme-fabrics'), { recursive: true });
    expect(await observeModule(system, module('nvme-fabrics'))).toEqual({ loaded: true, how: `built in: ${path.join(system.paths.sysfs, 'class', 'nvme-fabrics')}` });
    mkdirSync(path.join(system.paths.sysfs, 'module', 'nvme_tcp'), { recursive: true });
    expect(await observeModule(system, module('nvme-tcp'))).toEqual({ loaded: true, how: path.join(system.paths.sysfs, 'module', 'nvme_tcp') });
  });
});

describe('tools', () => {
  const nvme = nvmfDoctor.tools.find((t) => t.tool === 'nvme') as ToolNeed;
  it('runs the version command through exec; not found is found: false', async () => {
    const exec: Exec = async (file, args) => ({ argv: [file, ...args], exitCode: 0, stdout: 'nvme version 2.3 (git 2.3)\nlibnvme version 1.3 (git 1.3)\n', stderr: '' });
    expect(await observeTool(tempSystem(exec), nvme)).toEqual({ found: true, exitCode: 0, stdout: 'nvme version 2.3 (git 2.3)\nlibnvme version 1.3 (git 1.3)\n', stderr: '' });
    const missing: Exec = async (file) => {
      throw new EnvironmentError(`${file}: not found on PATH (is it installed?)`);
    };
    expect(await observeTool(tempSystem(missing), nvme)).toEqual({ found: false });
  });
});
