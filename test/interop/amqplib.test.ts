// amqplib against Warren on the behaviours where its own test suite once saw Warren differ
// from RabbitMQ.

import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { uniqueName, useBroker, useClients, within } from '../helpers/e2e.js';

describe('amqplib', () => {
  const broker = useBroker(1);
  const clients = useClients(broker);

  // Regression test. The bug was: deleting a queue with a consumer sent the server's
  // basic.cancel at once and queue.delete-ok only after the delete was durable, in a later
  // write; amqplib's "cancelled consumer" test closes the connection when the cancel arrives,
  // so its deleteQueue() rejected with "Channel ended, no reply will be forthcoming" (17 of 20
  // tries). Now both leave together.
  it(
    'a consumer cancelled by queue.delete: deleteQueue() still resolves when the cancel closes the connection (20 tries)',
    { timeout: 60_000 },
    async () => {
      const failures: string[] = [];
      for (let attempt = 0; attempt < 20; attempt++) {
        const connection = await amqp.connect(clients.url());
        connection.on('error', () => undefined);
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        const queue = uniqueName('interop.cancelled');
        await channel.assertQueue(queue, { durable: true });
        const cancelled = new Promise<void>((resolve) => {
          void channel.consume(queue, (message) => {
            if (message !== null) return;
            // As amqplib's test does: the cancel ends the test, and the connection with it.
            void connection.close().catch(() => undefined);
            resolve();
          });
        });
        await channel.checkQueue(queue);
        const deleted = channel.deleteQueue(queue).then(
          () => 'resolved',
          (error: Error) => error.message,
        );
        await within(cancelled, 5000, 'the server basic.cancel');
        const outcome = await within(deleted, 5000, 'deleteQueue');
        if (outcome !== 'resolved') failures.push(outcome);
      }
      expect(failures).toEqual([]);
    },
  );

  // Regression test. The bug was: Warren named every integer argument's type 'long' in its 406
  // texts; RabbitMQ names the type the client sent, and amqplib sends the smallest that fits.
  it(
    'an inequivalent integer argument is named with the type amqplib sent',
    { timeout: 15_000 },
    async () => {
      const connection = await clients.amqplib();
      const texts: string[] = [];
      for (const [first, second] of [
        [10, 20],
        [1000, 2000],
        [100_000, 200_000],
        [2 ** 40, 2 ** 41],
      ] as const) {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        const queue = uniqueName('interop.types');
        await channel.assertQueue(queue, { exclusive: true, arguments: { 'x-max-length': first } });
        const error = await channel
          .assertQueue(queue, { exclusive: true, arguments: { 'x-max-length': second } })
          .then(
            () => null,
            (failure: Error) => failure,
          );
        texts.push(
          error?.message
            .replace(/^.*PRECONDITION_FAILED - /, '')
            .replace(/queue '[^']+'/, "queue 'q'") ?? 'accepted',
        );
      }
      const text = (type: string, received: number, current: number) =>
        `inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received the value '${received}' of type '${type}' but current is the value '${current}' of type '${type}'"`;
      expect(texts).toEqual([
        text('byte', 20, 10),
        text('short', 2000, 1000),
        text('signedint', 200_000, 100_000),
        text('long', 2 ** 41, 2 ** 40),
      ]);
    },
  );
});

describe('amqplib over IPv6', () => {
  // Regression test. The bug was: Warren listened on 0.0.0.0 only, so amqp://[::1] (amqplib's own
  // "ipv6" test) and hosts whose localhost resolves to ::1 first were refused. Listening on every
  // address means both families, as RabbitMQ does.
  const broker = useBroker(1, { bind: '::' });
  const clients = useClients(broker);

  it('connects over ::1 and 127.0.0.1 to a broker listening on every address', async () => {
    for (const host of ['[::1]', '127.0.0.1']) {
      const connection = await amqp.connect(`amqp://guest:guest@${host}:${broker().port}`);
      const channel = await connection.createChannel();
      const { queue } = await channel.assertQueue('', { exclusive: true });
      expect(queue).toMatch(/^amq\.gen-/);
      await connection.close();
    }
    expect(clients).toBeDefined();
  }, 15_000);
});
