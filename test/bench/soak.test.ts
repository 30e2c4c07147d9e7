// Smoke test of the soak script: a short run of scripts/soak.mjs against the built broker
// exits 0 with a passing verdict, moves messages, loses and nacks none, and writes its report
// and chart. The hour-long run is `npm run soak`; growth allowances and rates are judged there.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** The parts of the soak report (`--out PREFIX` writes PREFIX.json) this test reads. */
interface SoakReport {
  verdict: { ok: boolean };
  totals: {
    confirmed: number;
    consumed: number;
    nacked: number;
    lost: number;
    errors: string[];
    churnCycles: number;
  };
  samples: { rssBytes: number; fds: number }[];
}

describe('scripts/soak.mjs', () => {
  it(
    'runs mixed load for a few seconds and reports a passing verdict',
    { timeout: 90_000 },
    async () => {
      const outDir = mkdtempSync(join(tmpdir(), 'warren-soak-'));
      try {
        const prefix = join(outDir, 'soak');
        const { stdout } = await promisify(execFile)(
          process.execPath,
          [
            join(ROOT, 'scripts/soak.mjs'),
            '--duration',
            '10',
            '--sample',
            '2',
            '--rate',
            '400',
            '--shards',
            '2',
            '--out',
            prefix,
          ],
          { cwd: ROOT, timeout: 80_000 },
        );
        expect(stdout).toContain('Verdict: pass');
        const result = JSON.parse(readFileSync(`${prefix}.json`, 'utf8')) as SoakReport;
        expect(result.verdict.ok).toBe(true);
        expect(result.totals.confirmed).toBeGreaterThan(0);
        expect(result.totals.lost).toBe(0);
        expect(result.totals.nacked).toBe(0);
        expect(result.totals.errors).toEqual([]);
        expect(result.totals.consumed).toBeGreaterThanOrEqual(result.totals.confirmed);
        expect(result.totals.churnCycles).toBeGreaterThan(5);
        expect(result.samples.length).toBeGreaterThanOrEqual(4);
        for (const sample of result.samples) {
          expect(sample.rssBytes).toBeGreaterThan(0);
          expect(sample.fds).toBeGreaterThan(0);
        }
        expect(readFileSync(`${prefix}.svg`, 'utf8')).toContain('<polyline');
        expect(readFileSync(`${prefix}.md`, 'utf8')).toContain('| open file descriptors |');
      } finally {
        rmSync(outDir, { recursive: true, force: true });
      }
    },
  );
});
