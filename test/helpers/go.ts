// Builds the Go programs under test/interop/go against Debian's amqp091-go (GOPATH mode, no
// module download: golang-go and golang-github-rabbitmq-amqp091-go-dev, which .ci/run installs)
// and runs them. Each build lands in a temporary directory, rebuilt once per test file.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const GO_SOURCES = resolve(dirname(fileURLToPath(import.meta.url)), '../interop/go');
const GOPATH = '/usr/share/gocode';

/** Compiles test/interop/go/<name> and returns the binary's path. */
export async function buildGoProgram(name: string): Promise<string> {
  if (!existsSync(join(GOPATH, 'src/github.com/rabbitmq/amqp091-go'))) {
    throw new Error(
      'amqp091-go is missing: apt-get install golang-go golang-github-rabbitmq-amqp091-go-dev (.ci/run does)',
    );
  }
  const output = join(mkdtempSync(join(tmpdir(), `warren-go-${name}-`)), name);
  await run('go', ['build', '-o', output, '.'], {
    cwd: join(GO_SOURCES, name),
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOFLAGS: '',
      GOPATH,
      GOCACHE: join(tmpdir(), 'warren-gocache'),
    },
  });
  return output;
}

/** Runs a built program; resolves with its exit code and output, whatever the code. */
export async function runGoProgram(
  binary: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(binary, args, { timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? String(error),
    };
  }
}
