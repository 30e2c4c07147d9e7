// Many misbehaving connections at once: bad protocol headers, garbage before and after the
// handshake, oversized frames, truncated methods, byte-by-byte garbage and abrupt disconnects
// mid-frame, all while a well-behaved amqplib client publishes and consumes with confirms. The
// good client must see every message, no bad connection may get served, and the broker must
// forget every bad connection afterwards.
//
// The storm loads the machine on purpose, so no step waits a fixed time guessed from the speed
// of a quiet one (2 s per read failed it on a busy 2-core machine): every wait lasts until the
// server acts or the test's own budget runs out, and what the test sees depends only on the bytes.

import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAME_BODY, FRAME_METHOD, PROTOCOL_HEADER } from '../../src/codec/index.js';
import { startTestBroker, useCheapPasswordHash, type TestBroker } from '../helpers/broker.js';
import { pollUntil } from '../helpers/poll.js';
import { methodPayload, RawClient, SocketClosedError } from '../helpers/raw-client.js';
import { WellBehavedClient } from './probe.js';

const BAD_CONNECTIONS = 400;
const GOOD_MESSAGES = 2000;
/** How long the storm may take, and then the broker to forget it; the test's timeout is both. */
const STORM_BUDGET_MS = 60_000;
const SETTLE_BUDGET_MS = 20_000;

/** How long this thread stops mid-storm, as a machine busy with other work can stop it. */
const STALL_MS = 2500;

function remainingMs(deadlineMs: number): number {
  return Math.max(0, deadlineMs - Date.now());
}

/**
 * Blocks this thread (the broker's and the clients') for `ms`. When it runs again, expired
 * timers fire before the socket reads that arrived meanwhile, so a read with a fixed timeout
 * shorter than the stall fails although the server answered in time.
 */
function stallThread(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** xorshift32 bytes: the same garbage on every run. */
function pseudoRandomBytes(seed: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

type Outcome =
  'header-returned' | 'closed-by-server' | 'connection.close' | 'still-open' | 'dropped-by-us';

/**
 * One bad connection; returns what the server did about it. Reads wait until `deadlineMs`: a
 * connection the server has not closed by then is 'still-open'.
 */
async function misbehave(port: number, index: number, deadlineMs: number): Promise<Outcome> {
  const client = await RawClient.connect(port, '127.0.0.1', remainingMs(deadlineMs));
  client.readTimeoutMs = remainingMs(deadlineMs);
  const garbage = pseudoRandomBytes(index + 1, 300);
  try {
    switch (index % 8) {
      case 0: {
        client.write(garbage.subarray(0, 8));
        let reply: Buffer;
        try {
          reply = await client.readUntilClose(remainingMs(deadlineMs));
        } catch {
          return 'still-open';
        }
        return reply.equals(PROTOCOL_HEADER) ? 'header-returned' : 'still-open';
      }
      case 1: {
        // Garbage where connection.start-ok should be.
        await client.start();
        client.write(garbage);
        return await closeOutcome(client);
      }
      case 2: {
        await client.handshake();
        client.write(garbage);
        return await closeOutcome(client);
      }
      case 3: {
        await client.handshake();
        client.write(Buffer.from([FRAME_METHOD, 0, 1, 0x7f, 0xff, 0xff, 0xff]));
        return await closeOutcome(client);
      }
      case 4: {
        await client.handshake();
        await client.openChannel(1);
        const payload = methodPayload({
          method: 'queue.declare',
          queue: `storm.${index}`,
          passive: false,
          durable: false,
          exclusive: false,
          autoDelete: false,
          noWait: false,
          arguments: { 'x-max-length': 5 },
        });
        client.sendFrame(FRAME_METHOD, 1, payload.subarray(0, 4 + (index % (payload.length - 4))));
        return await closeOutcome(client);
      }
      case 5: {
        await client.handshake();
        for (const byte of garbage.subarray(0, 40)) {
          if (client.isClosed) break;
          client.write(Buffer.from([byte]));
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        return await closeOutcome(client);
      }
      case 6: {
        // A publish cut off mid-body frame, then the socket vanishes.
        await client.handshake();
        await client.openChannel(1);
        client.sendMethod(1, {
          method: 'basic.publish',
          exchange: 'amq.fanout',
          routingKey: '',
          mandatory: false,
          immediate: false,
        });
        client.sendContentHeader(1, 10_000);
        const bodyFrame = Buffer.alloc(10_008, 0x41);
        bodyFrame[0] = FRAME_BODY;
        bodyFrame.writeUInt16BE(1, 1);
        bodyFrame.writeUInt32BE(10_000, 3);
        client.write(bodyFrame.subarray(0, 5000));
        await new Promise((resolve) => setTimeout(resolve, 20));
        return 'dropped-by-us';
      }
      default: {
        // Half a protocol header, then gone.
        client.write(PROTOCOL_HEADER.subarray(0, 3));
        await new Promise((resolve) => setTimeout(resolve, 20));
        return 'dropped-by-us';
      }
    }
  } finally {
    client.destroy();
  }
}

/** Waits for the server's connection.close or its dropping the socket. */
async function closeOutcome(client: RawClient): Promise<Outcome> {
  try {
    const close = await client.expectConnectionClose();
    if (close.replyCode < 500)
      throw new Error(`soft reply code ${close.replyCode} on connection.close`);
    return 'connection.close';
  } catch (error) {
    if (error instanceof SocketClosedError) return 'closed-by-server';
    if (error instanceof Error && error.message.startsWith('timed out')) return 'still-open';
    throw error;
  }
}

describe('raw: a storm of bad connections', () => {
  let broker: TestBroker;
  let probe: WellBehavedClient;

  beforeAll(async () => {
    broker = await startTestBroker({ shardCount: 2 });
    // Hundreds of logins at once: scrypt's cost is not what this test is about.
    useCheapPasswordHash(broker);
    probe = await WellBehavedClient.open(broker.url);
  });
  afterAll(async () => {
    await probe?.close();
    await broker?.close();
  });

  it(
    'keeps serving a good client while many connections send garbage at once',
    { timeout: STORM_BUDGET_MS + SETTLE_BUDGET_MS + 10_000 },
    async () => {
      const connection = await amqp.connect(broker.url);
      const channel = await connection.createConfirmChannel();
      const { queue } = await channel.assertQueue('', { exclusive: true });
      await channel.bindQueue(queue, 'amq.fanout', '');
      const received: number[] = [];
      await channel.consume(queue, (message) => {
        if (message === null) return;
        received.push(Number(message.content.toString()));
        channel.ack(message);
      });

      const stormDeadlineMs = Date.now() + STORM_BUDGET_MS;
      const storm = Array.from({ length: BAD_CONNECTIONS }, (_, index) =>
        misbehave(broker.port, index, stormDeadlineMs),
      );
      // Mid-handshake for most bad connections.
      const stall = setTimeout(() => stallThread(STALL_MS), 50);
      const goodWork = (async () => {
        for (let sent = 0; sent < GOOD_MESSAGES; sent += 100) {
          for (let n = sent; n < sent + 100; n++) {
            channel.publish('amq.fanout', '', Buffer.from(String(n)));
          }
          await channel.waitForConfirms();
          await probe.check();
        }
      })();
      const [outcomes] = await Promise.all([Promise.all(storm), goodWork]).finally(() =>
        clearTimeout(stall),
      );

      const settleDeadlineMs = Date.now() + SETTLE_BUDGET_MS;
      expect(
        await pollUntil(() => received.length === GOOD_MESSAGES, Boolean, {
          timeoutMs: remainingMs(settleDeadlineMs),
        }),
      ).toBe(true);
      expect(received).toEqual(Array.from({ length: GOOD_MESSAGES }, (_, n) => n));
      const wrongHeaders = outcomes.filter((_, index) => index % 8 === 0);
      expect(new Set(wrongHeaders)).toEqual(new Set(['header-returned']));
      // No bad connection was left hanging by the server.
      const stillOpen = outcomes.flatMap((outcome, index) =>
        outcome === 'still-open' ? [index] : [],
      );
      expect(stillOpen).toEqual([]);
      // The broker forgets them all: only the probe and the good connection remain.
      expect(
        await pollUntil(() => broker.broker.connections.size === 2, Boolean, {
          timeoutMs: remainingMs(settleDeadlineMs),
        }),
      ).toBe(true);
      await probe.check();
      await connection.close();
    },
  );
});
