import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

describe('smoke: amqplib publish, confirm, consume', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({ shardCount: 2 });
  });
  afterAll(async () => {
    await broker.close();
  });

  it('round-trips messages through a topic exchange with confirms', async () => {
    const connection = await amqp.connect(broker.url);
    const channel = await connection.createConfirmChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.assertExchange('smoke.topic', 'topic', { durable: false });
    await channel.bindQueue(queue, 'smoke.topic', 'a.*');
    for (let i = 0; i < 10; i++) {
      channel.publish('smoke.topic', 'a.b', Buffer.from(`m${i}`), { headers: { n: i } });
    }
    await channel.waitForConfirms();
    const bodies: string[] = [];
    await new Promise<void>((resolve) => {
      void channel.consume(queue, (message) => {
        if (message === null) return;
        bodies.push(message.content.toString());
        expect(message.properties.headers).toEqual({ n: bodies.length - 1 });
        channel.ack(message);
        if (bodies.length === 10) resolve();
      });
    });
    expect(bodies).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    await connection.close();
  });
});
