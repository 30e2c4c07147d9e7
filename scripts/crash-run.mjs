// Long crash run (issue 7, "Proof"): many rounds of kill -9 under confirm and transaction load
// against the built broker (dist/main.js), each round the one test/crash/kill9.test.ts runs
// (test/crash/crash-round.mjs), then a summary. Exits 1 if anything confirmed or committed was
// lost, anything came back twice or out of order, or a transaction was torn.
//
//   npm run crash-run -- --rounds 50 [--seed 123] [--shards 2] [--no-build]

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { crashRound, declareQueues, random } from '../test/crash/crash-round.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'dist/main.js');

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    seed: { type: 'string' },
    shards: { type: 'string', default: '2' },
    'no-build': { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const seed = Number(values.seed ?? Date.now() % 100_000);
const shards = values.shards;

/** Starts the broker on an ephemeral port; resolves with the process and its AMQP port. */
function startBroker(dataDir) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        MAIN,
        '--port',
        '0',
        '--no-mgmt',
        '--bind',
        '127.0.0.1',
        '--data-dir',
        dataDir,
        '--shards',
        shards,
        '--log-level',
        'error',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk.toString();
      const match = /amqp:\/\/[^:]+:(\d+)/.exec(output);
      if (output.includes('\n') && match !== null) resolve({ child, port: Number(match[1]) });
    });
    child.once('exit', (code) =>
      reject(new Error(`broker exited with ${code} before it was ready`)),
    );
  });
}

function kill(broker) {
  if (broker.child.exitCode !== null || broker.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    broker.child.once('exit', () => resolve());
    broker.child.kill('SIGKILL');
  });
}

if (!values['no-build']) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });

const dataDir = mkdtempSync(join(tmpdir(), 'warren-crash-run-'));
const next = random(seed);
const totals = {
  rounds: 0,
  sent: 0,
  confirmed: 0,
  recovered: 0,
  committed: 0,
  attempted: 0,
  lost: 0,
  duplicated: 0,
  neverSent: 0,
  outOfOrder: 0,
  committedLost: 0,
  torn: 0,
};
const startedMs = Date.now();
let broker = await startBroker(dataDir);
try {
  await declareQueues(broker.port);
  console.log(`crash-run: ${rounds} rounds, seed ${seed}, ${shards} shards, data ${dataDir}`);
  for (let round = 0; round < rounds; round++) {
    const running = broker;
    const delayMs = 300 + Math.floor(next() * 700);
    const result = await crashRound({
      port: running.port,
      round,
      delayMs,
      kill: () => kill(running),
      restart: async () => {
        broker = await startBroker(dataDir);
        return broker.port;
      },
    });
    totals.rounds++;
    for (const key of ['sent', 'confirmed', 'recovered', 'committed', 'attempted'])
      totals[key] += result[key];
    const problems = ['lost', 'duplicated', 'neverSent', 'outOfOrder', 'committedLost', 'torn'];
    for (const key of problems) totals[key] += result[key].length;
    const found = problems.filter((key) => result[key].length > 0);
    console.log(
      `round ${round}: killed after ${delayMs} ms, ${result.confirmed} confirmed of ${result.sent} sent, ` +
        `${result.recovered} recovered, ${result.committed} transactions committed` +
        (found.length === 0
          ? ''
          : ` PROBLEMS ${found.map((key) => `${key}=${result[key].slice(0, 5).join(',')}`).join(' ')}`),
    );
  }
} finally {
  await kill(broker);
  rmSync(dataDir, { recursive: true, force: true });
}

const isClean =
  totals.lost +
    totals.duplicated +
    totals.neverSent +
    totals.outOfOrder +
    totals.committedLost +
    totals.torn ===
  0;
console.log(`
crash-run summary (seed ${seed}, ${((Date.now() - startedMs) / 1000).toFixed(0)} s)
  rounds                          ${totals.rounds}
  messages confirmed and checked  ${totals.confirmed} (of ${totals.sent} sent; ${totals.recovered} recovered)
  lost                            ${totals.lost}
  duplicated                      ${totals.duplicated}
  out of order                    ${totals.outOfOrder}
  never sent                      ${totals.neverSent}
  transactions committed          ${totals.committed} (of ${totals.attempted} begun)
  committed messages lost         ${totals.committedLost}
  transactions torn               ${totals.torn}
  result                          ${isClean ? 'OK' : 'FAILED'}`);
process.exitCode = isClean ? 0 : 1;
