// End-to-end: node limits with RabbitMQ's answers. --max-connections refuses connection.open
// past the limit with 530 (and frees a place when a connection closes); --max-queues-per-vhost
// fails a declare past the limit with 406 and leaves the channel's other work alone.

import { describe, expect, it } from 'vitest';
import {
  amqplibChannel,
  rejectionOf,
  replyCodeOf,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';
import { api } from '../helpers/mgmt.js';

const T = TEST_TIMEOUT_MS;

describe('node limits', () => {
  const broker = useBroker(1, { connectionMax: 2, queueMaxPerVhost: 3 });
  const clients = useClients(broker);

  it(
    'refuses a connection past --max-connections with 530 until one closes',
    async () => {
      const first = await clients.amqplib();
      await clients.amqplib();
      // Raw, to read the close's code and text (amqplib keeps neither in its error).
      const raw = await clients.raw();
      const refused = await rejectionOf(raw.handshake());
      expect(refused.message).toContain('530');
      expect(refused.message).toContain('node connection limit (2) is reached');
      await first.close();
      const third = await clients.amqplib();
      expect(await third.createChannel()).toBeDefined();
    },
    T,
  );

  it(
    'fails a queue.declare past --max-queues-per-vhost with 406; existing queues still declare',
    async () => {
      const connection = await clients.amqplib();
      const channel = await amqplibChannel(connection);
      const names = [uniqueName('limit.a'), uniqueName('limit.b'), uniqueName('limit.c')];
      for (const name of names) await channel.assertQueue(name, { exclusive: true });
      const error = await rejectionOf(
        channel.assertQueue(uniqueName('limit.d'), { exclusive: true }),
      );
      expect(replyCodeOf(error)).toBe(406);
      expect(error.message).toContain('vhost queue limit (3) is reached');
      // Redeclaring an existing queue makes no new one: allowed at the limit.
      const again = await amqplibChannel(connection);
      expect((await again.assertQueue(names[0]!, { exclusive: true })).queue).toBe(names[0]);
    },
    T,
  );

  it(
    'applies the queue limit to declares through the management API too',
    async () => {
      const names = ['limit.http.a', 'limit.http.b', 'limit.http.c'];
      for (const name of names) {
        expect((await api(broker(), 'PUT', `/api/queues/%2F/${name}`, { body: {} })).status).toBe(
          201,
        );
      }
      const refused = await api(broker(), 'PUT', '/api/queues/%2F/limit.http.d', { body: {} });
      expect(refused.status).toBeGreaterThanOrEqual(400);
      expect(JSON.stringify(refused.body)).toContain('vhost queue limit (3) is reached');
      for (const name of names) await api(broker(), 'DELETE', `/api/queues/%2F/${name}`);
    },
    T,
  );
});
