/**
 * `sanhook devd` (FreeBSD): act on one raw devd event line, as
 * devd/sanhook.conf's rules do; for manual use and tests.
 */
import { UsageError } from '../../../core/errors.js';
import type { CommandSpec } from '../../../core/fabric.js';
import { runControllerReconnect } from '../controller.js';
import { classifyDevdEvent, parseDevdEvent } from '../devd-event.js';

export const devdFreeBSD: CommandSpec = {
  verb: 'devd',
  platforms: ['freebsd'],
  summary: 'FreeBSD: act on one raw devd event line (what devd/sanhook.conf runs; for manual use and tests)',
  args: [{ spec: '[event]', description: 'the line, e.g. \'!system=nvme subsystem=controller type=RECONNECT name="nvme0"\'; - or none: read one line from stdin' }],
  options: [],
  async run({ system, config, reporter, dryRun, stdin }, _options, args) {
    const event = args[0];
    const line = event === undefined || event === '-' ? await readStdinLine(stdin) : event;
    const action = classifyDevdEvent(parseDevdEvent(line));
    if (action.kind === 'irrelevant') {
      system.log.debug({ hook: 'devd', outcome: 'irrelevant', why: action.why }, 'event ignored');
      reporter.item({ hook: 'devd', outcome: 'ignored', why: action.why, text: `ignored: ${action.why}` });
      return;
    }
    await runControllerReconnect(system, config, { request: { device: action.device }, dryRun, trigger: 'devd' }, reporter);
  },
};

/** One line from stdin (devd's event), bounded: a devd line is at most 1 KiB. */
async function readStdinLine(stdin: AsyncIterable<Uint8Array> | undefined): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (!stdin) throw new UsageError('devd: no event given and no stdin to read it from', 'devd');
  for await (const chunk of stdin) {
    chunks.push(Buffer.from(chunk));
    size += chunk.length;
    if (size > 4096) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines.length !== 1) throw new UsageError(`devd: expected one event line on stdin, got ${lines.length}`, 'devd');
  return lines[0]!;
}
