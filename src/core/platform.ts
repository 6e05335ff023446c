/**
 * Which host sanhook runs on, and what follows from it.
 *
 * Contract: `platformOf()` maps node's `process.platform` to the two
 * platforms sanhook supports (FreeBSD; everything else is treated as Linux,
 * where udev and nvme-cli live). The global `--platform` option overrides it
 * (tests run the FreeBSD paths on Linux). Paths per platform follow each
 * system's hier(7): FreeBSD keeps third-party configuration in
 * /usr/local/etc, volatile state in /var/run and durable state in /var/db.
 */
export const PLATFORMS = ['linux', 'freebsd'] as const;
export type Platform = (typeof PLATFORMS)[number];

export function platformOf(nodePlatform: string): Platform {
  return nodePlatform === 'freebsd' ? 'freebsd' : 'linux';
}

/** Directories below the root prefix: sanhook's config parent, run dir, state dir. */
export const PLATFORM_DIRS: Readonly<Record<Platform, { readonly etc: readonly string[]; readonly run: readonly string[]; readonly state: readonly string[] }>> = {
  linux: { etc: ['etc'], run: ['run', 'sanhook'], state: ['var', 'lib', 'sanhook'] },
  freebsd: { etc: ['usr', 'local', 'etc'], run: ['var', 'run', 'sanhook'], state: ['var', 'db', 'sanhook'] },
};
