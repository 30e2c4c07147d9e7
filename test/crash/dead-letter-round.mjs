// One kill -9 round for dead-lettering, shared by test/crash/dead-letter-kill9.test.ts and
// scripts/crash-run.mjs: persistent messages published with confirms expire (x-message-ttl) from
// a durable queue into a durable dead-letter queue while the broker is killed, then the broker
// restarts on the same data and the dead letters are counted. Dead-lettering is at most once, as
// in RabbitMQ's classic queues: a message dying at the moment of the crash may be lost, never
// duplicated. Plain JavaScript; types in dead-letter-round.d.mts. Test or script process only.

import amqp from 'amqplib';
import { drainAll, publishUntilKilled, url } from './crash-round.mjs';

export const SOURCE_QUEUE = 'dlc.src';
export const DEAD_LETTER_QUEUE = 'dlc.dead';
export const TTL_MS = 30;

/** Declares the source queue (with its TTL and dead-letter target) and the dead-letter queue. */
export async function declareDeadLetterQueues(port) {
  const connection = await amqp.connect(url(port));
  const channel = await connection.createChannel();
  await channel.assertQueue(DEAD_LETTER_QUEUE, { durable: true });
  await channel.assertQueue(SOURCE_QUEUE, {
    durable: true,
    arguments: {
      'x-message-ttl': TTL_MS,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': DEAD_LETTER_QUEUE,
    },
  });
  await connection.close();
}

/**
 * One round: publish on `port`, `kill()` after `delayMs`, `restart()` (resolving to the new
 * port), wait for what was left in the source to expire, then drain both queues and judge.
 */
export async function deadLetterRound({ port, round, delayMs, kill, restart }) {
  const confirmed = new Set();
  const sent = new Set();
  const publishing = publishUntilKilled(port, SOURCE_QUEUE, `${round}`, confirmed, sent);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  await kill();
  await publishing;

  const newPort = await restart();
  // Whatever was left in the source has expired by now and is dead-lettered at start.
  await new Promise((resolve) => setTimeout(resolve, TTL_MS * 5));
  const sourceLeft = (await drainAll(newPort, SOURCE_QUEUE)).length;
  const found = new Set();
  const duplicated = [];
  const neverSent = [];
  const wrongDeath = [];
  for (const message of await drainAll(newPort, DEAD_LETTER_QUEUE)) {
    const body = message.content.toString();
    if (found.has(body)) duplicated.push(body);
    found.add(body);
    if (!sent.has(body)) neverSent.push(body);
    const death = message.properties.headers?.['x-death']?.[0];
    if (death?.reason !== 'expired' || death.queue !== SOURCE_QUEUE || death.count !== 1)
      wrongDeath.push(body);
  }
  return {
    port: newPort,
    sent: sent.size,
    confirmed: confirmed.size,
    deadLettered: found.size,
    sourceLeft,
    lost: [...confirmed].filter((body) => !found.has(body)),
    duplicated,
    neverSent,
    wrongDeath,
  };
}
