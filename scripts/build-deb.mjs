#!/usr/bin/env node
/**
 * `npm run deb`: builds dist/deb/sanhook_<version>_all.deb with dpkg-deb, from
 * this checkout, without the network.
 *
 * Layout (what an admin gets from `dpkg -i`):
 *   /usr/lib/sanhook/          bin/sanhook.js, dist/bundle/ (the program and,
 *                              bundled in, its production dependencies: no
 *                              node_modules to resolve at every uevent), package.json
 *   /usr/sbin/sanhook          a two-line sh wrapper: exec /usr/bin/node with the
 *                              node flags of bin/sanhook.js's #! line (the Debian
 *                              node the package depends on, not whichever `node`
 *                              an admin's PATH finds first; and no `env -S`)
 *   /lib/udev/rules.d, /lib/systemd/system, the dispatcher scripts
 *                              exactly as `sanhook install --prefix /usr --entry
 *                              /usr/sbin/sanhook` writes them (src/install/assets.ts
 *                              is the one table), with udev's and systemd's
 *                              directories under /lib: Debian 12 packages must not
 *                              move files between / and /usr (the usrmerge moratorium)
 *   /usr/lib/tmpfiles.d/       the NVMe ownership registry's directory at boot
 *   /usr/share/initramfs-tools/{hooks,scripts/local-top}/sanhook,
 *   /usr/lib/dracut/modules.d/95sanhook/
 *                              the initramfs hand-over (docs/initramfs.md), inert
 *                              until the admin opts in; DEBIAN/triggers runs
 *                              update-initramfs when they change
 *   /usr/share/man/            sanhook(8), sanhook-timerd(8), sanhook.conf(5)
 *   /usr/share/doc/sanhook/    copyright (sanhook's and every bundled package's
 *                              licence), changelog.gz, README.md and docs/*.md
 * Maintainer scripts: packaging/debian/{postinst,prerm,postrm}.
 * Depends on Debian's (or NodeSource's) nodejs >= 20 rather than carrying a
 * node binary: the package stays architecture-independent (~0.3 MB, not
 * ~40 MB per architecture) and node gets its security updates from the
 * distribution, not from a sanhook release.
 *
 * Reproducible: file times are the source date (SOURCE_DATE_EPOCH, else the
 * last commit), owners root:root (--root-owner-group), gzip without a name
 * or time.
 *
 * usage: node scripts/build-deb.mjs [--skip-build] [--out DIR]
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outDir = path.resolve(args.includes('--out') ? args[args.indexOf('--out') + 1] : path.join(REPO, 'dist', 'deb'));
const die = (message) => {
  console.error(`build-deb: ${message}`);
  process.exit(1);
};
const run = (file, argv, options = {}) => execFileSync(file, argv, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...options });

/**
 * Units enabled at install. The metrics timer is harmless where nothing reads
 * it (its service runs only when node_exporter's textfile directory exists);
 * FCoE's recheck timer is the admin's choice (docs/fcoe-events.md).
 */
const ENABLED_UNITS = ['sanhook-timerd.socket', 'sanhook-timerd.service', 'sanhook-connect-boot.service', 'sanhook-metrics.timer'];
/** The initramfs integration: repository file → installed path (all executable). */
const INITRAMFS_FILES = [
  ['initramfs/initramfs-tools/hooks/sanhook', 'usr/share/initramfs-tools/hooks/sanhook'],
  ['initramfs/initramfs-tools/scripts/local-top/sanhook', 'usr/share/initramfs-tools/scripts/local-top/sanhook'],
  ['initramfs/dracut/95sanhook/module-setup.sh', 'usr/lib/dracut/modules.d/95sanhook/module-setup.sh'],
  ['initramfs/dracut/95sanhook/sanhook-connect.sh', 'usr/lib/dracut/modules.d/95sanhook/sanhook-connect.sh'],
];
const MAINTAINER = 'sanhook developers <maintainers@users.noreply.h-seed-5939cc12.example>';
const ENTRY = '/usr/sbin/sanhook';

if (!args.includes('--skip-build')) run('npm', ['run', '--silent', 'build'], { stdio: ['ignore', 'inherit', 'inherit'] });
for (const need of ['dist/bundle/cli.js', 'dist/bundle-packages.json', 'dist/manpages/sanhook.8']) if (!existsSync(path.join(REPO, need))) die(`${need} is missing: run npm run build first (or drop --skip-build)`);
try {
  run('dpkg-deb', ['--version']);
} catch {
  die('dpkg-deb is missing (Debian: apt-get install dpkg)');
}

const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
// A native package: sanhook is its own upstream, so the version has no Debian revision.
const version = pkg.version;
if (!/^[0-9][A-Za-z0-9.+~]*$/.test(version)) die(`package.json version ${version} is not a Debian native version`);

function sourceEpoch() {
  if (/^\d+$/.test(process.env.SOURCE_DATE_EPOCH ?? '')) return Number(process.env.SOURCE_DATE_EPOCH);
  try {
    return Number(run('git', ['log', '-1', '--format=%ct'], { stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    return Math.floor(statSync(path.join(REPO, 'package.json')).mtimeMs / 1000);
  }
}
const epoch = sourceEpoch();

const work = mkdtempSync(path.join(os.tmpdir(), 'sanhook-deb-'));
const root = path.join(work, 'root');
const inRoot = (...parts) => path.join(root, ...parts);
try {
  // --- the program ---
  const lib = inRoot('usr', 'lib', 'sanhook');
  mkdirSync(path.join(lib, 'bin'), { recursive: true });
  // The entry runs through the wrapper: its #! line becomes a comment, same line count.
  const entry = readFileSync(path.join(REPO, 'bin', 'sanhook.js'), 'utf8');
  const shebang = /^#!\/usr\/bin\/env -S node((?: --[a-z-]+)*)\n/.exec(entry);
  if (!shebang) die('bin/sanhook.js does not start with "#!/usr/bin/env -S node --flag ..."');
  const nodeFlags = shebang[1].trim();
  writeFileSync(path.join(lib, 'bin', 'sanhook.js'), entry.replace(shebang[0], `// run as: /usr/bin/node ${nodeFlags} (by ${ENTRY})\n`));
  cpSync(path.join(REPO, 'dist', 'bundle'), path.join(lib, 'dist', 'bundle'), { recursive: true });
  const manifest = { name: pkg.name, version, description: pkg.description, license: pkg.license, type: pkg.type, engines: pkg.engines };
  writeFileSync(path.join(lib, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  mkdirSync(inRoot('usr', 'sbin'), { recursive: true });
  writeFileSync(inRoot('usr', 'sbin', 'sanhook'), `#!/bin/sh\nexec /usr/bin/node ${nodeFlags} /usr/lib/sanhook/bin/sanhook.js "$@"\n`);
  chmodSync(inRoot('usr', 'sbin', 'sanhook'), 0o755);

  // --- rules, units, dispatcher scripts: sanhook install's own table and fill-in ---
  run(process.execPath, [path.join(REPO, 'bin', 'sanhook.js'), '--log-level', 'warn', 'install', '--destdir', root, '--prefix', '/usr', '--entry', ENTRY]);
  for (const dir of ['udev', 'systemd']) {
    mkdirSync(inRoot('lib'), { recursive: true });
    renameSync(inRoot('usr', 'lib', dir), inRoot('lib', dir));
  }
  // dpkg keeps the file list; sanhook install's manifest is for npm installs
  rmSync(inRoot('usr', 'share', 'sanhook'), { recursive: true });
  const units = readdirSync(inRoot('lib', 'systemd', 'system')).sort();
  for (const unit of ENABLED_UNITS) if (!units.includes(unit)) die(`unit ${unit} is not in systemd/`);

  // --- the initramfs hand-over (docs/initramfs.md): initramfs-tools' hook and boot script, dracut's module ---
  // Each does nothing until the admin opts in (/etc/sanhook/initramfs.conf).
  for (const [from, to] of INITRAMFS_FILES) {
    mkdirSync(path.dirname(inRoot(to)), { recursive: true });
    cpSync(path.join(REPO, from), inRoot(to));
    chmodSync(inRoot(to), 0o755);
  }

  // --- man pages and docs ---
  const gz = (text) => gzipSync(text, { level: 9 }); // node writes no name and time 0: reproducible
  for (const page of readdirSync(path.join(REPO, 'dist', 'manpages'))) {
    const section = page.slice(page.lastIndexOf('.') + 1);
    mkdirSync(inRoot('usr', 'share', 'man', `man${section}`), { recursive: true });
    writeFileSync(inRoot('usr', 'share', 'man', `man${section}`, `${page}.gz`), gz(readFileSync(path.join(REPO, 'dist', 'manpages', page))));
  }
  const doc = inRoot('usr', 'share', 'doc', 'sanhook');
  mkdirSync(doc, { recursive: true });
  writeFileSync(path.join(doc, 'copyright'), copyright());
  writeFileSync(path.join(doc, 'changelog.gz'), gz(changelog()));
  // as written, not gzipped: the units' Documentation=file:/usr/share/doc/sanhook/*.md open them
  cpSync(path.join(REPO, 'README.md'), path.join(doc, 'README.md'));
  for (const page of readdirSync(path.join(REPO, 'docs')).filter((n) => n.endsWith('.md'))) cpSync(path.join(REPO, 'docs', page), path.join(doc, page));

  // --- control area ---
  const control = inRoot('DEBIAN');
  mkdirSync(control);
  const tmpfiles = existsSync(inRoot('usr', 'lib', 'tmpfiles.d')) ? readdirSync(inRoot('usr', 'lib', 'tmpfiles.d')).sort() : [];
  const fill = (text) => text.replaceAll('@ENABLE@', ENABLED_UNITS.join(' ')).replaceAll('@UNITS@', units.join(' ')).replaceAll('@TMPFILES@', tmpfiles.join(' '));
  // A changed hook is in the next image only after update-initramfs: dpkg's trigger runs it once, at the end.
  writeFileSync(path.join(control, 'triggers'), 'activate-noawait update-initramfs\n');
  for (const script of ['postinst', 'prerm', 'postrm']) {
    writeFileSync(path.join(control, script), fill(readFileSync(path.join(REPO, 'packaging', 'debian', script), 'utf8')));
    chmodSync(path.join(control, script), 0o755);
  }
  const files = walk(root).filter((f) => !f.startsWith('DEBIAN/'));
  const regular = files.filter((f) => lstatSync(inRoot(f)).isFile());
  const conffiles = regular.filter((f) => f.startsWith('etc/')).map((f) => `/${f}`);
  if (conffiles.length > 0) writeFileSync(path.join(control, 'conffiles'), `${conffiles.join('\n')}\n`);
  writeFileSync(path.join(control, 'md5sums'), regular.map((f) => `${createHash('md5').update(readFileSync(inRoot(f))).digest('hex')}  ${f}`).join('\n') + '\n');
  const installedKiB = Math.ceil(regular.reduce((sum, f) => sum + statSync(inRoot(f)).size, 0) / 1024) + files.length - regular.length;
  writeFileSync(path.join(control, 'control'), controlFile(installedKiB));

  // --- modes and times, then the archive ---
  for (const f of walk(root)) {
    const full = inRoot(f);
    const st = lstatSync(full);
    if (st.isDirectory()) chmodSync(full, 0o755);
    else if (st.isFile()) chmodSync(full, st.mode & 0o111 ? 0o755 : 0o644);
  }
  chmodSync(root, 0o755);
  for (const f of [...walk(root), '']) lutimesSync(inRoot(f), epoch, epoch);
  mkdirSync(outDir, { recursive: true });
  const deb = path.join(outDir, `sanhook_${version}_all.deb`);
  run('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', root, deb], { env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) }, stdio: ['ignore', 'ignore', 'inherit'] });
  console.log(`${path.relative(process.cwd(), deb) || deb}: ${(statSync(deb).size / 1024).toFixed(0)} KiB, ${regular.length} files, installed ${installedKiB} KiB`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** Every path below the staging root (relative, sorted), directories too. */
function walk(dir, prefix = '') {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => {
      const rel = path.join(prefix, e.name);
      return e.isDirectory() ? [rel, ...walk(dir, rel)] : [rel];
    });
}

function controlFile(installedKiB) {
  return `Package: sanhook
Version: ${version}
Architecture: all
Maintainer: ${MAINTAINER}
Installed-Size: ${installedKiB}
Depends: nodejs (>= 20), udev, init-system-helpers (>= 1.54~)
Recommends: nvme-cli
Suggests: fcoe-utils, lldpad, srptools, networkd-dispatcher | network-manager
Section: admin
Priority: optional
Multi-Arch: foreign
Description: keeps NVMe-oF, FCoE and SRP storage-fabric connections alive
 sanhook brings a host's storage-fabric connections back after the kernel
 gives up on them: NVMe over Fabrics (TCP, RDMA, FC), FCoE and SRP.
 .
 Hotplug events start short-lived hooks from udev rules (connect,
 reconnect, a DCB check, an FCoE destroy, an SRP erase); a small timer
 daemon, sanhook-timerd, holds only the reconnect-delay and loss timers,
 durably. Lockfiles serialise hooks that race on one endpoint without
 losing an event.
 .
 It reconnects NVMe-oF controllers after ctrl_loss_tmo (which nvme-cli's
 udev rules cannot), creates and destroys FCoE interfaces gated on DCB
 (instead of fcoemon), and gives SRP targets a timer policy, fail-over
 commands and re-login.
`;
}

function changelog() {
  const date = new Date(epoch * 1000).toUTCString().replace('GMT', '+0000');
  return `sanhook (${version}) unstable; urgency=medium

  * Release ${version}, built from the sanhook source tree by scripts/build-deb.mjs.

 -- ${MAINTAINER}  ${date}
`;
}

/**
 * DEP-5: sanhook's MIT licence, and the bundle's: the npm packages it carries
 * with their copyright lines, and each distinct licence once (its text from a
 * package that carries it; Apache-2.0 is in /usr/share/common-licenses).
 */
function copyright() {
  const bundled = JSON.parse(readFileSync(path.join(REPO, 'dist', 'bundle-packages.json'), 'utf8'));
  const indent = (text) =>
    text
      .replace(/\r/g, '')
      .trim()
      .split('\n')
      .map((l) => (l.trim() === '' ? ' .' : ` ${l}`))
      .join('\n');
  const holders = new Set();
  const licenses = new Map(); // licence id -> text
  for (const p of bundled) {
    if (!p.licenseFile || !p.license) die(`bundled package ${p.name} has no licence file or licence field`);
    const text = readFileSync(path.join(REPO, p.licenseFile), 'utf8');
    const lines = text.split('\n').filter((l) => /^\s*copyright\s*(\(c\)|©|\d)/i.test(l)).map((l) => l.trim().replace(/^copyright\s*(\(c\)|©)?\s*/i, ''))
      .filter((l) => !/^[\d\s,-]*:?$/.test(l));
    for (const l of lines.length > 0 ? lines : [`the ${p.name} authors`]) holders.add(l);
    if (!licenses.has(p.license)) licenses.set(p.license, p.license === 'Apache-2.0' ? ' On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.' : indent(text));
  }
  const ids = [...licenses.keys()].sort();
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: sanhook

Files: *
Copyright: 2026 the sanhook developers
License: MIT

Files: usr/lib/sanhook/dist/bundle/*
Copyright: 2026 the sanhook developers
 ${[...holders].sort().join('\n ')}
License: MIT and ${ids.filter((id) => id !== 'MIT').join(' and ')}
Comment: sanhook compiled together with the npm packages it depends on
 (esbuild), each under its own licence:
 ${bundled.map((p) => `${p.name} ${p.version} (${p.license})`).join(',\n ')}

License: MIT
${indent(readFileSync(path.join(REPO, 'LICENSE'), 'utf8').replace(/^MIT License\s*\n\s*\nCopyright[^\n]*\n/, ''))}
${ids
  .filter((id) => id !== 'MIT')
  .map((id) => `\nLicense: ${id}\n${licenses.get(id)}`)
  .join('\n')}
`;
}
