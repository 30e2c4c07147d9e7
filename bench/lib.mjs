// What the benchmark scripts share: the two brokers under test (Warren as a child process,
// RabbitMQ from Debian's package on a private side node), their memory, warren-perf runs,
// medians and a description of the machine that produced a result.

import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function rssBytesOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

export function mib(bytes) {
  return Math.round(bytes / 1048576);
}

/** Warren from dist/, on a free loopback port with a data dir of its own. */
export class WarrenBroker {
  name = 'warren';
  label = 'Warren';

  /**
   * `extraArgs`: more flags (e.g. --shards 2, --fsync interval) for sweeps; `checkout`: another
   * built Warren checkout to run instead of this one (A/B comparisons).
   */
  constructor(extraArgs = [], checkout = root) {
    this.extraArgs = extraArgs;
    this.checkout = checkout;
  }

  async start() {
    this.dataDir ??= mkdtempSync(join(tmpdir(), 'warren-bench-'));
    const startedMs = Date.now();
    this.child = spawn(
      process.execPath,
      [
        join(this.checkout, 'dist/main.js'),
        '--port',
        '0',
        '--bind',
        '127.0.0.1',
        // Like the RabbitMQ side node, which runs without its management plugin.
        '--no-mgmt',
        '--data-dir',
        this.dataDir,
        '--log-level',
        'error',
        ...this.extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    this.port = await new Promise((resolve, reject) => {
      let output = '';
      this.child.stdout.on('data', (chunk) => {
        output += chunk;
        const match = /amqp:\/\/(?:\[[^\]]+\]|[^:/]+):(\d+)/.exec(output);
        if (match) resolve(Number(match[1]));
      });
      this.child.once('exit', (code) => reject(new Error(`warren exited with ${code}`)));
    });
    this.url = `amqp://guest:guest@127.0.0.1:${this.port}`;
    return Date.now() - startedMs;
  }

  rssBytes() {
    return rssBytesOf(this.child.pid);
  }

  async stop() {
    if (this.child.exitCode !== null) return;
    await new Promise((resolve) => {
      this.child.once('exit', resolve);
      this.child.kill('SIGTERM');
    });
  }

  async destroy() {
    if (this.dataDir !== undefined) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** RabbitMQ 3.x from Debian's package on side ports (scripts/rabbitmq-side-node.sh). */
export class RabbitBroker {
  name = 'rabbitmq';
  label = 'RabbitMQ';
  script = join(root, 'scripts/rabbitmq-side-node.sh');

  async start() {
    const startedMs = Date.now();
    this.url = execFileSync(this.script, ['start'], { encoding: 'utf8' }).trim();
    return Date.now() - startedMs;
  }

  rssBytes() {
    const pid = execFileSync('pgrep', ['-f', 'beam.smp.*warren-rabbitmq-side'], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')[0];
    return rssBytesOf(Number(pid));
  }

  async stop() {
    execFileSync(this.script, ['stop']);
    await sleep(1000);
  }

  async destroy() {}
}

/** Runs the built warren-perf with `args` against `url`; resolves its --json summary. */
export function runPerf(url, args, timeoutMs = 300_000) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(root, 'dist/perf/cli.js'), '--uri', url, ...args, '--json', '--quiet'],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(new Error(`warren-perf ${args.join(' ')}: ${error.message}\n${stderr}`));
          return;
        }
        resolve(JSON.parse(stdout));
      },
    );
  });
}

export function median(values) {
  const present = values.filter((value) => value !== null && value !== undefined);
  if (present.length === 0) return null;
  const sorted = [...present].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export function machine() {
  let rabbitVersion = 'not run';
  try {
    rabbitVersion = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'rabbitmq-server'], {
      encoding: 'utf8',
    });
  } catch {
    // not installed
  }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    rabbitmq: rabbitVersion,
    date: new Date().toISOString(),
  };
}

export function machineLine(info) {
  return `${info.cpus} × ${info.cpuModel}, ${info.memoryGiB} GiB RAM, Node ${info.node}, RabbitMQ ${info.rabbitmq}; ${info.date}`;
}
