#!/usr/bin/env node
// What each message costs the network thread: CPU time of the broker's main thread (read from
// /proc, user + system) over a warren-perf run, divided by the messages that moved. CPU time,
// not wall time, so other work on the machine barely moves it. From it, the rate at which one
// network thread would be saturated on a machine with cores to spare: the single network
// thread's ceiling that docs/scaling.md plans to lift.
//
//   npm run bench:net-cost -- [--seconds 8] [--runs 3] [--loads transient1to1,fanout,...]

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machine, machineLine, median, root, runPerf, WarrenBroker } from './lib.mjs';
import { LOADS } from './loads.mjs';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    runs: { type: 'string', default: '3' },
    loads: {
      type: 'string',
      default: 'transient1to1,transient1KiB,persistent1,fourByFour,fanout',
    },
    shards: { type: 'string', default: '1' },
  },
});

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) of each thread of `pid`, by thread id; the main thread's is `pid`. */
function threadCpuSeconds(pid) {
  const byThread = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    byThread.set(Number(tid), ticks / CLOCK_TICKS_PER_SECOND);
  }
  return byThread;
}

function messagesMoved(load, summary) {
  return summary.rates[load.rate] * summary.durationSeconds;
}

async function measure(load) {
  const broker = new WarrenBroker(['--shards', flags.shards]);
  await broker.start();
  try {
    const pid = broker.child.pid;
    // A short warm-up run so JIT and buffers are settled before the measured one.
    await runPerf(broker.url, ['--duration', '2', ...load.args]);
    const before = threadCpuSeconds(pid);
    const summary = await runPerf(broker.url, ['--duration', flags.seconds, ...load.args]);
    const after = threadCpuSeconds(pid);
    const messages = messagesMoved(load, summary);
    const netSeconds = (after.get(pid) ?? 0) - (before.get(pid) ?? 0);
    let otherSeconds = 0;
    for (const [tid, seconds] of after) {
      if (tid !== pid) otherSeconds += seconds - (before.get(tid) ?? 0);
    }
    return {
      rate: summary.rates[load.rate],
      netMicrosPerMessage: (netSeconds * 1e6) / messages,
      otherMicrosPerMessage: (otherSeconds * 1e6) / messages,
      netBusyPercent: (netSeconds / summary.durationSeconds) * 100,
    };
  } finally {
    await broker.stop();
  }
}

async function main() {
  const rows = [];
  for (const key of flags.loads.split(',')) {
    const load = LOADS[key];
    if (load === undefined) throw new Error(`unknown load ${key}`);
    const runs = [];
    for (let run = 0; run < Number(flags.runs); run++) {
      const result = await measure(load);
      runs.push(result);
      console.error(
        `${load.name} | run ${run + 1}: ${Math.round(result.rate)} msg/s, network thread ${result.netMicrosPerMessage.toFixed(2)} µs/msg (${result.netBusyPercent.toFixed(0)} % busy), other threads ${result.otherMicrosPerMessage.toFixed(2)} µs/msg`,
      );
    }
    const netMicros = median(runs.map((run) => run.netMicrosPerMessage));
    rows.push({
      load: load.name,
      rate: median(runs.map((run) => run.rate)),
      netMicrosPerMessage: netMicros,
      otherMicrosPerMessage: median(runs.map((run) => run.otherMicrosPerMessage)),
      netBusyPercent: median(runs.map((run) => run.netBusyPercent)),
      netCeilingPerSecond: 1e6 / netMicros,
    });
  }
  const info = machine();
  const result = {
    machine: info,
    shards: Number(flags.shards),
    seconds: Number(flags.seconds),
    rows,
  };
  writeFileSync(
    join(root, 'bench/results/net-thread-cost.json'),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  console.log(
    `Machine: ${machineLine(info)}; ${flags.shards} shard(s), medians of ${flags.runs} runs`,
  );
  console.log(
    '| load | msg/s | network thread µs/msg | busy | other threads µs/msg | one network thread saturates at |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const row of rows) {
    console.log(
      `| ${row.load} | ${Math.round(row.rate).toLocaleString('en')} | ${row.netMicrosPerMessage.toFixed(2)} | ${row.netBusyPercent.toFixed(0)} % | ${row.otherMicrosPerMessage.toFixed(2)} | ${Math.round(row.netCeilingPerSecond).toLocaleString('en')} msg/s |`,
    );
  }
}

await main();
