/**
 * The FCoE part of `npm run demo` (scripts/demo.mjs): fcoemon's DCB-gated lifecycle as
 * sanhook's hooks and timerd, on a SIMULATED host.
 *
 * A temp root and fake sysfs hold eth0 and the VLAN eth0.100 on it, with fcoe-utils'
 * /etc/fcoe/cfg-eth0.100 (DCB_REQUIRED="yes"). The fake `dcb` (test/fakes/dcb.mjs:
 * iproute2 6.1's JSON) answers for eth0 what the test says the switch negotiated, and a
 * preload (test/fakes/fcoe-kernel.mjs) makes the fake /sys/bus/fcoe behave like libfcoe.
 * What is real: the sanhook binary, timerd and its 0.2 s × n schedule, the locks.
 *
 * Story: link up while DCBX is still negotiating → timerd retries; the switch finishes →
 * the ctlr is created on eth0.100; the switch moves App:FCoE off the PFC priority (no
 * link change) → the periodic recheck destroys at once; fixed → created again; PFC
 * broken for good → 10 attempts 0.2 … 2 s apart, then fcoe-destroy, exactly once.
 */
import { addNetdev, ctlrs, DCB_READY, fcoeWorld, FCOE_PRELOAD, fcoeWrites, setDcb, writeCfg } from '../test/support/fcoe.mjs';
import { now, Sandbox, waitFor } from '../test/support/sandbox.mjs';

const KEY = 'fcoe:eth0.100';
const RETRIES = 10;

/**
 * @param {(ok: boolean, what: string) => string} check records an invariant, returns ok/FAILED
 */
export async function fcoeStory(check) {
  const box = new Sandbox({ prefix: 'sanhook-demo-fcoe-' });
  let timerd;
  try {
    fcoeWorld(box);
    addNetdev(box, 'eth0');
    addNetdev(box, 'eth0.100', { vlanOf: 'eth0' });
    writeCfg(box, 'eth0.100', { DCB_REQUIRED: 'yes', MODE: 'fabric' });
    const run = (args) => box.run(args, { nodeArgs: FCOE_PRELOAD, timeoutMs: 30_000 });
    const until = (what, predicate, timeoutMs = 30_000) => waitFor(what, predicate, { timeoutMs }).catch(() => undefined);
    const show = (result) => result.stdout.trim().split('\n').filter(Boolean).map((line) => `              │ ${line}`).join('\n');
    const destroys = () => fcoeWrites(box).filter((w) => w.file === 'bus/fcoe/ctlr_destroy' && w.ok).length;

    console.log('\nFCoE: fcoemon\'s DCB-gated create/destroy as hooks (SIMULATED kernel and switch: fake sysfs, fake `dcb`)');
    console.log(`  temp root   ${box.dir}`);
    console.log('  netdevs     eth0 and the VLAN eth0.100 on it, both up; etc/fcoe/cfg-eth0.100: FCOE_ENABLE="yes" DCB_REQUIRED="yes" MODE="fabric"');
    timerd = box.startTimerd({ nodeArgs: FCOE_PRELOAD });
    const up = await timerd.ready({ timeoutMs: 10_000 }).then(() => true, () => false);
    console.log(`  timerd      pid ${timerd.pid}, running: ${check(up, 'timerd did not start for the FCoE story')}`);
    if (!up) return;
    const attempts = () => timerd.logs('hook finished', { key: KEY, hook: 'dcb-check' });

    // ---- link up while DCBX negotiates
    setDcb(box, 'eth0', { ...DCB_READY, pfc: [] });
    console.log('\n  switch      DCBX still negotiating: PFC not yet on any priority');
    const linkUp = await run(['dcb-check', '--ifname', 'eth0']);
    console.log(`  link up     the dispatcher runs: sanhook dcb-check --ifname eth0  (exit ${linkUp.exitCode})\n${show(linkUp)}`);
    check(linkUp.exitCode === 0 && /retry: timerd armed/.test(linkUp.stdout), `link up did not arm the retry: ${linkUp.stdout}${linkUp.stderr}`);
    await until('three failed attempts', () => attempts().filter((r) => r.exit_code === 1).length >= 3);
    setDcb(box, 'eth0', DCB_READY);
    const readyAt = now();
    await until('the ctlr', () => ctlrs(box).length === 1);
    const tries = attempts();
    const created = ctlrs(box)[0];
    console.log(`  switch      DCBX done after ${tries.filter((r) => r.exit_code === 1).length} failed attempts: PFC and App:FCoE on priority 3`);
    console.log(
      `  result      ${created ? `${created.name} on ${created.ifname}, enabled, ${created.mode}` : 'no ctlr'} ${((now() - readyAt) / 1000).toFixed(1)} s later: ${check(created?.ifname === 'eth0.100' && created.enabled, 'no enabled ctlr on eth0.100 after DCBX finished')}` +
        `; never destroyed: ${check(destroys() === 0, 'a ctlr was destroyed while PFC flapped')}`,
    );
    await until('the schedule to end', async () => ((await box.request({ op: 'list' })).entries ?? []).length === 0, 5_000);
    check(((await box.request({ op: 'list' })).entries ?? []).length === 0, 'the retry timer is still armed after the create');

    // ---- a DCB change without a link change: the recheck timer
    setDcb(box, 'eth0', { ...DCB_READY, app: 5, appOperPrio: 5 });
    const recheck = await run(['dcb-check', '--all']);
    console.log(`\n  switch      App:FCoE moved to priority 5, PFC still on 3 (no link change)`);
    console.log(`  recheck     sanhook-dcb-recheck.timer runs: sanhook dcb-check --all  (exit ${recheck.exitCode})\n${show(recheck)}`);
    console.log(`  result      destroyed at once (a mismatch is not retried): ${check(ctlrs(box).length === 0 && destroys() === 1, `after the mismatch: ${JSON.stringify(ctlrs(box))}, ${destroys()} destroys`)}`);
    setDcb(box, 'eth0', DCB_READY);
    const again = await run(['dcb-check', '--all']);
    console.log(`  switch      fixed → the next recheck creates it again: ${check(again.exitCode === 0 && ctlrs(box).length === 1, `after the fix: ${again.stdout}${again.stderr}`)}`);

    // ---- broken for good: 10 retries, then fcoe-destroy
    setDcb(box, 'eth0', { ...DCB_READY, pfc: [] });
    const before = attempts().length;
    const broken = await run(['dcb-check', '--ifname', 'eth0']);
    const brokenAt = now();
    console.log(`\n  switch      PFC off for good; a link event: sanhook dcb-check --ifname eth0 (exit ${broken.exitCode})`);
    await until('the loss hook', () => timerd.logs('hook finished', { key: KEY, hook: 'fcoe-destroy' }).length === 1, 60_000);
    const fired = timerd.logs('event fired', { key: KEY }).slice(-(RETRIES + 1));
    const finished = attempts().slice(before);
    const waits = fired.slice(1, RETRIES).map((event, i) => event.at - finished[i].at);
    const linear = waits.every((wait, i) => wait >= 200 * (i + 2) - 1 && wait <= 200 * (i + 2) + 150);
    console.log(`  retries     ${finished.length} attempts, waits before attempts 2-10: ${waits.join(', ')} ms (0.2 s × n): ${check(finished.length === RETRIES && linear, `attempts ${finished.length}, waits ${waits.join(', ')}`)}`);
    console.log(
      `  loss        fcoe-destroy ${((now() - brokenAt) / 1000).toFixed(1)} s after the event: destroyed exactly once more: ${check(destroys() === 2 && ctlrs(box).length === 0, `destroys ${destroys()}, ctlrs ${JSON.stringify(ctlrs(box))}`)}` +
        `; no timer left: ${check(((await box.request({ op: 'list' })).entries ?? []).length === 0, 'a timer is left after the loss')}`,
    );
    const status = await run(['status']);
    console.log(`  $ sanhook status\n${show(status)}`);
    check(status.exitCode === 0 && status.stdout.includes(`${KEY} on eth0: no ctlr`), `sanhook status: ${status.stdout}${status.stderr}`);
  } finally {
    await timerd?.stop('SIGTERM', 10_000).catch(() => undefined);
    await box.cleanup();
  }
}
