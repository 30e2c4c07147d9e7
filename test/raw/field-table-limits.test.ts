// Raw protocol tests for field tables at their limits: nesting and size. RabbitMQ's parser
// (rabbit_binary_parser) recurses without a depth limit, bounded only by frame_max; Warren's
// decoder recurses too, so it stops at FIELD_TABLE_DEPTH_MAX (64) levels, far beyond what any
// client sends (x-death, the deepest RabbitMQ itself writes, is 3). Deeper tables are refused as
// undecodable with connection.close 501 FRAME_ERROR (rabbit_misc:frame_error), in method
// arguments and in message headers alike; a table nested to fill a whole frame must not blow the
// stack; size is bounded by frame_max. Other connections keep working after each case.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FIELD_TABLE_DEPTH_MAX, FRAME_HEADER, FRAME_METHOD } from '../../src/codec/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { buildFrame, RawClient, rawMethodPayload } from '../helpers/raw-client.js';
import { WellBehavedClient } from './probe.js';

/**
 * A field table holding `depth` tables inside one another (key "a", tag F), as bytes with its
 * length prefix: depth 0 is the empty table.
 */
function nestedTable(depth: number): Buffer {
  let table = Buffer.alloc(4);
  for (let level = 0; level < depth; level++) {
    const outer = Buffer.allocUnsafe(4 + 3 + table.length);
    outer.writeUInt32BE(3 + table.length, 0);
    outer[4] = 1;
    outer[5] = 0x61; // "a"
    outer[6] = 0x46; // F
    table.copy(outer, 7);
    table = outer;
  }
  return table;
}

/** queue.declare (50/10) of `queue` with raw argument-table bytes. */
function queueDeclarePayload(queue: string, argumentsTable: Buffer): Buffer {
  const name = Buffer.from(queue);
  const args = Buffer.concat([
    Buffer.from([0, 0, name.length]),
    name,
    Buffer.from([0b0000_1000]), // auto-delete
    argumentsTable,
  ]);
  return rawMethodPayload(50, 10, args);
}

/** A content header with only the headers property (flag 0x2000) set to `headers`. */
function headersOnlyContentHeader(bodySize: number, headers: Buffer): Buffer {
  const payload = Buffer.alloc(14 + headers.length);
  payload.writeUInt16BE(60, 0);
  payload.writeBigUInt64BE(BigInt(bodySize), 4);
  payload.writeUInt16BE(0x2000, 12);
  headers.copy(payload, 14);
  return buildFrame(FRAME_HEADER, 1, payload);
}

describe('raw: field table limits', () => {
  let broker: TestBroker;
  let probe: WellBehavedClient;
  const clients: RawClient[] = [];

  async function openClient(frameMax = 131072): Promise<RawClient> {
    const client = await RawClient.connect(broker.port);
    clients.push(client);
    await client.handshake({ frameMax });
    await client.openChannel(1);
    return client;
  }

  beforeAll(async () => {
    broker = await startTestBroker({ shardCount: 2 });
    probe = await WellBehavedClient.open(broker.url);
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await probe.check();
  });
  afterAll(async () => {
    await probe?.close();
    await broker?.close();
  });

  it('accepts method arguments nested exactly 64 deep', { timeout: 5000 }, async () => {
    expect.hasAssertions();
    expect(FIELD_TABLE_DEPTH_MAX).toBe(64);
    const client = await openClient();
    client.sendFrame(
      FRAME_METHOD,
      1,
      queueDeclarePayload('raw.depth.ok', nestedTable(FIELD_TABLE_DEPTH_MAX)),
    );
    expect((await client.readMethod()).method).toMatchObject({
      method: 'queue.declare-ok',
      queue: 'raw.depth.ok',
    });
  });

  it(
    'closes the connection with 501 on method arguments nested 65 deep',
    { timeout: 5000 },
    async () => {
      expect.hasAssertions();
      const client = await openClient();
      client.sendFrame(
        FRAME_METHOD,
        1,
        queueDeclarePayload('raw.depth.deep', nestedTable(FIELD_TABLE_DEPTH_MAX + 1)),
      );
      const close = await client.expectConnectionClose();
      expect(close).toMatchObject({ replyCode: 501, classId: 50, methodId: 10 });
      expect(close.replyText).toMatch(
        /^FRAME_ERROR - cannot decode .*nested deeper than 64 levels/,
      );
    },
  );

  it(
    'refuses a table nested to fill a whole frame (about 18,000 levels) without blowing the stack',
    { timeout: 5000 },
    async () => {
      expect.hasAssertions();
      const client = await openClient();
      // 7 bytes a level: as deep as a 128 KiB frame allows.
      const depth = Math.floor((131072 - 8 - 64) / 7);
      const payload = queueDeclarePayload('raw.depth.huge', nestedTable(depth));
      expect(payload.length).toBeLessThanOrEqual(131072 - 8);
      client.sendFrame(FRAME_METHOD, 1, payload);
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBe(501);
      expect(close.replyText).toContain('nested deeper than 64 levels');
    },
  );

  it(
    'closes the connection with 501 on message headers nested 65 deep, enqueueing nothing',
    { timeout: 5000 },
    async () => {
      expect.hasAssertions();
      const admin = await openClient();
      admin.sendFrame(FRAME_METHOD, 1, queueDeclarePayload('raw.depth.headers', nestedTable(0)));
      await admin.expectMethod('queue.declare-ok');
      const client = await openClient();
      for (const [depth, isAccepted] of [
        [FIELD_TABLE_DEPTH_MAX, true],
        [FIELD_TABLE_DEPTH_MAX + 1, false],
      ] as const) {
        client.sendMethod(1, {
          method: 'basic.publish',
          exchange: '',
          routingKey: 'raw.depth.headers',
          mandatory: false,
          immediate: false,
        });
        client.write(headersOnlyContentHeader(2, nestedTable(depth)));
        client.sendBody(1, Buffer.from('hi'));
        if (isAccepted) continue;
        const close = await client.expectConnectionClose();
        expect(close.replyCode).toBe(501);
        expect(close.replyText).toContain('nested deeper than 64 levels');
      }
      // The 64-deep message arrived intact; the 65-deep one is nowhere.
      admin.sendMethod(1, { method: 'basic.get', queue: 'raw.depth.headers', noAck: true });
      expect((await admin.readMethod()).method).toMatchObject({
        method: 'basic.get-ok',
        messageCount: 0,
      });
      const content = await admin.readContent();
      expect(content.body.toString()).toBe('hi');
      admin.sendMethod(1, { method: 'basic.get', queue: 'raw.depth.headers', noAck: true });
      expect((await admin.readMethod()).method.method).toBe('basic.get-empty');
    },
  );

  it(
    'bounds a table by frame_max: a header frame past it is refused from its size alone',
    { timeout: 5000 },
    async () => {
      expect.hasAssertions();
      const client = await openClient(4096);
      // A 4 KiB header table cannot fit a 4096-byte frame.
      const key = Buffer.from([3, 0x6b, 0x65, 0x79, 0x53]);
      const value = Buffer.alloc(4096, 0x78);
      const headers = Buffer.concat([Buffer.alloc(4), key, Buffer.alloc(4), value]);
      headers.writeUInt32BE(headers.length - 4, 0);
      headers.writeUInt32BE(value.length, 4 + key.length);
      client.sendMethod(1, {
        method: 'basic.publish',
        exchange: '',
        routingKey: 'nowhere',
        mandatory: false,
        immediate: false,
      });
      client.write(headersOnlyContentHeader(0, headers));
      const close = await client.expectConnectionClose();
      expect(close.replyCode).toBe(501);
      expect(close.replyText).toContain('frame_too_large');
    },
  );
});
