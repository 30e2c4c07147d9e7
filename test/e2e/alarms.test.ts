// End-to-end: resource alarms as RabbitMQ has them. A memory or disk alarm sends
// connection.blocked (with RabbitMQ's reason text) to clients that announced the capability,
// stops reading connections that publish, keeps consumers draining, and on clearing sends
// connection.unblocked and takes the held publishes. Limits change at run time, as with
// rabbitmqctl set_disk_free_limit / set_vm_memory_high_watermark.

import { describe, expect, it } from 'vitest';
import { sleep } from '../helpers/broker.js';
import {
  amqplibChannel,
  amqplibConfirmChannel,
  nextEvent,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';

const T = TEST_TIMEOUT_MS;

function shortString(args: Buffer): string {
  return args.toString('utf8', 1, 1 + args[0]!);
}
const NO_DISK_LIMIT = 0;
const DEFAULT_WATERMARK = 0.4;

describe('resource alarms', () => {
  const broker = useBroker(1);
  const clients = useClients(broker);

  async function clearAlarms(): Promise<void> {
    await broker().broker.setAlarmLimits({
      diskFreeLimitBytes: NO_DISK_LIMIT,
      memoryHighWatermark: DEFAULT_WATERMARK,
    });
  }

  it(
    'a disk alarm blocks publishers, not consumers, and clearing it lets the held publishes in',
    async () => {
      const publisherConnection = await clients.amqplib();
      const consumerConnection = await clients.amqplib();
      const publisher = await amqplibConfirmChannel(publisherConnection);
      const consumer = await amqplibChannel(consumerConnection);
      const queue = uniqueName('alarm.disk');
      await consumer.assertQueue(queue, { exclusive: false });
      publisher.sendToQueue(queue, Buffer.from('before'));
      await publisher.waitForConfirms();

      const blocked = nextEvent<string>(publisherConnection, 'blocked');
      const consumerBlocked = nextEvent<string>(consumerConnection, 'blocked');
      await broker().broker.setAlarmLimits({ diskFreeLimitBytes: Number.MAX_SAFE_INTEGER });
      expect(await blocked).toBe('low on disk');
      // Every client with the capability hears it; only publishing stops being read.
      expect(await consumerBlocked).toBe('low on disk');
      expect([...broker().broker.activeAlarms]).toEqual(['disk']);

      // The first publish is read (it is what blocks the connection); later ones wait unread.
      publisher.sendToQueue(queue, Buffer.from('trigger'));
      await sleep(200);
      for (let i = 0; i < 50; i++) publisher.sendToQueue(queue, Buffer.from(`held ${i}`));
      await sleep(300);
      const duringAlarm = await consumer.checkQueue(queue);
      expect(duringAlarm.messageCount).toBeLessThanOrEqual(2);
      // Consumers keep draining during the alarm.
      const got = await consumer.get(queue, { noAck: true });
      expect(got !== false && got.content.toString()).toBe('before');

      const unblocked = nextEvent(publisherConnection, 'unblocked');
      await clearAlarms();
      await unblocked;
      await publisher.waitForConfirms();
      const after = await consumer.checkQueue(queue);
      // before + trigger + 50 held, less the one consumed.
      expect(after.messageCount).toBe(51);
      expect(broker().broker.activeAlarms.size).toBe(0);
    },
    T,
  );

  it(
    'a memory alarm says "low on memory"; a connection opened during an alarm hears it at once',
    async () => {
      await broker().broker.setAlarmLimits({ memoryHighWatermark: 2 });
      try {
        // Raw, so nothing can miss a blocked that arrives right behind open-ok.
        const raw = await clients.raw();
        await raw.handshake({ capabilities: { 'connection.blocked': true } });
        const blockedFrame = await raw.expectMethodFrame(0, 10, 60);
        expect(shortString(blockedFrame.args)).toBe('low on memory');
        // A client without the capability is not sent the method.
        const deaf = await clients.raw();
        await deaf.handshake({ capabilities: {} });
        await deaf.openChannel(1);
        await broker().broker.setAlarmLimits({ diskFreeLimitBytes: Number.MAX_SAFE_INTEGER });
        expect(broker().broker.alarmReasonText).toBe('low on memory & low on disk');
      } finally {
        await clearAlarms();
      }
    },
    T,
  );

  it(
    'the server advertises the connection.blocked capability',
    async () => {
      const connection = await clients.amqplib();
      const properties = (
        connection.connection as unknown as {
          serverProperties: { capabilities: Record<string, boolean> };
        }
      ).serverProperties;
      expect(properties.capabilities['connection.blocked']).toBe(true);
    },
    T,
  );
});
