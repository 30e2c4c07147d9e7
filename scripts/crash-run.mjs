// Long crash run (issue 7, "Proof"): many rounds of kill -9 against the built broker
// (dist/main.js), then a summary. First the round of test/crash/kill9.test.ts (confirm and
// transaction load, test/crash/crash-round.mjs), then the round of dead-letter-kill9.test.ts
// (messages expiring into a dead-letter queue, dead-letter-round.mjs), each on fresh data. Exits 1
// if anything confirmed or committed was lost, anything came back twice, out of order or never
// sent, a transaction was torn, or a dead letter was duplicated or left behind.
//
//   npm run crash-run -- --rounds 50 [--dead-letter-rounds 10] [--seed 123] [--shards 2] [--no-build]

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { crashRound, declareQueues, random } from '../test/crash/crash-round.mjs';
import { deadLetterRound, declareDeadLetterQueues } from '../test/crash/dead-letter-round.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'dist/main.js');

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    'dead-letter-rounds': { type: 'string' },
    seed: { type: 'string' },
    shards: { type: 'string', default: '2' },
    'no-build': { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const deadLetterRounds = Number(values['dead-letter-rounds'] ?? Math.ceil(rounds / 5));
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
      const match = /amqp:\/\/(?:\[[^\]]+\]|[^:/]+):(\d+)/.exec(output);
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

/**
 * Runs `count` rounds of `round` on a broker with fresh data; adds each result's numbers, and
 * the lengths of its lists, to `totals`. Lists named in `problems` fail the run when not empty.
 */
async function runRounds(name, count, declare, round, totals, problems, describe) {
  if (count === 0) return;
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-crash-run-'));
  let broker = await startBroker(dataDir);
  try {
    await declare(broker.port);
    for (let index = 0; index < count; index++) {
      const running = broker;
      const delayMs = 300 + Math.floor(next() * 700);
      const result = await round({
        port: running.port,
        round: index,
        delayMs,
        kill: () => kill(running),
        restart: async () => {
          broker = await startBroker(dataDir);
          return broker.port;
        },
      });
      totals.rounds++;
      for (const [key, value] of Object.entries(result)) {
        if (key === 'port') continue;
        totals[key] = (totals[key] ?? 0) + (Array.isArray(value) ? value.length : value);
      }
      const found = problems.filter((key) => result[key].length > 0);
      console.log(
        `${name} round ${index}: killed after ${delayMs} ms, ${describe(result)}` +
          (found.length === 0
            ? ''
            : ` PROBLEMS ${found.map((key) => `${key}=${result[key].slice(0, 5).join(',')}`).join(' ')}`),
      );
    }
  } finally {
    await kill(broker);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const next = random(seed);
const startedMs = Date.now();
console.log(
  `crash-run: ${rounds} rounds and ${deadLetterRounds} dead-letter rounds, seed ${seed}, ${shards} shards`,
);
const confirms = { rounds: 0 };
const confirmProblems = ['lost', 'duplicated', 'neverSent', 'outOfOrder', 'committedLost', 'torn'];
await runRounds(
  'confirm',
  rounds,
  declareQueues,
  crashRound,
  confirms,
  confirmProblems,
  (result) =>
    `${result.confirmed} confirmed of ${result.sent} sent, ${result.recovered} recovered, ` +
    `${result.committed} transactions committed`,
);
const deadLetters = { rounds: 0 };
const deadLetterProblems = ['duplicated', 'neverSent', 'wrongDeath'];
await runRounds(
  'dead-letter',
  deadLetterRounds,
  declareDeadLetterQueues,
  deadLetterRound,
  deadLetters,
  deadLetterProblems,
  (result) =>
    `${result.confirmed} confirmed of ${result.sent} sent, ${result.deadLettered} dead-lettered, ` +
    `${result.lost.length} lost while dying, ${result.sourceLeft} left in the source`,
);

const count = (totals, key) => totals[key] ?? 0;
const isClean =
  confirmProblems.every((key) => count(confirms, key) === 0) &&
  deadLetterProblems.every((key) => count(deadLetters, key) === 0) &&
  count(deadLetters, 'sourceLeft') === 0;
console.log(`
crash-run summary (seed ${seed}, ${((Date.now() - startedMs) / 1000).toFixed(0)} s)
  rounds                          ${confirms.rounds}
  messages confirmed and checked  ${count(confirms, 'confirmed')} (of ${count(confirms, 'sent')} sent; ${count(confirms, 'recovered')} recovered)
  lost                            ${count(confirms, 'lost')}
  duplicated                      ${count(confirms, 'duplicated')}
  out of order                    ${count(confirms, 'outOfOrder')}
  never sent                      ${count(confirms, 'neverSent')}
  transactions committed          ${count(confirms, 'committed')} (of ${count(confirms, 'attempted')} begun)
  committed messages lost         ${count(confirms, 'committedLost')}
  transactions torn               ${count(confirms, 'torn')}
  dead-letter rounds              ${deadLetters.rounds}
  dead letters checked            ${count(deadLetters, 'deadLettered')} (of ${count(deadLetters, 'confirmed')} confirmed)
  dead letters duplicated         ${count(deadLetters, 'duplicated')}
  lost while dying (at most once) ${count(deadLetters, 'lost')}
  left in the source              ${count(deadLetters, 'sourceLeft')}
  wrong x-death                   ${count(deadLetters, 'wrongDeath')}
  result                          ${isClean ? 'OK' : 'FAILED'}`);
process.exitCode = isClean ? 0 : 1;
