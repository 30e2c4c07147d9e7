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
});
