/**
 * After sanhook changes what udev or systemd read (a rule or unit installed,
 * a vendor file masked), they are told to read again: `udevadm control
 * --reload`, and `systemctl daemon-reload` when systemd is PID 1.
 *
 * Contract: a reload that fails is a warning (the admin reloads by hand), not
 * a failure of the command that changed the files.
 */
import { systemdBooted, type System } from './system.js';

export async function reloadUdevAndSystemd(system: System): Promise<void> {
  const reload = async (file: string, args: string[]) => {
    const result = await system.exec(file, args).catch(() => undefined);
    if (result && result.exitCode !== 0) system.log.warn({ argv: result.argv, exit_code: result.exitCode }, 'reload failed; reload by hand');
  };
  await reload('udevadm', ['control', '--reload']);
  if (await systemdBooted(system)) await reload('systemctl', ['daemon-reload']);
}
