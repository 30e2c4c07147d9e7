// Long frame-fuzzing run (issue 7, "Proof"): runs test/raw/fuzz-frames.test.ts with many more
// fast-check runs than `npm test` does, then prints the summary the test wrote: connections,
// frames and bytes sent, what became of the connections, closes by reply code, and what the
// well-behaved client had confirmed and received. The exit code is the test's.
//
//   npm run fuzz -- --runs 200 [--seed 42] [--shrink] [--no-build]

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100' },
    seed: { type: 'string' },
    shrink: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
  },
});
const seed = values.seed ?? String(Date.now() % 1_000_000);

if (!values['no-build']) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });

const directory = mkdtempSync(join(tmpdir(), 'warren-fuzz-'));
const summaryFile = join(directory, 'summary.json');
const startedMs = Date.now();
const run = spawnSync(
  join(ROOT, 'node_modules/.bin/vitest'),
  ['run', 'test/raw/fuzz-frames.test.ts'],
  {
    cwd: ROOT,
    stdio: 'inherit',
    env: {
      ...process.env,
      WARREN_FUZZ_RUNS: values.runs,
      WARREN_FUZZ_SEED: seed,
      WARREN_FUZZ_SUMMARY: summaryFile,
      ...(values.shrink ? { WARREN_FUZZ_SHRINK: '1' } : {}),
    },
  },
);
const seconds = ((Date.now() - startedMs) / 1000).toFixed(0);

let summary = null;
try {
  summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
} catch (error) {
  console.error(`fuzz: no summary was written (${error.message})`);
}
rmSync(directory, { recursive: true, force: true });

if (summary !== null) {
  const sorted = (counts) =>
    Object.entries(counts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, count]) => `    ${key.padEnd(30)} ${count}`)
      .join('\n');
  console.log(`
fuzz summary (seed ${summary.seed}, ${summary.runs} runs, ${seconds} s)
  connections                     ${summary.connections} (${summary.handshakesFuzzed} with a fuzzed handshake)
  frames sent                     ${summary.framesSent} in ${summary.socketWrites} writes, ${summary.bytesSent} bytes
  outcomes
${sorted(summary.outcomes)}
  closes by reply code
${sorted(summary.closes)}
  good client                     ${summary.goodClient.confirmed} confirmed, ${summary.goodClient.nacked} nacked, ${summary.goodClient.received} received
  result                          ${run.status === 0 ? 'OK' : 'FAILED'}`);
}
process.exitCode = run.status ?? 1;
