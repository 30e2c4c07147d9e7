// Warren as another project installs it: `npm pack` builds dist/ through the `prepare` script
// (nothing in the checkout is built beforehand), the tarball installs into a scratch project,
// and that project imports `startBroker` from 'warren' and runs the `warren` command. A git
// install (`npm install git+file://...`) packs the same way after running `prepare`.

import { execFile } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const T = 240_000;
const run = promisify(execFile);

const scratch = mkdtempSync(join(tmpdir(), 'warren-package-'));

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** The checkout's files (tracked and new, not ignored), copied without dist/ or node_modules/. */
async function copyOfCheckout(target: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z', '-c', '-o', '--exclude-standard'], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  for (const file of stdout.split('\0')) {
    if (file === '') continue;
    mkdirSync(dirname(join(target, file)), { recursive: true });
    cpSync(join(ROOT, file), join(target, file), { force: true });
  }
  // The build needs the dev dependencies (tsc); installing them again would only cost time.
  symlinkSync(join(ROOT, 'node_modules'), join(target, 'node_modules'), 'dir');
}

describe('the warren package', () => {
  it(
    'npm pack builds it, and a scratch project installs it, imports startBroker and runs warren',
    async () => {
      expect.hasAssertions();
      const checkout = join(scratch, 'warren');
      await copyOfCheckout(checkout);
      const npmOptions = { cwd: checkout, maxBuffer: 16 * 1024 * 1024 };
      await run('npm', ['pack', '--pack-destination', scratch], npmOptions);
      const tarballs = readdirSync(scratch).filter((name) => name.endsWith('.tgz'));
      expect(tarballs).toHaveLength(1);

      const app = join(scratch, 'app');
      mkdirSync(app);
      writeFileSync(
        join(app, 'package.json'),
        JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }),
      );
      await run(
        'npm',
        ['install', '--prefer-offline', '--no-audit', '--no-fund', join(scratch, tarballs[0]!)],
        { cwd: app, maxBuffer: 16 * 1024 * 1024 },
      );
      writeFileSync(
        join(app, 'main.mjs'),
        [
          "import { startBroker } from 'warren';",
          "const broker = await startBroker({ port: 0, mgmtPort: 0, bind: '127.0.0.1', shardCount: 1 });",
          'process.stdout.write(`port ${broker.port > 0}\\n`);',
          'await broker.close();',
        ].join('\n'),
      );
      const imported = await run(process.execPath, ['main.mjs'], { cwd: app });
      expect(imported.stdout).toBe('port true\n');
      const help = await run(join(app, 'node_modules/.bin/warren'), ['--help'], { cwd: app });
      expect(help.stdout).toMatch(/^Usage: warren \[options\]/);
    },
    T,
  );
});
