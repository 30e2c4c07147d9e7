// Smoke test of the micro-benchmarks: bench/micro.mjs runs its quick mode on the built package
// (dist/) without writing results, exits 0, and every suite prints rows with a positive ops/s.
// Speeds are not checked here; they belong to the benchmark's own output.

import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const SUITES = ['frames', 'field tables', 'topic', 'ring', 'log'];

interface Row {
  suite: string;
  task: string;
  opsPerSecond: number;
}

/** The rows of the printed table: columns are separated by two or more spaces. */
function tableRows(stdout: string): Row[] {
  const lines = stdout.split('\n');
  const header = lines.findIndex((line) => line.startsWith('suite '));
  expect(header).toBeGreaterThanOrEqual(0);
  const rows: Row[] = [];
  for (const line of lines.slice(header + 1)) {
    if (line.trim() === '') break;
    const cells = line.split(/\s{2,}/);
    expect(cells).toHaveLength(7);
    rows.push({
      suite: cells[0]!,
      task: cells[1]!,
      opsPerSecond: Number(cells[3]!.replaceAll(',', '')),
    });
  }
  return rows;
}

describe('bench/micro.mjs', () => {
  it('runs every suite in quick mode and reports positive rates', async () => {
    expect.hasAssertions();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bench/micro.mjs'), '--quick', '--no-write'],
      { cwd: ROOT, timeout: 40_000 },
    );
    const rows = tableRows(stdout);
    expect(new Set(rows.map((row) => row.suite))).toEqual(new Set(SUITES));
    for (const row of rows) {
      expect(row.opsPerSecond, `${row.suite} / ${row.task}`).toBeGreaterThan(0);
    }
    expect(stdout).not.toContain('wrote bench/results');
  }, 45_000);
});
