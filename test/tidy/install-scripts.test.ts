// Every installed package with an install script has a decision in package.json's allowScripts
// (npm 11 skips such scripts unless allowed, and warns on every install). All three are denied:
// msgpackr-extract, bufferutil and utf-8-validate ship prebuilt binaries that load at run time,
// so their scripts would only compile from source on a platform without one. This checks that
// msgpackr's native string extraction is in use without its install script.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isNativeAccelerationEnabled } from 'msgpackr';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'];

interface Manifest {
  name?: string;
  scripts?: Record<string, string>;
  allowScripts?: Record<string, boolean>;
}

function readManifest(path: string): Manifest {
  return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
}

/** Names of the packages under node_modules (nested ones too) that have an install script. */
function packagesWithInstallScripts(modules: string): Set<string> {
  const found = new Set<string>();
  if (!existsSync(modules)) return found;
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith('.')) continue;
    const directories = entry.startsWith('@')
      ? readdirSync(join(modules, entry)).map((name) => join(modules, entry, name))
      : [join(modules, entry)];
    for (const directory of directories) {
      const manifestPath = join(directory, 'package.json');
      if (!existsSync(manifestPath)) continue;
      const manifest = readManifest(manifestPath);
      if (INSTALL_SCRIPTS.some((script) => manifest.scripts?.[script] !== undefined)) {
        found.add(manifest.name ?? entry);
      }
      for (const name of packagesWithInstallScripts(join(directory, 'node_modules'))) {
        found.add(name);
      }
    }
  }
  return found;
}

describe('install scripts', () => {
  it('package.json decides on every dependency install script (npm install-scripts ls)', () => {
    const allowScripts = readManifest(join(ROOT, 'package.json')).allowScripts ?? {};
    const undecided = [...packagesWithInstallScripts(join(ROOT, 'node_modules'))].filter(
      (name) => allowScripts[name] === undefined,
    );
    expect(undecided).toEqual([]);
  });

  it("msgpackr uses its native extension without msgpackr-extract's install script", () => {
    expect(isNativeAccelerationEnabled).toBe(true);
  });
});
