/**
 * The pure parts of coexistence with an ownership-aware tool: what `mask`/`unmask`
 * do (mode × what is at the mask path × state in effect × the tool's honour), the
 * state reported, whether nvme-cli's autoconnect rule honours sanhook's discovery
 * controllers, and the claim of the discovery controllers a round created.
 */
import { describe, expect, it } from 'vitest';
import { decideMask, reportedState, type AtMaskPath, type MaskMode, type MaskStatus, type OwnershipHonour } from '../../src/core/coexist.js';
import { autoconnectHonour } from '../../src/hooks/nvmf/coexist.js';
import type { NvmeCliCapabilities } from '../../src/hooks/nvmf/nvme-cli.js';
import { CLAIM_EFFECT, claimDiscoveryControllers } from '../../src/hooks/nvmf/registry.js';

const HONOURED: OwnershipHonour = { honoured: true, reason: 'skips what sanhook owns' };
const NOT_HONOURED: OwnershipHonour = { honoured: false, reason: 'no registry' };

describe('decideMask: mode × at the mask path × state in effect × honour → step', () => {
  const rows: [MaskMode, AtMaskPath, MaskStatus['state'], OwnershipHonour | undefined, string][] = [
    // mask, the tool does not honour ownership (nvme-cli 2.3) or is not asked: as before
    ['mask', 'none', 'active', undefined, 'link'],
    ['mask', 'none', 'active', NOT_HONOURED, 'link'],
    ['mask', 'none', 'absent', undefined, 'link'],
    ['mask', 'none', 'masked', undefined, 'link'], // a runtime mask in /run: the /etc one is written too
    ['mask', 'our-mask', 'masked', undefined, 'none'],
    ['mask', 'other-mask', 'masked', undefined, 'none'],
    ['mask', 'file', 'active', undefined, 'refuse-file'],
    ['mask', 'file', 'active', NOT_HONOURED, 'refuse-file'],
    // mask, the tool honours ownership (nvme-cli 3.0): the file in effect is left running
    ['mask', 'none', 'active', HONOURED, 'none'],
    ['mask', 'our-mask', 'masked', HONOURED, 'none'], // an existing mask is kept: unmask lifts it
    ['mask', 'other-mask', 'masked', HONOURED, 'none'],
    ['mask', 'file', 'active', HONOURED, 'refuse-file'], // the admin's file is never replaced either way
    // unmask: only the exact link sanhook writes, whatever the tool is now
    ['unmask', 'our-mask', 'masked', undefined, 'unlink'],
    ['unmask', 'our-mask', 'masked', HONOURED, 'unlink'],
    ['unmask', 'other-mask', 'masked', undefined, 'refuse-other-mask'],
    ['unmask', 'none', 'active', HONOURED, 'none'], // left running by mask: nothing to undo
    ['unmask', 'none', 'active', NOT_HONOURED, 'none'],
    ['unmask', 'file', 'active', undefined, 'none'],
    ['unmask', 'none', 'absent', undefined, 'none'],
    // status changes nothing
    ['status', 'none', 'active', HONOURED, 'none'],
    ['status', 'file', 'active', undefined, 'none'],
    ['status', 'our-mask', 'masked', undefined, 'none'],
  ];
  it.each(rows)('%s, %s at the mask path, %s in effect, honour %o → %s', (mode, at, effective, honour, step) => {
    expect(decideMask(mode, at, effective, honour)).toEqual({ step });
  });
});

describe('reportedState', () => {
  const active: MaskStatus = { state: 'active', path: '/usr/lib/udev/rules.d/x.rules' };
  const rows: [string, MaskStatus, OwnershipHonour | undefined, MaskStatus][] = [
    ['active, not asked', active, undefined, active],
    ['active, honoured → owner-aware with the reason', active, HONOURED, { ...active, state: 'owner-aware', reason: HONOURED.reason }],
    ['active, not honoured → active with the reason', active, NOT_HONOURED, { ...active, reason: NOT_HONOURED.reason }],
    ['masked stays masked', { state: 'masked', path: '/etc/x' }, HONOURED, { state: 'masked', path: '/etc/x', reason: HONOURED.reason }],
    ['absent stays absent, no reason', { state: 'absent', path: '/etc/x' }, HONOURED, { state: 'absent', path: '/etc/x' }],
  ];
  it.each(rows)('%s', (_name, effective, honour, expected) => {
    expect(reportedState(effective, honour)).toEqual(expected);
  });
});

describe("autoconnectHonour: does nvme-cli's 70-nvmf-autoconnect.rules leave sanhook's discovery controllers alone", () => {
  const v23: NvmeCliCapabilities = { registry: false, from: 'help' };
  const v23ByVersion: NvmeCliCapabilities = { registry: false, from: 'version', version: '2.3' };
  const v30: NvmeCliCapabilities = { registry: true, from: 'help' };
  const v30ByVersion: NvmeCliCapabilities = { registry: true, from: 'version', version: '3.0' };
  const none: NvmeCliCapabilities = { registry: false, from: 'none' };
  const rows: [string, NvmeCliCapabilities, boolean, boolean, RegExp][] = [
    ['2.3 (help lists no --owner)', v23, false, false, /has no controller ownership registry \(`nvme connect-all --help`\)/],
    ['2.3 by version', v23ByVersion, false, false, /nvme-cli 2\.3 has no controller ownership registry \(`nvme version`\)/],
    ['no nvme answering', none, false, false, /no answer from nvme/],
    ['2.3 with FC', v23, true, false, /no controller ownership registry/],
    ['3.0 (help lists --owner), no FC', v30, false, true, /skips discovery controllers another orchestrator owns \(`nvme connect-all --help`\); sanhook owns the persistent ones it creates/],
    ['3.0 by version, no FC', v30ByVersion, false, true, /nvme-cli 3\.0 skips/],
    ['3.0 with nvme_fc loaded: FC events still race', v30, true, false, /nvme_fc is loaded: the rule's FC nvmediscovery events run connect-all on a new discovery controller nobody owns/],
  ];
  it.each(rows)('%s', (_name, connectAll, fcNvme, honoured, reason) => {
    const verdict = autoconnectHonour({ connectAll, fcNvme });
    expect(verdict.honoured).toBe(honoured);
    expect(verdict.reason).toMatch(reason);
  });
});

describe('claimDiscoveryControllers', () => {
  it('nvme-cli 2.3: one claim effect per discovery controller the round created, naming it', () => {
    expect(claimDiscoveryControllers(['nvme2'], false)).toEqual([
      expect.objectContaining({ kind: 'effect', verb: 'claim', effect: CLAIM_EFFECT, data: { owner: 'sanhook', device: 'nvme2' }, done: 'claimed' }),
    ]);
  });
  it('nvme-cli 3.0 (discover --owner registered it), or nothing created: no claim', () => {
    expect(claimDiscoveryControllers(['nvme2'], true)).toEqual([]);
    expect(claimDiscoveryControllers([], false)).toEqual([]);
  });
});
