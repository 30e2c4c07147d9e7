// Probes the runtime behaviour Warren relies on, for comparing Node.js versions side by side:
// Atomics.waitAsync wake-ups across worker threads, fdatasync on descriptors and FileHandles,
// connecting to `localhost` (autoSelectFamily), growable SharedArrayBuffers shared with a worker,
// V8 heap limits in workers, whether an idle thread gives back its garbage, and
// listen({ reusePort }). Prints one JSON object (--json) or a Markdown list. Bounded: about 30 s,
// loopback only, temporary files removed.
// Usage: node scripts/node-behaviour.mjs [--json]

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fdatasync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';

const MiB = 2 ** 20;

function percentile(sorted, fraction) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}

function microseconds(nanoseconds) {
  return Math.round(Number(nanoseconds) / 100) / 10;
}

/** Ping-pong through a SharedArrayBuffer, each side sleeping in Atomics.waitAsync as the rings do. */
async function waitAsyncPingPong(rounds) {
  const control = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const control = workerData;
     // A pending waitAsync does not keep a thread alive: a timer does, as sockets do in Warren.
     const keepAlive = setInterval(() => {}, 1000);
     (async () => {
       for (let round = 1; round <= ${rounds}; round++) {
         while (Atomics.load(control, 0) !== round) {
           const waiting = Atomics.waitAsync(control, 0, round - 1, 1000);
           if (waiting.async) await waiting.value;
         }
         Atomics.store(control, 1, round);
         Atomics.notify(control, 1);
       }
       clearInterval(keepAlive);
     })();`,
    { eval: true, workerData: control },
  );
  const keepAlive = setInterval(() => {}, 1000);
  const roundTrips = [];
  let timedOut = 0;
  for (let round = 1; round <= rounds; round++) {
    const started = process.hrtime.bigint();
    Atomics.store(control, 0, round);
    Atomics.notify(control, 0);
    while (Atomics.load(control, 1) !== round) {
      const waiting = Atomics.waitAsync(control, 1, round - 1, 1000);
      if (waiting.async && (await waiting.value) === 'timed-out') timedOut++;
    }
    roundTrips.push(process.hrtime.bigint() - started);
  }
  clearInterval(keepAlive);
  await worker.terminate();
  roundTrips.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    rounds,
    timedOut,
    p50Us: microseconds(percentile(roundTrips, 0.5)),
    p99Us: microseconds(percentile(roundTrips, 0.99)),
  };
}

/** Whether a pending Atomics.waitAsync keeps an otherwise idle process alive (spec: it does not). */
function waitAsyncKeepsAlive() {
  const child = spawnSync(
    process.execPath,
    ['-e', 'Atomics.waitAsync(new Int32Array(new SharedArrayBuffer(4)), 0, 0);'],
    { timeout: 3000 },
  );
  return child.error !== undefined;
}

/** 4 KiB appends, each made durable, through fs.fdatasync(fd) and FileHandle.datasync(). */
async function datasyncTimes(appends) {
  const directory = mkdtempSync(join(process.cwd(), '.node-behaviour-'));
  const block = Buffer.alloc(4096, 0x61);
  try {
    const descriptor = openSync(join(directory, 'fd.log'), 'a');
    const viaDescriptor = [];
    for (let index = 0; index < appends; index++) {
      writeSync(descriptor, block);
      const started = process.hrtime.bigint();
      await new Promise((resolve, reject) =>
        fdatasync(descriptor, (error) => (error ? reject(error) : resolve())),
      );
      viaDescriptor.push(process.hrtime.bigint() - started);
    }
    closeSync(descriptor);
    const handle = await open(join(directory, 'handle.log'), 'a');
    const viaHandle = [];
    for (let index = 0; index < appends; index++) {
      await handle.write(block);
      const started = process.hrtime.bigint();
      await handle.datasync();
      viaHandle.push(process.hrtime.bigint() - started);
    }
    await handle.close();
    let closedError = null;
    await handle.datasync().catch((error) => (closedError = error.code));
    const sorted = (times) => times.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return {
      appends,
      fdatasyncP50Us: microseconds(percentile(sorted(viaDescriptor), 0.5)),
      fileHandleDatasyncP50Us: microseconds(percentile(sorted(viaHandle), 0.5)),
      datasyncOnClosedHandle: closedError,
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Connects to `localhost` with a server on one family only; time and the address reached. */
async function connectLocalhost(host) {
  const server = net.createServer((socket) => socket.destroy());
  const listened = await new Promise((resolve) => {
    server.once('error', (error) => resolve(error.code));
    server.listen({ host, port: 0 }, () => resolve(null));
  });
  if (listened !== null) return { listen: host, error: listened };
  const { port } = server.address();
  const started = process.hrtime.bigint();
  const result = await new Promise((resolve) => {
    const socket = net.connect({ host: 'localhost', port });
    socket.once('connect', () => {
      resolve({ reached: socket.remoteAddress });
      socket.destroy();
    });
    socket.once('error', (error) => resolve({ error: error.code }));
  });
  server.close();
  const ms = Math.round(microseconds(process.hrtime.bigint() - started)) / 1000;
  return { listen: host, ms, ...result };
}

/** A growable SharedArrayBuffer grown by a worker: does the main thread see the new length? */
async function sharedArrayBufferGrowth() {
  let buffer;
  try {
    buffer = new SharedArrayBuffer(1024, { maxByteLength: 64 * 1024 });
  } catch (error) {
    return { growable: false, error: String(error) };
  }
  if (buffer.growable !== true) return { growable: false };
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     workerData.grow(64 * 1024);
     new Uint8Array(workerData)[65535] = 7;
     parentPort.postMessage(workerData.byteLength);`,
    { eval: true, workerData: buffer },
  );
  const workerLength = await new Promise((resolve) => worker.once('message', resolve));
  await worker.terminate();
  return {
    growable: true,
    workerSees: workerLength,
    mainSees: buffer.byteLength,
    lastByte: new Uint8Array(buffer)[65535],
  };
}

/** V8's heap limits: main thread, a worker by default, a worker with the shards' resourceLimits. */
async function heapLimits() {
  const shardOldGenerationMb = Math.max(4096, Math.ceil(totalmem() / MiB));
  const inWorker = async (resourceLimits) => {
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       const v8 = require('node:v8');
       parentPort.postMessage(v8.getHeapStatistics().heap_size_limit);`,
      { eval: true, ...(resourceLimits === null ? {} : { resourceLimits }) },
    );
    const limit = await new Promise((resolve) => worker.once('message', resolve));
    const applied = worker.resourceLimits;
    await worker.terminate();
    return { heapSizeLimitMb: Math.round(limit / MiB), resourceLimits: applied };
  };
  return {
    mainHeapSizeLimitMb: Math.round(getHeapStatistics().heap_size_limit / MiB),
    workerDefault: await inWorker(null),
    workerAsShard: await inWorker({ maxOldGenerationSizeMb: shardOldGenerationMb }),
  };
}

/** Two servers on one port with reusePort (Node 22.12+/23.1+), and without it. */
async function reusePort() {
  const listenOn = (port, options) =>
    new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', (error) => resolve({ server: null, error: error.code }));
      server.listen({ host: '127.0.0.1', port, ...options }, () =>
        resolve({ server, port: server.address().port }),
      );
    });
  const first = await listenOn(0, { reusePort: true });
  const second = await listenOn(first.port, { reusePort: true });
  const third = await listenOn(first.port, {});
  for (const entry of [first, second, third]) entry.server?.close();
  return {
    secondWithReusePort: second.server === null ? second.error : 'listening',
    thirdWithout: third.server === null ? third.error : 'listening',
  };
}

const IDLE_GARBAGE = `
  let kept = [];
  for (let index = 0; index < 600000; index++) kept.push({ index, text: 'x' + index, bytes: Buffer.allocUnsafe(64) });
  kept = null;
  setInterval(() => {}, 100);
  require('node:worker_threads').parentPort?.postMessage('garbage made');`;

/**
 * Child mode: makes ~150 MiB of garbage in the main thread or a worker, then idles (a 100 ms
 * timer, as the broker's samplers) and prints RSS in MiB every 3 s for 24 s.
 */
async function idleGarbageChild(where) {
  const rssMib = () => Math.round(process.memoryUsage.rss() / MiB);
  const samples = { before: rssMib() };
  if (where === 'worker') {
    const worker = new Worker(IDLE_GARBAGE, { eval: true });
    worker.unref();
    await new Promise((resolve) => worker.once('message', resolve));
  } else {
    new Function('require', IDLE_GARBAGE)(
      (await import('node:module')).createRequire(import.meta.url),
    );
  }
  for (let second = 0; second <= 24; second += 3) {
    samples[`${second}s`] = rssMib();
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
  process.stdout.write(JSON.stringify(samples));
  process.exit(0);
}

/** RSS timelines after garbage in an idle main thread and an idle worker (both at once). */
async function idleGarbage() {
  const run = (where) =>
    new Promise((resolve) => {
      let output = '';
      const child = spawn(process.execPath, [process.argv[1], '--idle-garbage', where]);
      child.stdout.on('data', (chunk) => (output += chunk));
      child.on('exit', () => resolve(JSON.parse(output)));
    });
  const [main, worker] = await Promise.all([run('main'), run('worker')]);
  return { mainRssMib: main, workerRssMib: worker };
}

const idleGarbageAt = process.argv.indexOf('--idle-garbage');
if (idleGarbageAt >= 0) await idleGarbageChild(process.argv[idleGarbageAt + 1]);

const report = {
  node: process.version,
  v8: process.versions.v8,
  abi: process.versions.modules,
  waitAsyncPingPong: await waitAsyncPingPong(20_000),
  waitAsyncKeepsProcessAlive: waitAsyncKeepsAlive(),
  datasync: await datasyncTimes(200),
  localhost: {
    lookup: (await lookup('localhost', { all: true })).map((entry) => entry.address),
    autoSelectFamily: net.getDefaultAutoSelectFamily(),
    autoSelectFamilyAttemptTimeoutMs: net.getDefaultAutoSelectFamilyAttemptTimeout?.() ?? null,
    serverOn127: await connectLocalhost('127.0.0.1'),
    serverOnIpv6Loopback: await connectLocalhost('::1'),
  },
  sharedArrayBufferGrowth: await sharedArrayBufferGrowth(),
  heapLimits: await heapLimits(),
  reusePort: await reusePort(),
  idleGarbage: await idleGarbage(),
};

if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  for (const [key, value] of Object.entries(report)) {
    process.stdout.write(
      `- ${key}: ${typeof value === 'object' ? JSON.stringify(value) : value}\n`,
    );
  }
}
