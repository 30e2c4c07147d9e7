#!/usr/bin/env node
// The `warren-perf` command (npm run perf, npx warren-perf): parses the flags, plans the run,
// runs it, and prints the summary table or JSON on stdout. Main thread. Exit codes: 0 when the
// run completed, 1 when the broker failed it, 2 for bad flags. Ctrl-C once ends the run early
// with a summary; twice exits at once.

import { BrokerError, UsageError } from './errors.js';
import { HelpRequested, parsePerfOptions, USAGE, type PerfOptions } from './options.js';
import { planRun, type RunPlan } from './plan.js';
import { formatSummaryTable } from './report.js';
import { PerfRun } from './run.js';

const EXIT_BROKER_ERROR = 1;
const EXIT_USAGE = 2;
const EXIT_INTERRUPTED = 130;
/** A run whose sockets or workers linger this long after the summary is made to exit. */
const EXIT_GRACE_MS = 5000;

async function main(argv: readonly string[]): Promise<number> {
  let options: PerfOptions;
  let plan: RunPlan;
  try {
    options = parsePerfOptions(argv);
    plan = planRun(options);
  } catch (error) {
    if (error instanceof HelpRequested) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (error instanceof UsageError) {
      process.stderr.write(
        `warren-perf: ${error.message}\nRun warren-perf --help for the flags.\n`,
      );
      return EXIT_USAGE;
    }
    throw error;
  }
  const progress = options.isQuiet
    ? null
    : { write: (line: string) => process.stderr.write(`${line}\n`) };
  const run = new PerfRun(options, plan, progress);
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT_INTERRUPTED);
    process.stderr.write('warren-perf: stopping (Ctrl-C again to quit at once)\n');
    run.requestStop();
  };
  process.on('SIGINT', onInterrupt);
  try {
    const summary = await run.run();
    process.stdout.write(
      options.isJson ? `${JSON.stringify(summary)}\n` : `${formatSummaryTable(summary)}\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof BrokerError)) throw error;
    process.stderr.write(`warren-perf: ${error.message}\n`);
    if (options.isJson) {
      process.stdout.write(
        `${JSON.stringify({ tool: 'warren-perf', error: { code: error.code, message: error.message } })}\n`,
      );
    }
    return EXIT_BROKER_ERROR;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Everything is closed by now; a straggling handle must not keep the command alive.
    setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  },
  (error: unknown) => {
    process.stderr.write(
      `warren-perf: internal error: ${(error as Error).stack ?? String(error)}\n`,
    );
    process.exit(EXIT_BROKER_ERROR);
  },
);
