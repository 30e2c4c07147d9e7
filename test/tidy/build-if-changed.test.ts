// `npm start` builds only when the sources changed: scripts/build-if-changed.mjs compares a
// fingerprint of src/ and the build's inputs with the one stored after the last build. Checked on
// a scratch tree (no build runs here).

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  isDistCurrent,
  sourceFingerprint,
  writeFingerprint,
} from '../../scripts/build-if-changed.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

describe('npm start builds only when the sources changed', () => {
  let root: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'warren-build-check-'));
    mkdirSync(join(root, 'src/mgmt/ui'), { recursive: true });
    mkdirSync(join(root, 'dist'));
    writeFileSync(join(root, 'src/main.ts'), 'export {};\n');
    writeFileSync(join(root, 'src/mgmt/ui/app.js'), '// ui\n');
    writeFileSync(join(root, 'tsconfig.json'), '{}\n');
    writeFileSync(join(root, 'dist/main.js'), '');
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('package.json start runs the check, not a full build', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(manifest.scripts['start']).toBe(
      'node scripts/build-if-changed.mjs && node dist/main.js',
    );
  });

  it('is current after a build of the same sources, stale after any change', () => {
    expect(isDistCurrent(root)).toBe(false);
    writeFingerprint(root, sourceFingerprint(root));
    expect(isDistCurrent(root)).toBe(true);

    writeFileSync(join(root, 'src/mgmt/ui/app.js'), '// ui, edited\n');
    expect(isDistCurrent(root)).toBe(false);
    writeFingerprint(root, sourceFingerprint(root));

    writeFileSync(join(root, 'src/new-file.ts'), 'export {};\n');
    expect(isDistCurrent(root)).toBe(false);
    writeFingerprint(root, sourceFingerprint(root));

    writeFileSync(join(root, 'tsconfig.json'), '{ "compilerOptions": {} }\n');
    expect(isDistCurrent(root)).toBe(false);
  });

  it('is stale when dist/main.js is gone', () => {
    writeFingerprint(root, sourceFingerprint(root));
    rmSync(join(root, 'dist/main.js'));
    expect(isDistCurrent(root)).toBe(false);
  });
});
