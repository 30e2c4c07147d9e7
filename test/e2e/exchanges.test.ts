// End-to-end: exchanges. Routing by direct, fanout, topic (`*`, `#`, empty words) and headers
// (all/any, with and without x- keys), the default exchange, the predeclared amq.* exchanges,
// durable/auto-delete/internal flags, alternate exchanges, exchange-to-exchange bindings with
// cycles, and the declare/delete errors. Routing results are read after a publisher confirm, so
// "not routed" is observed without waiting. Reference: docs/rabbitmq-behaviour.md sections 4, 6.

import type { AMQPChannel } from '@cloudamqp/amqp-client';
import type { Message } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { SHARD_COUNTS } from '../helpers/broker.js';
import {
  type AmqplibChannel,
  amqplibChannel,
  type AmqplibConfirmChannel,
  amqplibConfirmChannel,
  amqplibTx,
  nextEvent,
  rejectionOf,
  replyCodeOf,
  takeAllBodies,
  TEST_TIMEOUT_MS,
  uniqueName,
  useBroker,
  useClients,
} from '../helpers/e2e.js';

const T = TEST_TIMEOUT_MS;

async function drainCloud(channel: AMQPChannel, queue: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const message = await channel.basicGet(queue, { noAck: true });
    if (message === null) return bodies;
    bodies.push(message.bodyToString() ?? '');
  }
}

/** Declares exclusive queues named after `labels` and returns label -> queue name. */
async function declareQueues(
  channel: AmqplibChannel,
  labels: string[],
): Promise<Record<string, string>> {
  const names: Record<string, string> = {};
  for (const label of labels) {
    names[label] = (await channel.assertQueue(uniqueName(`q.${label}`), { exclusive: true })).queue;
  }
  return names;
}

/** For each label, the sorted bodies its queue received. */
async function received(
  channel: AmqplibChannel,
  queues: Record<string, string>,
): Promise<Record<string, string[]>> {
  const result: Record<string, string[]> = {};
  for (const [label, queue] of Object.entries(queues))
    result[label] = (await takeAllBodies(channel, queue)).sort();
  return result;
}

describe.each(SHARD_COUNTS)('exchanges (%i shards)', (shardCount) => {
  const broker = useBroker(shardCount);
  const clients = useClients(broker);

  async function confirmChannel(): Promise<AmqplibConfirmChannel> {
    return amqplibConfirmChannel(await clients.amqplib());
  }

  describe('routing', () => {
    it(
      'direct: exact routing-key match, a queue bound twice gets one copy',
      async () => {
        const channel = await confirmChannel();
        const exchange = uniqueName('x.direct');
        await channel.assertExchange(exchange, 'direct', { durable: false });
        const queues = await declareQueues(channel, ['q1', 'q2', 'q3']);
        await channel.bindQueue(queues.q1!, exchange, 'k1');
        await channel.bindQueue(queues.q2!, exchange, 'k1');
        await channel.bindQueue(queues.q2!, exchange, 'k2');
        await channel.bindQueue(queues.q3!, exchange, 'k3');
        await channel.bindQueue(queues.q3!, exchange, 'k3');
        for (const key of ['k1', 'k2', 'k3', 'k4', 'K1', ''])
          channel.publish(exchange, key, Buffer.from(key));
        await channel.waitForConfirms();
        expect(await received(channel, queues)).toEqual({
          q1: ['k1'],
          q2: ['k1', 'k2'],
          q3: ['k3'],
        });
      },
      T,
    );

    it(
      'fanout to more than 1,024 queues: each gets its copy, with and without a transaction',
      async () => {
        // One shard's queue-id list used to stop at 1,024 (the rest were silently not routed).
        const connection = await clients.amqplib();
        const channel = await amqplibConfirmChannel(connection);
        const exchange = uniqueName('x.wide');
        await channel.assertExchange(exchange, 'fanout', { durable: false });
        const queues: string[] = [];
        const declares = Array.from({ length: 1100 }, async (_, index) => {
          const { queue } = await channel.assertQueue(uniqueName(`q.wide.${index}`), {
            exclusive: true,
          });
          await channel.bindQueue(queue, exchange, '');
          queues.push(queue);
        });
        await Promise.all(declares);
        channel.publish(exchange, '', Buffer.from('plain'));
        await channel.waitForConfirms();
        const tx = await connection.createChannel();
        await amqplibTx.select(tx);
        tx.publish(exchange, '', Buffer.from('in tx'));
        await amqplibTx.commit(tx);
        const counts = await Promise.all(
          queues.map(async (queue) => (await channel.checkQueue(queue)).messageCount),
        );
        expect(counts.filter((count) => count !== 2)).toEqual([]);
      },
      T * 2,
    );

    it(
      'fanout: every bound queue gets every message whatever the keys',
      async () => {
        const channel = await confirmChannel();
        const exchange = uniqueName('x.fanout');
        await channel.assertExchange(exchange, 'fanout', { durable: false });
        const queues = await declareQueues(channel, ['q1', 'q2']);
        await channel.bindQueue(queues.q1!, exchange, 'ignored');
        await channel.bindQueue(queues.q2!, exchange, '');
        channel.publish(exchange, 'a', Buffer.from('a'));
        channel.publish(exchange, '', Buffer.from('b'));
        await channel.waitForConfirms();
        expect(await received(channel, queues)).toEqual({ q1: ['a', 'b'], q2: ['a', 'b'] });
      },
      T,
    );

    it(
      'topic: * is one word, # is zero or more, words may be empty, and "" has no words',
      async () => {
        const channel = await confirmChannel();
        const exchange = uniqueName('x.topic');
        await channel.assertExchange(exchange, 'topic', { durable: false });
        const patterns: Record<string, string> = {
          star: '*',
          hash: '#',
          aStar: 'a.*',
          aHash: 'a.#',
          starStar: '*.*',
          aStarC: 'a.*.c',
          hashC: '#.c',
          aHashC: 'a.#.c',
          empty: '',
          aEmptyC: 'a..c',
        };
        const queues = await declareQueues(channel, Object.keys(patterns));
        for (const [label, pattern] of Object.entries(patterns))
          await channel.bindQueue(queues[label]!, exchange, pattern);
        const keys = ['a', 'a.b', 'a.b.c', 'a..c', 'a.', '.a', 'b.c', 'a.b.b.c'];
        for (const key of keys) channel.publish(exchange, key, Buffer.from(`[${key}]`));
        await channel.waitForConfirms();
        const got = await received(channel, queues);
        const expected: Record<string, string[]> = {
          star: ['a'],
          hash: keys,
          aStar: ['a.b', 'a.'],
          aHash: ['a', 'a.b', 'a.b.c', 'a..c', 'a.', 'a.b.b.c'],
          starStar: ['a.b', 'a.', '.a', 'b.c'],
          aStarC: ['a.b.c', 'a..c'],
          hashC: ['a.b.c', 'a..c', 'b.c', 'a.b.b.c'],
          aHashC: ['a.b.c', 'a..c', 'a.b.b.c'],
          empty: [],
          aEmptyC: ['a..c'],
        };
        for (const label of Object.keys(expected))
          expected[label] = expected[label]!.map((key) => `[${key}]`).sort();
        expect(got).toEqual(expected);
      },
      T,
    );

    it(
      'topic: the empty routing key matches "#" and "" but not "*" or "*.#"',
      async () => {
        const channel = await confirmChannel();
        const exchange = uniqueName('x.topic.empty');
        await channel.assertExchange(exchange, 'topic', { durable: false });
        const patterns: Record<string, string> = {
          star: '*',
          starHash: '*.#',
          hash: '#',
          empty: '',
          hashHash: '#.#',
        };
        const queues = await declareQueues(channel, Object.keys(patterns));
        for (const [label, pattern] of Object.entries(patterns))
          await channel.bindQueue(queues[label]!, exchange, pattern);
        channel.publish(exchange, '', Buffer.from('empty'));
        await channel.waitForConfirms();
        expect(await received(channel, queues)).toEqual({
          star: [],
          starHash: [],
          hash: ['empty'],
          empty: ['empty'],
          hashHash: ['empty'],
        });
      },
      T,
    );

    it(
      'headers: all/any, x- keys only with all-with-x/any-with-x, void means presence, integer widths compare equal',
      async () => {
        const channel = await confirmChannel();
        const exchange = uniqueName('x.headers');
        await channel.assertExchange(exchange, 'headers', { durable: false });
        const bindings: Record<string, Record<string, unknown>> = {
          all: { 'x-match': 'all', a: 1, b: 'two' },
          any: { 'x-match': 'any', a: 1, b: 'two' },
          implicitAll: { a: 1, b: 'two' },
          presence: { 'x-match': 'all', a: null },
          allWithX: { 'x-match': 'all-with-x', 'x-k': 'v', a: 1 },
          anyWithX: { 'x-match': 'any-with-x', 'x-k': 'v' },
          anyOnlyX: { 'x-match': 'any', 'x-k': 'v' },
          allEmpty: { 'x-match': 'all' },
        };
        const queues = await declareQueues(channel, Object.keys(bindings));
        for (const [label, args] of Object.entries(bindings))
          await channel.bindQueue(queues[label]!, exchange, '', args);
        const messages: Record<string, Record<string, unknown> | undefined> = {
          m1: { a: 1, b: 'two' },
          m2: { a: 1 },
          m3: { b: 'two', c: 3 },
          m4: { a: 2 },
          m5: { 'x-k': 'v', a: 1 },
          m6: { 'x-k': 'v' },
          m7: undefined,
          m8: { a: { '!': 'long', value: 1 }, b: 'two' },
          m9: { a: '1', b: 'two' },
        };
        for (const [body, headers] of Object.entries(messages)) {
          channel.publish(
            exchange,
            'ignored',
            Buffer.from(body),
            headers === undefined ? {} : { headers },
          );
        }
        await channel.waitForConfirms();
        expect(await received(channel, queues)).toEqual({
          all: ['m1', 'm8'],
          any: ['m1', 'm2', 'm3', 'm5', 'm8', 'm9'],
          implicitAll: ['m1', 'm8'],
          presence: ['m1', 'm2', 'm4', 'm5', 'm8', 'm9'],
          allWithX: ['m5'],
          anyWithX: ['m5', 'm6'],
          anyOnlyX: [],
          allEmpty: ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9'],
        });
      },
      T,
    );

    it(
      'headers: a bad x-match is refused with 406',
      async () => {
        const channel = await amqplibChannel(await clients.amqplib());
        const { queue } = await channel.assertQueue('', { exclusive: true });
        const error = await rejectionOf(
          channel.bindQueue(queue, 'amq.headers', '', { 'x-match': 'foo', a: 1 }),
        );
        expect(replyCodeOf(error)).toBe(406);
        expect(error.message).toContain('PRECONDITION_FAILED - Invalid x-match field value');
      },
      T,
    );

    it(
      'amqp-client: direct, fanout, topic and headers route as with amqplib',
      async () => {
        const client = await clients.cloud();
        const channel = await client.channel();
        await channel.confirmSelect();
        const direct = uniqueName('cx.direct');
        const fanout = uniqueName('cx.fanout');
        const topic = uniqueName('cx.topic');
        const headers = uniqueName('cx.headers');
        await channel.exchangeDeclare(direct, 'direct', { durable: false });
        await channel.exchangeDeclare(fanout, 'fanout', { durable: false });
        await channel.exchangeDeclare(topic, 'topic', { durable: false });
        await channel.exchangeDeclare(headers, 'headers', { durable: false });
        const queue = async () => (await channel.queueDeclare('', { exclusive: true })).name;
        const [qDirect, qFanout, qTopic, qHeaders] = [
          await queue(),
          await queue(),
          await queue(),
          await queue(),
        ];
        await channel.queueBind(qDirect, direct, 'k');
        await channel.queueBind(qFanout, fanout, 'whatever');
        await channel.queueBind(qTopic, topic, 'a.#');
        await channel.queueBind(qHeaders, headers, '', { 'x-match': 'any', h: 'v', n: 7 });
        await Promise.all([
          channel.basicPublish(direct, 'k', 'd1'),
          channel.basicPublish(direct, 'other', 'd2'),
          channel.basicPublish(fanout, 'x', 'f1'),
          channel.basicPublish(topic, 'a.b.c', 't1'),
          channel.basicPublish(topic, 'b.a', 't2'),
          channel.basicPublish(headers, '', 'h1', { headers: { n: 7 } }),
          channel.basicPublish(headers, '', 'h2', { headers: { h: 'x' } }),
        ]);
        expect(await drainCloud(channel, qDirect)).toEqual(['d1']);
        expect(await drainCloud(channel, qFanout)).toEqual(['f1']);
        expect(await drainCloud(channel, qTopic)).toEqual(['t1']);
        expect(await drainCloud(channel, qHeaders)).toEqual(['h1']);
      },
      T,
    );
  });

  describe('the default exchange', () => {
    it(
      'routes by queue name; a missing queue name is unroutable (mandatory returns 312)',
      async () => {
        const channel = await confirmChannel();
        const { queue } = await channel.assertQueue('', { exclusive: true });
        const returned = nextEvent<Message>(channel, 'return');
        channel.publish('', queue, Buffer.from('hit'));
        channel.publish('', uniqueName('no-such-queue'), Buffer.from('miss'), { mandatory: true });
        await channel.waitForConfirms();
        const message = await returned;
        expect(message.fields).toMatchObject({
          replyCode: 312,
          replyText: 'NO_ROUTE',
          exchange: '',
        });
        expect(message.content.toString()).toBe('miss');
        expect(await takeAllBodies(channel, queue)).toEqual(['hit']);
      },
      T,
    );

    it(
      'cannot be bound to (403)',
      async () => {
        const connection = await clients.amqplib();
        const channel = await amqplibChannel(connection);
        const { queue } = await channel.assertQueue('', { exclusive: true });
        const error = await rejectionOf(channel.bindQueue(queue, '', queue));
        expect(replyCodeOf(error)).toBe(403);
        expect(error.message).toContain(
          'ACCESS_REFUSED - operation not permitted on the default exchange',
        );
      },
      T,
    );

    it(
      'cannot be deleted (403)',
      async () => {
        const channel = await amqplibChannel(await clients.amqplib());
        const error = await rejectionOf(channel.deleteExchange(''));
        expect(replyCodeOf(error)).toBe(403);
      },
      T,
    );

    it(
      'cannot be declared, passively or not (403)',
      async () => {
        const client = await clients.cloud();
        const active = await client.channel();
        const activeError = await rejectionOf(
          active.exchangeDeclare('', 'direct', { durable: true }),
        );
        expect(replyCodeOf(activeError)).toBe(403);
        expect(activeError.message).toContain(
          'ACCESS_REFUSED - operation not permitted on the default exchange',
        );
        const passive = await client.channel();
        const passiveError = await rejectionOf(
          passive.exchangeDeclare('', 'direct', { passive: true }),
        );
        expect(replyCodeOf(passiveError)).toBe(403);
      },
      T,
    );
  });

  describe('amq.* exchanges', () => {
    it(
      'are predeclared with their types and route messages',
      async () => {
        const channel = await confirmChannel();
        for (const name of [
          'amq.direct',
          'amq.fanout',
          'amq.topic',
          'amq.headers',
          'amq.match',
          'amq.rabbitmq.trace',
        ]) {
          await channel.checkExchange(name);
        }
        // Redeclaring with the same type and flags (durable) is accepted.
        await channel.assertExchange('amq.direct', 'direct', { durable: true });
        await channel.assertExchange('amq.fanout', 'fanout', { durable: true });
        await channel.assertExchange('amq.topic', 'topic', { durable: true });
        await channel.assertExchange('amq.headers', 'headers', { durable: true });
        await channel.assertExchange('amq.match', 'headers', { durable: true });
        const queues = await declareQueues(channel, [
          'direct',
          'fanout',
          'topic',
          'headers',
          'match',
        ]);
        const key = uniqueName('key');
        await channel.bindQueue(queues.direct!, 'amq.direct', key);
        await channel.bindQueue(queues.fanout!, 'amq.fanout', '');
        await channel.bindQueue(queues.topic!, 'amq.topic', `${key}.#`);
        await channel.bindQueue(queues.headers!, 'amq.headers', '', { marker: key });
        await channel.bindQueue(queues.match!, 'amq.match', '', { marker: key });
        channel.publish('amq.direct', key, Buffer.from('direct'));
        channel.publish('amq.fanout', '', Buffer.from('fanout'));
        channel.publish('amq.topic', `${key}.x`, Buffer.from('topic'));
        channel.publish('amq.headers', '', Buffer.from('headers'), { headers: { marker: key } });
        channel.publish('amq.match', '', Buffer.from('match'), { headers: { marker: key } });
        await channel.waitForConfirms();
        expect(await received(channel, queues)).toEqual({
          direct: ['direct'],
          fanout: ['fanout'],
          topic: ['topic'],
          headers: ['headers'],
          match: ['match'],
        });
      },
      T,
    );

    it(
      'a new amq.* name cannot be declared (403)',
      async () => {
        const channel = await amqplibChannel(await clients.amqplib());
        const name = `amq.${uniqueName('custom')}`;
        const error = await rejectionOf(channel.assertExchange(name, 'direct'));
        expect(replyCodeOf(error)).toBe(403);
        expect(error.message).toContain(
          `ACCESS_REFUSED - exchange name '${name}' contains reserved prefix 'amq.*'`,
        );
      },
      T,
    );

    it(
      'cannot be deleted (403), by either client',
      async () => {
        const connection = await clients.amqplib();
        for (const name of ['amq.direct', 'amq.fanout', 'amq.topic', 'amq.headers', 'amq.match']) {
          const channel = await amqplibChannel(connection);
          const error = await rejectionOf(channel.deleteExchange(name));
          expect(replyCodeOf(error), name).toBe(403);
        }
        const client = await clients.cloud();
        const channel = await client.channel();
        expect(replyCodeOf(await rejectionOf(channel.exchangeDelete('amq.topic')))).toBe(403);
        const verify = await client.channel();
        await verify.exchangeDeclare('amq.topic', 'topic', { passive: true });
      },
      T,
    );

    it(
      "deleting amq.* says RabbitMQ's 'deletion of system exchange' text",
      async () => {
        const channel = await amqplibChannel(await clients.amqplib());
        const error = await rejectionOf(channel.deleteExchange('amq.direct'));
        expect(error.message).toContain(
          "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed",
        );
      },
      T,
    );
  });

  describe('declare, flags and delete', () => {
    it(
      'passive declare of a missing exchange is 404 (40/10), by either client',
      async () => {
        const name = uniqueName('missing');
        const channel = await amqplibChannel(await clients.amqplib());
        const error = (await rejectionOf(channel.checkExchange(name))) as Error & {
          classId?: number;
          methodId?: number;
        };
        expect(replyCodeOf(error)).toBe(404);
        expect(error.message).toContain(`NOT_FOUND - no exchange '${name}' in vhost '/'`);
        expect([error.classId, error.methodId]).toEqual([40, 10]);
        const client = await clients.cloud();
        const cloudChannel = await client.channel();
        expect(
          replyCodeOf(
            await rejectionOf(cloudChannel.exchangeDeclare(name, 'direct', { passive: true })),
          ),
        ).toBe(404);
      },
      T,
    );

    it(
      'a passive declare only checks existence: type and flags are ignored',
      async () => {
        const client = await clients.cloud();
        const channel = await client.channel();
        const name = uniqueName('x.passive');
        await channel.exchangeDeclare(name, 'direct', { durable: false });
        await expect(
          channel.exchangeDeclare(name, 'fanout', {
            passive: true,
            durable: true,
            autoDelete: true,
          }),
        ).resolves.toBeUndefined();
        await channel.exchangeDelete(name);
      },
      T,
    );

    it(
      'redeclaring with a different type, durable, auto_delete or internal is 406',
      async () => {
        const name = uniqueName('x.equiv');
        const connection = await clients.amqplib();
        const setup = await amqplibChannel(connection);
        await setup.assertExchange(name, 'direct', {
          durable: true,
          autoDelete: false,
          internal: false,
        });
        const cases: [string, Parameters<AmqplibChannel['assertExchange']>[2], string][] = [
          [
            'fanout',
            { durable: true },
            `inequivalent arg 'type' for exchange '${name}' in vhost '/': received 'fanout' but current is 'direct'`,
          ],
          [
            'direct',
            { durable: false },
            `inequivalent arg 'durable' for exchange '${name}' in vhost '/': received 'false' but current is 'true'`,
          ],
          ['direct', { durable: true, autoDelete: true }, "inequivalent arg 'auto_delete'"],
          ['direct', { durable: true, internal: true }, "inequivalent arg 'internal'"],
        ];
        for (const [type, options, text] of cases) {
          const channel = await amqplibChannel(connection);
          const error = await rejectionOf(channel.assertExchange(name, type, options));
          expect(replyCodeOf(error), text).toBe(406);
          expect(error.message).toContain(`PRECONDITION_FAILED - ${text}`);
        }
        const client = await clients.cloud();
        const cloudChannel = await client.channel();
        expect(
          replyCodeOf(
            await rejectionOf(cloudChannel.exchangeDeclare(name, 'topic', { durable: true })),
          ),
        ).toBe(406);
        await setup.deleteExchange(name);
      },
      T,
    );

    it(
      'redeclaring with different arguments other than alternate-exchange is accepted',
      async () => {
        const name = uniqueName('x.args');
        const channel = await amqplibChannel(await clients.amqplib());
        await channel.assertExchange(name, 'direct', {
          durable: false,
          arguments: { 'x-custom': 1 },
        });
        await expect(
          channel.assertExchange(name, 'direct', { durable: false, arguments: { 'x-custom': 2 } }),
        ).resolves.toEqual({
          exchange: name,
        });
        await expect(channel.assertExchange(name, 'direct', { durable: false })).resolves.toEqual({
          exchange: name,
        });
      },
      T,
    );

    it(
      'redeclaring with a different alternate-exchange is 406',
      async () => {
        const name = uniqueName('x.ae.equiv');
        const connection = await clients.amqplib();
        const channel = await amqplibChannel(connection);
        await channel.assertExchange(name, 'direct', {
          durable: false,
          alternateExchange: 'ae-one',
        });
        const other = await amqplibChannel(connection);
        const error = await rejectionOf(
          other.assertExchange(name, 'direct', { durable: false, alternateExchange: 'ae-two' }),
        );
        expect(replyCodeOf(error)).toBe(406);
        expect(error.message).toContain("inequivalent arg 'alternate-exchange'");
      },
      T,
    );

    it(
      'an unknown exchange type is refused (406 channel close from 3.13.3, 503 connection close before)',
      async () => {
        const connection = await clients.amqplib();
        const channel = await amqplibChannel(connection);
        const error = await rejectionOf(
          channel.assertExchange(uniqueName('x.bad'), 'no-such-type'),
        );
        const code =
          replyCodeOf(error) ?? replyCodeOf(clients.connectionErrors.get(connection)?.[0]);
        expect([406, 503]).toContain(code);
      },
      T,
    );

    it(
      'delete if-unused is 406 while the exchange is a binding source; without bindings it deletes',
      async () => {
        const client = await clients.cloud();
        const channel = await client.channel();
        const source = uniqueName('x.source');
        const onlyDestination = uniqueName('x.dest');
        await channel.exchangeDeclare(source, 'fanout', { durable: false });
        await channel.exchangeDeclare(onlyDestination, 'fanout', { durable: false });
        const queue = await channel.queueDeclare('', { exclusive: true });
        await channel.queueBind(queue.name, source, '');
        await channel.exchangeBind(onlyDestination, source, '');
        const error = await rejectionOf(channel.exchangeDelete(source, { ifUnused: true }));
        expect(replyCodeOf(error)).toBe(406);
        expect(error.message).toContain(
          `PRECONDITION_FAILED - exchange '${source}' in vhost '/' in use`,
        );
        const next = await client.channel();
        // Being only a destination does not count as used.
        await next.exchangeDelete(onlyDestination, { ifUnused: true });
        await next.queueUnbind(queue.name, source, '');
        await next.exchangeDelete(source, { ifUnused: true });
        expect(
          replyCodeOf(await rejectionOf(next.exchangeDeclare(source, 'fanout', { passive: true }))),
        ).toBe(404);
      },
      T,
    );

    it(
      'deleting a missing exchange succeeds',
      async () => {
        const channel = await amqplibChannel(await clients.amqplib());
        await expect(channel.deleteExchange(uniqueName('never-declared'))).resolves.toEqual({});
        await expect(
          channel.deleteExchange(uniqueName('never-declared'), { ifUnused: true }),
        ).resolves.toEqual({});
      },
      T,
    );

    it(
      'auto-delete: kept while never bound, deleted when its last binding goes (unbind or queue deletion)',
      async () => {
        const connection = await clients.amqplib();
        const channel = await amqplibChannel(connection);
        const exchange = uniqueName('x.autodelete');
        await channel.assertExchange(exchange, 'fanout', { durable: false, autoDelete: true });
        await channel.checkExchange(exchange);
        const first = await channel.assertQueue('', { exclusive: true });
        const second = await channel.assertQueue('', { exclusive: true });
        await channel.bindQueue(first.queue, exchange, '');
        await channel.bindQueue(second.queue, exchange, '');
        await channel.unbindQueue(first.queue, exchange, '');
        await channel.checkExchange(exchange);
        await channel.deleteQueue(second.queue);
        const error = await rejectionOf(channel.checkExchange(exchange));
        expect(replyCodeOf(error)).toBe(404);

        // Also through the owning connection closing: its exclusive queue was the last binding.
        const other = await clients.amqplib();
        const otherChannel = await amqplibChannel(other);
        const exchange2 = uniqueName('x.autodelete2');
        await otherChannel.assertExchange(exchange2, 'topic', { durable: false, autoDelete: true });
        const { queue } = await otherChannel.assertQueue('', { exclusive: true });
        await otherChannel.bindQueue(queue, exchange2, '#');
        await other.close();
        const checker = await amqplibChannel(connection);
        expect(replyCodeOf(await rejectionOf(checker.checkExchange(exchange2)))).toBe(404);
      },
      T,
    );

    it(
      'internal: publishing to it is 403, but it routes as an exchange-to-exchange destination',
      async () => {
        const connection = await clients.amqplib();
        const channel = await amqplibConfirmChannel(connection);
        const internal = uniqueName('x.internal');
        const front = uniqueName('x.front');
        await channel.assertExchange(internal, 'fanout', { durable: false, internal: true });
        await channel.assertExchange(front, 'direct', { durable: false });
        await channel.bindExchange(internal, front, 'k');
        const { queue } = await channel.assertQueue('', { exclusive: true });
        await channel.bindQueue(queue, internal, '');
        channel.publish(front, 'k', Buffer.from('via front'));
        await channel.waitForConfirms();
        expect(await takeAllBodies(channel, queue)).toEqual(['via front']);

        const publisher = await amqplibChannel(connection);
        const failed = nextEvent<Error>(publisher, 'error');
        publisher.publish(internal, '', Buffer.from('direct'));
        const error = await failed;
        expect(replyCodeOf(error)).toBe(403);
        expect(error.message).toContain(
          `ACCESS_REFUSED - cannot publish to internal exchange '${internal}' in vhost '/'`,
        );
      },
      T,
    );
  });

  describe('alternate exchanges', () => {
    it(
      'unroutable messages go to the alternate exchange and count as routed for mandatory',
      async () => {
        const channel = await confirmChannel();
        const ae = uniqueName('x.ae');
        const main = uniqueName('x.main');
        await channel.assertExchange(ae, 'fanout', { durable: false });
        await channel.assertExchange(main, 'direct', { durable: false, alternateExchange: ae });
        const queues = await declareQueues(channel, ['main', 'ae']);
        await channel.bindQueue(queues.main!, main, 'k');
        await channel.bindQueue(queues.ae!, ae, '');
        let returns = 0;
        channel.on('return', () => returns++);
        channel.publish(main, 'k', Buffer.from('routed'), { mandatory: true });
        channel.publish(main, 'other', Buffer.from('to-ae'), { mandatory: true });
        await channel.waitForConfirms();
        expect(await received(channel, queues)).toEqual({ main: ['routed'], ae: ['to-ae'] });
        expect(returns).toBe(0);
      },
      T,
    );

    it(
      'alternate exchanges chain; a missing alternate exchange leaves the message unroutable',
      async () => {
        const channel = await confirmChannel();
        const last = uniqueName('x.ae.last');
        const middle = uniqueName('x.ae.middle');
        const first = uniqueName('x.ae.first');
        const dangling = uniqueName('x.ae.dangling');
        await channel.assertExchange(last, 'fanout', { durable: false });
        await channel.assertExchange(middle, 'direct', { durable: false, alternateExchange: last });
        await channel.assertExchange(first, 'topic', { durable: false, alternateExchange: middle });
        await channel.assertExchange(dangling, 'direct', {
          durable: false,
          alternateExchange: uniqueName('x.nowhere'),
        });
        const queues = await declareQueues(channel, ['last', 'middle']);
        await channel.bindQueue(queues.last!, last, '');
        await channel.bindQueue(queues.middle!, middle, 'only-this');
        const returned = nextEvent<Message>(channel, 'return');
        channel.publish(first, 'x.y', Buffer.from('to-last'));
        channel.publish(first, 'only-this', Buffer.from('to-middle'));
        channel.publish(dangling, 'k', Buffer.from('lost'), { mandatory: true });
        await channel.waitForConfirms();
        expect(await received(channel, queues)).toEqual({
          last: ['to-last'],
          middle: ['to-middle'],
        });
        const message = await returned;
        expect(message.fields).toMatchObject({
          replyCode: 312,
          exchange: dangling,
          routingKey: 'k',
        });
      },
      T,
    );

    it(
      'amqp-client: a message unroutable on the exchange goes to its alternate exchange',
      async () => {
        const client = await clients.cloud();
        const channel = await client.channel();
        await channel.confirmSelect();
        const ae = uniqueName('cx.ae');
        const main = uniqueName('cx.main');
        await channel.exchangeDeclare(ae, 'fanout', { durable: false });
        await channel.exchangeDeclare(
          main,
          'direct',
          { durable: false },
          { 'alternate-exchange': ae },
        );
        const queue = await channel.queueDeclare('', { exclusive: true });
        await channel.queueBind(queue.name, ae, '');
        await channel.basicPublish(main, 'nobody', 'caught');
        expect(await drainCloud(channel, queue.name)).toEqual(['caught']);
      },
      T,
    );
  });

  describe('exchange-to-exchange bindings', () => {
    it(
      'route through the destination exchange with the binding key; unbind stops it',
      async () => {
        const channel = await confirmChannel();
        const source = uniqueName('x.e2e.source');
        const destination = uniqueName('x.e2e.destination');
        await channel.assertExchange(source, 'topic', { durable: false });
        await channel.assertExchange(destination, 'direct', { durable: false });
        await channel.bindExchange(destination, source, 'a.*');
        const queues = await declareQueues(channel, ['q']);
        await channel.bindQueue(queues.q!, destination, 'a.b');
        channel.publish(source, 'a.b', Buffer.from('1'));
        channel.publish(source, 'a.c', Buffer.from('2'));
        channel.publish(source, 'b.b', Buffer.from('3'));
        await channel.waitForConfirms();
        expect(await received(channel, queues)).toEqual({ q: ['1'] });
        await channel.unbindExchange(destination, source, 'a.*');
        channel.publish(source, 'a.b', Buffer.from('4'));
        await channel.waitForConfirms();
        expect(await received(channel, queues)).toEqual({ q: [] });
      },
      T,
    );

    it(
      'cycles are harmless and a queue reachable by several paths gets one copy',
      async () => {
        const channel = await confirmChannel();
        const one = uniqueName('x.cycle.one');
        const two = uniqueName('x.cycle.two');
        const three = uniqueName('x.cycle.three');
        for (const name of [one, two, three])
          await channel.assertExchange(name, 'fanout', { durable: false });
        await channel.bindExchange(two, one, '');
        await channel.bindExchange(three, two, '');
        await channel.bindExchange(one, three, '');
        await channel.bindExchange(one, two, '');
        // A self-binding is a cycle too.
        await channel.bindExchange(two, two, '');
        const queues = await declareQueues(channel, ['onAll', 'onThree']);
        for (const name of [one, two, three]) await channel.bindQueue(queues.onAll!, name, '');
        await channel.bindQueue(queues.onThree!, three, '');
        channel.publish(one, '', Buffer.from('a'));
        channel.publish(two, '', Buffer.from('b'));
        await channel.waitForConfirms();
        expect(await received(channel, queues)).toEqual({ onAll: ['a', 'b'], onThree: ['a', 'b'] });
      },
      T,
    );

    it(
      'binding with a missing source or destination is 404; deleting the destination removes the binding',
      async () => {
        const connection = await clients.amqplib();
        const channel = await amqplibConfirmChannel(connection);
        const source = uniqueName('x.src');
        const destination = uniqueName('x.dst');
        await channel.assertExchange(source, 'fanout', { durable: false });
        await channel.assertExchange(destination, 'fanout', { durable: false });
        const missingSource = await amqplibChannel(connection);
        expect(
          replyCodeOf(
            await rejectionOf(missingSource.bindExchange(destination, uniqueName('nope'), '')),
          ),
        ).toBe(404);
        const missingDestination = await amqplibChannel(connection);
        expect(
          replyCodeOf(
            await rejectionOf(missingDestination.bindExchange(uniqueName('nope'), source, '')),
          ),
        ).toBe(404);

        await channel.bindExchange(destination, source, '');
        const { queue } = await channel.assertQueue('', { exclusive: true });
        await channel.bindQueue(queue, destination, '');
        await channel.deleteExchange(destination);
        const returned = nextEvent<Message>(channel, 'return');
        channel.publish(source, '', Buffer.from('x'), { mandatory: true });
        await channel.waitForConfirms();
        expect((await returned).fields).toMatchObject({ replyCode: 312 });
        expect(await takeAllBodies(channel, queue)).toEqual([]);
      },
      T,
    );

    it(
      'amqp-client: exchange.bind and exchange.unbind',
      async () => {
        const client = await clients.cloud();
        const channel = await client.channel();
        await channel.confirmSelect();
        const source = uniqueName('cx.src');
        const destination = uniqueName('cx.dst');
        await channel.exchangeDeclare(source, 'direct', { durable: false });
        await channel.exchangeDeclare(destination, 'fanout', { durable: false });
        await channel.exchangeBind(destination, source, 'k');
        const queue = await channel.queueDeclare('', { exclusive: true });
        await channel.queueBind(queue.name, destination, '');
        await channel.basicPublish(source, 'k', 'yes');
        await channel.basicPublish(source, 'j', 'no');
        expect(await drainCloud(channel, queue.name)).toEqual(['yes']);
        await channel.exchangeUnbind(destination, source, 'k');
        await channel.basicPublish(source, 'k', 'after');
        expect(await drainCloud(channel, queue.name)).toEqual([]);
      },
      T,
    );
  });
});
