// `npm start`'s build step: runs `npm run build` only when the sources differ from those the
// current dist/ was built from, so restarting an unchanged checkout starts at once. The
// fingerprint is a SHA-256 over the path and bytes of every file under src/ and of the build's
// inputs beside it; it is written to dist/ after a build succeeds, from the sources as they were
// when the build began (an edit during the build means another build next time).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Besides src/, what the build reads. */
const BUILD_INPUTS = [
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'scripts/copy-ui.mjs',
];
const STAMP = 'dist/.source-fingerprint';

function filesUnder(directory) {
  const files = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...filesUnder(path));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

/** The fingerprint of the sources under `root` as they are now. */
export function sourceFingerprint(root) {
  const hash = createHash('sha256');
  const files = [
    ...filesUnder(join(root, 'src')),
    ...BUILD_INPUTS.map((name) => join(root, name)).filter((path) => existsSync(path)),
  ];
  for (const path of files.map((file) => relative(root, file)).sort()) {
    hash.update(`${path}\0`);
    hash.update(readFileSync(join(root, path)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Whether dist/ under `root` was built from exactly these sources. */
export function isDistCurrent(root, fingerprint = sourceFingerprint(root)) {
  const stamp = join(root, STAMP);
  if (!existsSync(stamp) || !existsSync(join(root, 'dist/main.js'))) return false;
  return readFileSync(stamp, 'utf8').trim() === fingerprint;
}

export function writeFingerprint(root, fingerprint) {
  writeFileSync(join(root, STAMP), `${fingerprint}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const fingerprint = sourceFingerprint(root);
  if (!isDistCurrent(root, fingerprint)) {
    const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (build.status !== 0) process.exit(build.status ?? 1);
    writeFingerprint(root, fingerprint);
  }
}
