/**
 * Keys: the one name of an endpoint that lock files, pending markers, timer
 * entries, state records and log lines all use.
 *
 * Contract: a key is `<kind>:<fields...>`; each fabric owns its kinds and the
 * function that builds them (hooks/<fabric>/keys.ts), registered with the
 * fabric. `keyFileName()` is the one file-name encoding of any key:
 * reversible, no `/`, no leading dot, bounded length.
 */
import { createHash } from 'node:crypto';

/** The kind of a key: everything before its first ':'. */
export function keyKind(key: string): string {
  const colon = key.indexOf(':');
  return colon < 0 ? key : key.slice(0, colon);
}

/** File names stay well under NAME_MAX (255) including lock/pending suffixes. */
const FILE_NAME_MAX = 180;

export function keyFileName(key: string): string {
  const encoded = key.replace(/[^A-Za-z0-9_.:=@+-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).replace(/^\./, '%2e');
  if (encoded.length <= FILE_NAME_MAX) return encoded;
  const digest = createHash('sha256').update(key).digest('hex').slice(0, 16);
  return `${encoded.slice(0, FILE_NAME_MAX - 17)}~${digest}`;
}
