/**
 * The SRP part of `npm run demo` (scripts/demo.mjs): keeping an SRP target's SCSI host, and
 * bringing the target back after the kernel deleted it, as sanhook's hooks and timerd on a
 * SIMULATED host.
 *
 * A temp root and a fake sysfs hold one local IB port (srp-rxe0-1); a preload
 * (test/fakes/srp-kernel.mjs) makes its add_target, the remote ports' timers and delete
 * behave like ib_srp and scsi_transport_srp. The udev events are played by running the hooks
 * with the environment the shipped rule gives them. What is real: the sanhook binary, timerd
 * and its schedule, the locks, the validation.
 *
 * Story: srp-add logs in (RDMA/CM) → the port's add event applies the policy (kernel
 * 10/15/600 → 2/3/8, in an order the kernel accepts) → the target goes away and the kernel
 * deletes the port at dev_loss → lost arms timerd → attempts fail while it is away → it is
 * back → srp-reconnect adds it again, the timer ends → srp-erase → nothing adds it again.
 */
import { kernelDeletes, portAddEnv, scsiHostRemoveEnv, setTargetAway, SRP_PRELOAD, srpPorts, srpWorld, srpWrites } from '../test/support/srp.mjs';
import { Sandbox, waitFor } from '../test/support/sandbox.mjs';

const LINE = 'id_ext=0x0002c90300a0b0c1,ioc_guid=0x0002c90300a0b0c2,dest=10.91.0.1:5555,src=10.91.0.1';
const KEY = 'srp:rxe0-1:0002c90300a0b0c1:0002c90300a0b0c2:0000000000000000';

/**
 * @param {(ok: boolean, what: string) => string} check records an invariant, returns ok/FAILED
 */
export async function srpStory(check) {
  const box = new Sandbox({ prefix: 'sanhook-demo-srp-' });
  let timerd;
  try {
    srpWorld(box);
    box.writeConfig('srp:\n  reconnect-delay: 2\n  fast-io-fail: 3\n  dev-loss: 8\n  re-add:\n    delay: 0.5\n    growth: fixed\n');
    const run = (args, env = {}) => box.run(args, { nodeArgs: SRP_PRELOAD, env, timeoutMs: 30_000 });
    const until = (what, predicate, timeoutMs = 30_000) => waitFor(what, predicate, { timeoutMs }).catch(() => undefined);
    const show = (result) => result.stdout.trim().split('\n').filter(Boolean).map((line) => `              │ ${line}`).join('\n');
    const adds = () => srpWrites(box).filter((w) => w.file.endsWith('/add_target'));
    const timers = async () => (await box.request({ op: 'list' })).entries ?? [];

    console.log('\nSRP: keep the SCSI host, bring the target back, erase on demand (SIMULATED ib_srp: fake sysfs)');
    console.log(`  temp root   ${box.dir}`);
    console.log('  config      srp: reconnect-delay 2, fast-io-fail 3, dev-loss 8; re-add every 0.5 s');
    timerd = box.startTimerd({ nodeArgs: SRP_PRELOAD });
    const up = await timerd.ready({ timeoutMs: 10_000 }).then(() => true, () => false);
    console.log(`  timerd      pid ${timerd.pid}, running: ${check(up, 'timerd did not start for the SRP story')}`);
    if (!up) return;

    const added = await run(['srp-add', '--srp-host', 'srp-rxe0-1', '--target', LINE]);
    console.log(`\n  login       sanhook srp-add --srp-host srp-rxe0-1 --target '${LINE}'  (exit ${added.exitCode})\n${show(added)}`);
    const port = Object.keys(srpPorts(box))[0];
    check(added.exitCode === 0 && port === 'port-0:1', `srp-add did not log in: ${added.stdout}${added.stderr}`);
    const setup = await run(['srp-setup', '--uevent'], portAddEnv(0));
    console.log(`  udev add    srp_remote_ports ${port}: sanhook srp-setup --uevent  (exit ${setup.exitCode})\n${show(setup)}`);
    const timersNow = srpPorts(box)[port ?? ''];
    console.log(`  ${check(JSON.stringify(timersNow) === JSON.stringify({ state: 'running', reconnect_delay: '2', fast_io_fail_tmo: '3', dev_loss_tmo: '8' }), `policy not applied: ${JSON.stringify(timersNow)}`)}          ${port}: ${JSON.stringify(timersNow)} (fast_io_fail_tmo before dev_loss_tmo: 15 ≥ 8 would be EINVAL)`);

    setTargetAway(box, true);
    const env = kernelDeletes(box, 0);
    console.log('\n  target away the kernel blocks the port, fails I/O after 3 s, deletes port and host at 8 s');
    const lost = await run(['lost', '--uevent'], env);
    console.log(`  udev remove scsi_host host0 (identity from the udev database): sanhook lost --uevent  (exit ${lost.exitCode})\n${show(lost)}`);
    check(lost.exitCode === 0 && (await timers()).some((t) => t.key === KEY), `lost did not arm timerd: ${lost.stdout}${lost.stderr}`);
    await until('two failed attempts', () => adds().filter((w) => !w.ok).length >= 2);
    const failed = adds().filter((w) => !w.ok);
    console.log(`  ${check(failed.length >= 2 && failed.every((w) => w.error === 'ETIMEDOUT'), 'attempts while away did not fail')}          ${failed.length} add_target attempts failed (ETIMEDOUT) while the target is away; the timer stays`);
    setTargetAway(box, false);
    await until('the port back', () => Object.keys(srpPorts(box)).length === 1);
    await until('the timer gone', async () => (await timers()).length === 0);
    const back = Object.keys(srpPorts(box));
    console.log(`  ${check(back.length === 1 && (await timers()).length === 0, 'the target did not come back, or its timer stayed')}          target back: srp-reconnect wrote add_target; new port ${back.join(', ')}; timer disarmed`);

    const hostNo = Number(/^port-([0-9]+):/.exec(back[0] ?? 'port-0:')?.[1] ?? 0);
    const removeEnv = scsiHostRemoveEnv(box, hostNo);
    const erase = await run(['srp-erase', '--port', back[0] ?? 'port-0:1']);
    console.log(`\n  erase       sanhook srp-erase --port ${back[0]}  (exit ${erase.exitCode})\n${show(erase)}`);
    const afterErase = await run(['lost', '--uevent'], removeEnv);
    const before = adds().length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    console.log(`  udev remove sanhook lost --uevent\n${show(afterErase)}`);
    console.log(`  ${check(Object.keys(srpPorts(box)).length === 0 && adds().length === before && (await timers()).length === 0, 'an erased target was added again or armed')}          erased: no port, no timer, no add_target in 1.5 s (3 re-add delays)`);
  } finally {
    await timerd?.stop();
    await box.cleanup();
  }
}
