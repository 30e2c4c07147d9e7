// One kill -9 round against a broker process, shared by test/crash/kill9.test.ts and
// scripts/crash-run.mjs: persistent messages published with confirms from several channels and
// transactions of five messages committed on another, SIGKILL at a chosen moment, a restart on
// the same data, and a check of what came back. Confirmed messages must all be there exactly once,
// in publish order per publisher; unconfirmed ones may or may not be, but never twice; a committed
// transaction must be there whole and no transaction in part. Plain JavaScript so the script runs
// without a build step; types in crash-round.d.mts. Test or script process only.

import amqp from 'amqplib';

export const QUEUES = ['crash.a', 'crash.b', 'crash.c', 'crash.d'];
export const TRANSACTION_QUEUE = 'crash.tx';
const PUBLISHERS_PER_QUEUE = 2;
const TRANSACTION_MESSAGES = 5;

/** A small seeded generator (LCG), so a failing round can be replayed from its seed. */
export function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

export function url(port) {
  return `amqp://guest:guest@127.0.0.1:${port}`;
}

/** Declares the durable queues every round uses. */
export async function declareQueues(port) {
  const connection = await amqp.connect(url(port));
  const channel = await connection.createChannel();
  for (const queue of [...QUEUES, TRANSACTION_QUEUE])
    await channel.assertQueue(queue, { durable: true });
  await connection.close();
}

/**
 * Publishes persistent messages `${label}:${seq}` until the connection dies; records what was
 * confirmed and what was only sent.
 */
export async function publishUntilKilled(port, queue, label, confirmed, sent) {
  const connection = await amqp.connect(url(port));
  connection.on('error', () => undefined);
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => undefined);
  let seq = 0;
  await new Promise((resolve) => {
    connection.on('close', () => resolve());
    const pump = () => {
      for (let i = 0; i < 20; i++) {
        const body = `${label}:${seq++}`;
        sent.add(body);
        channel.sendToQueue(queue, Buffer.from(body), { persistent: true }, (error) => {
          if (error === null || error === undefined) confirmed.add(body);
        });
      }
      setImmediate(() => channel.waitForConfirms().then(pump, () => resolve()));
    };
    pump();
  });
}

/** Commits transactions of five messages until the connection dies. */
async function commitUntilKilled(port, committed, attempted, round) {
  const connection = await amqp.connect(url(port));
  connection.on('error', () => undefined);
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  // amqplib has no tx API; its channel speaks any method through _rpc.
  const ids = { select: [0x5a000a, 0x5a000b], commit: [0x5a0014, 0x5a0015] };
  const rpc = (method) =>
    new Promise((resolve, reject) => {
      const [id, ok] = ids[method];
      channel._rpc(id, {}, ok, (error) => (error === null ? resolve() : reject(error)));
    });
  try {
    await rpc('select');
    for (let batch = 0; ; batch++) {
      const bodies = Array.from(
        { length: TRANSACTION_MESSAGES },
        (_, i) => `${round}:tx:${batch}:${i}`,
      );
      attempted.push(bodies);
      for (const body of bodies)
        channel.sendToQueue(TRANSACTION_QUEUE, Buffer.from(body), { persistent: true });
      await rpc('commit');
      committed.push(bodies);
    }
  } catch {
    // The broker died: the last batch may or may not have committed.
  }
}

/** Takes every message from `queue` (no ack), in order. */
export async function drainAll(port, queue) {
  const connection = await amqp.connect(url(port));
  const channel = await connection.createChannel();
  const messages = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) break;
    messages.push(message);
  }
  await connection.close();
  return messages;
}

async function drainBodies(port, queue) {
  return (await drainAll(port, queue)).map((message) => message.content.toString());
}

/**
 * One round: load on `port`, `kill()` after `delayMs`, `restart()` (which resolves to the new
 * port), then drain every queue and judge. Leaves the queues empty for the next round.
 */
export async function crashRound({ port, round, delayMs, kill, restart }) {
  const confirmed = new Set();
  const sent = new Set();
  const committed = [];
  const attempted = [];
  const publishing = QUEUES.flatMap((queue) =>
    Array.from({ length: PUBLISHERS_PER_QUEUE }, (_, i) =>
      publishUntilKilled(port, queue, `${round}:${queue}/${i}`, confirmed, sent),
    ),
  );
  const transactions = commitUntilKilled(port, committed, attempted, round);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  await kill();
  await Promise.all([...publishing, transactions]);

  const newPort = await restart();
  const found = new Set();
  const duplicated = [];
  const neverSent = [];
  const outOfOrder = [];
  for (const queue of QUEUES) {
    const lastSeqByPublisher = new Map();
    for (const body of await drainBodies(newPort, queue)) {
      if (found.has(body)) duplicated.push(body);
      found.add(body);
      if (!sent.has(body)) neverSent.push(body);
      const [, publisher, seq] = body.split(':');
      if (Number(seq) <= (lastSeqByPublisher.get(publisher) ?? -1)) outOfOrder.push(body);
      lastSeqByPublisher.set(publisher, Number(seq));
    }
  }
  const lost = [...confirmed].filter((body) => !found.has(body));

  const transactionBodies = new Set();
  for (const body of await drainBodies(newPort, TRANSACTION_QUEUE)) {
    if (transactionBodies.has(body)) duplicated.push(body);
    transactionBodies.add(body);
  }
  const committedLost = committed.flat().filter((body) => !transactionBodies.has(body));
  const torn = attempted
    .filter((batch) => {
      const present = batch.filter((body) => transactionBodies.has(body)).length;
      return present !== 0 && present !== batch.length;
    })
    .map((batch) => batch[0]);
  return {
    port: newPort,
    sent: sent.size,
    confirmed: confirmed.size,
    recovered: found.size,
    committed: committed.length,
    attempted: attempted.length,
    lost,
    duplicated,
    neverSent,
    outOfOrder,
    committedLost,
    torn,
  };
}
