// End-to-end: policies (from the definitions file, and set at run time through the broker as
// the management API will) apply queue settings by name pattern: the lower of policy and argument
// for TTLs and length limits, the argument for the rest, applied to existing queues at once, and
// kept across a restart. RabbitMQ's behaviour for the same keys.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, startTestBroker, temporaryDataDir, type TestBroker } from '../helpers/broker.js';
import { EXTERNAL_PORT, getEventually } from '../helpers/e2e.js';

type Headers = Record<string, unknown>;

async function drain(channel: amqp.Channel, queue: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) return bodies;
    bodies.push(message.content.toString());
  }
}

describe.skipIf(EXTERNAL_PORT !== null)('policies', () => {
  let broker: TestBroker | null = null;
  let dataDir = '';
  let definitionsDir = '';
  afterEach(async () => {
    await broker?.close();
    broker = null;
    rmSync(dataDir, { recursive: true, force: true });
    if (definitionsDir !== '') rmSync(definitionsDir, { recursive: true, force: true });
  });

  it(
    'applies a definitions-file policy: TTL and dead-lettering, lower length limit wins',
    { timeout: 30_000 },
    async () => {
      definitionsDir = mkdtempSync(join(tmpdir(), 'warren-e2e-policies-'));
      const definitionsFile = join(definitionsDir, 'definitions.json');
      writeFileSync(
        definitionsFile,
        JSON.stringify({
          users: [{ name: 'guest', password: 'guest', tags: ['administrator'] }],
          vhosts: [{ name: '/' }],
          permissions: [{ user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' }],
          policies: [
            {
              vhost: '/',
              name: 'short-lived',
              pattern: '^pol\\.ttl',
              'apply-to': 'queues',
              priority: 1,
              definition: {
                'message-ttl': 100,
                'dead-letter-exchange': '',
                'dead-letter-routing-key': 'pol.dead',
              },
            },
            {
              vhost: '/',
              name: 'alternate',
              pattern: '^pol-x\\.',
              'apply-to': 'exchanges',
              priority: 0,
              definition: { 'alternate-exchange': 'amq.fanout' },
            },
            {
              vhost: '/',
              name: 'capped',
              pattern: '^pol\\.',
              'apply-to': 'all',
              priority: 0,
              definition: { 'max-length': 2 },
            },
          ],
        }),
      );
      dataDir = temporaryDataDir();
      broker = await startTestBroker({ shardCount: 2, dataDir, definitionsFile });
      const connection = await amqp.connect(broker.url);
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue('pol.dead', { durable: false });
      await channel.assertQueue('pol.ttl.q', { durable: false });
      channel.sendToQueue('pol.ttl.q', Buffer.from('expires'));
      await channel.waitForConfirms();
      const dead = await getEventually(channel, 'pol.dead', { noAck: true });
      expect(dead.content.toString()).toBe('expires');
      expect(((dead.properties.headers as Headers)['x-death'] as Headers[])[0]).toMatchObject({
        reason: 'expired',
        queue: 'pol.ttl.q',
      });
      // The lower of policy (2) and argument (5) applies; the argument is what redeclares compare.
      await channel.assertQueue('pol.capped', { durable: false, arguments: { 'x-max-length': 5 } });
      for (const body of ['a', 'b', 'c', 'd']) channel.sendToQueue('pol.capped', Buffer.from(body));
      await channel.waitForConfirms();
      expect(await drain(channel, 'pol.capped')).toEqual(['c', 'd']);
      await channel.assertQueue('pol.capped', { durable: false, arguments: { 'x-max-length': 5 } });
      // An exchange policy: alternate-exchange for exchanges matching ^pol-x\.
      await channel.assertExchange('pol-x.direct', 'direct', { durable: false });
      await channel.assertQueue('pol.alternate', { durable: false });
      await channel.bindQueue('pol.alternate', 'amq.fanout', '');
      channel.publish('pol-x.direct', 'nowhere', Buffer.from('unroutable'));
      await channel.waitForConfirms();
      expect(await drain(channel, 'pol.alternate')).toEqual(['unroutable']);
      await connection.close();
    },
  );

  it(
    'applies a policy set at run time to existing queues and keeps it across a restart',
    { timeout: 30_000 },
    async () => {
      dataDir = temporaryDataDir();
      broker = await startTestBroker({ shardCount: 2, dataDir });
      let connection = await amqp.connect(broker.url);
      let channel = await connection.createConfirmChannel();
      await channel.assertQueue('live.q', { durable: true });
      for (const body of ['a', 'b', 'c', 'd'])
        channel.sendToQueue('live.q', Buffer.from(body), { persistent: true });
      await channel.waitForConfirms();
      const error = broker.broker.setPolicy({
        vhost: '/',
        name: 'trim',
        pattern: '^live\\.',
        applyTo: 'queues',
        priority: 0,
        definition: { 'max-length': 3 },
      });
      expect(error).toBeNull();
      expect(
        broker.broker.setPolicy({
          vhost: '/',
          name: 'bad',
          pattern: '.*',
          applyTo: 'queues',
          priority: 0,
          definition: { 'max-length': -1 },
        }),
      ).toBe('max-length must be a non-negative integer');
      await sleep(50);
      expect((await channel.checkQueue('live.q')).messageCount).toBe(3);
      await connection.close();
      await broker.close();

      broker = await startTestBroker({ shardCount: 2, dataDir });
      connection = await amqp.connect(broker.url);
      channel = await connection.createConfirmChannel();
      for (const body of ['e', 'f']) channel.sendToQueue('live.q', Buffer.from(body));
      await channel.waitForConfirms();
      expect(await drain(channel, 'live.q')).toEqual(['d', 'e', 'f']);
      broker.broker.deletePolicy('/', 'trim');
      for (const body of ['g', 'h', 'i', 'j']) channel.sendToQueue('live.q', Buffer.from(body));
      await channel.waitForConfirms();
      expect((await channel.checkQueue('live.q')).messageCount).toBe(4);
      await connection.close();
    },
  );
});
