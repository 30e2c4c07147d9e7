#!/usr/bin/env node
// Differential check (opt-in, not part of CI): runs the same client scenarios against RabbitMQ
// and against Warren and compares what the client sees, scenario by scenario.
//
//   node scripts/differential.mjs                      starts a private RabbitMQ side node and
//                                                      an in-process Warren, compares, stops both
//   node scripts/differential.mjs <rabbitUrl> <warrenUrl>   compares two running brokers
//
// Needs `npm run build` first (for the in-process Warren). Exit code 1 when transcripts differ.

import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqp from 'amqplib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Server-generated names and the like differ by nature; replace them before comparing. */
function normalize(value) {
  return JSON.parse(
    JSON.stringify(value, (key, entry) => {
      if (typeof entry === 'string') {
        return entry
          .replace(/amq\.gen-[A-Za-z0-9_-]{22}/g, 'amq.gen-*')
          .replace(/amq\.ctag-[A-Za-z0-9_-]{22}/g, 'amq.ctag-*')
          .replace(/diff-\d+-[a-z0-9]+/g, 'diff-*');
      }
      // x-death times differ between runs; their type is what must match.
      if (entry !== null && typeof entry === 'object' && entry['!'] === 'timestamp')
        return 'timestamp';
      if (Buffer.isBuffer(entry) || entry?.type === 'Buffer')
        return Buffer.from(entry.data ?? entry).toString();
      return entry;
    }),
  );
}

function errorOf(error) {
  return {
    code: error.code ?? null,
    message: String(error.message).replace(/^(Channel|Connection) closed by server: /, ''),
  };
}

/** Opens a channel, runs `body`, and records either its result or the close it caused. */
async function withChannel(url, body, { confirm = false } = {}) {
  const connection = await amqp.connect(url);
  const closed = new Promise((resolve) =>
    connection.on('error', (error) => resolve(errorOf(error))),
  );
  connection.on('close', () => {});
  try {
    const channel = confirm
      ? await connection.createConfirmChannel()
      : await connection.createChannel();
    const channelClosed = new Promise((resolve) =>
      channel.on('error', (error) => resolve(errorOf(error))),
    );
    try {
      const result = await Promise.race([
        body(channel),
        channelClosed.then((error) => ({ channelError: error })),
      ]);
      return result;
    } catch (error) {
      const viaEvent = await Promise.race([
        channelClosed,
        closed,
        new Promise((r) => setTimeout(() => r(null), 200)),
      ]);
      return { thrown: viaEvent ?? errorOf(error) };
    }
  } finally {
    await connection.close().catch(() => {});
  }
}

/** The same as withChannel, with @cloudamqp/amqp-client (it has the tx API amqplib lacks). */
async function withAmqpClient(url, body) {
  const connection = await new AMQPClient(url).connect();
  try {
    const channel = await connection.channel();
    return await body(channel);
  } catch (error) {
    return { thrown: { code: error.code ?? null, message: String(error.message) } };
  } finally {
    await connection.close().catch(() => {});
  }
}

const unique = () => `diff-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

const SCENARIOS = {
  'declare queue and counts': (url) =>
    withChannel(url, async (channel) => {
      const name = unique();
      const first = await channel.assertQueue(name, { autoDelete: true });
      channel.sendToQueue(name, Buffer.from('a'));
      channel.sendToQueue(name, Buffer.from('b'));
      await new Promise((r) => setTimeout(r, 50));
      const second = await channel.checkQueue(name);
      await channel.deleteQueue(name);
      return { first: { ...first, queue: 'q' }, second: { ...second, queue: 'q' } };
    }),
  'passive declare of a missing queue': (url) =>
    withChannel(url, (channel) => channel.checkQueue(unique())),
  'passive declare of a missing exchange': (url) =>
    withChannel(url, (channel) => channel.checkExchange(unique())),
  'redeclare exchange with another type': (url) =>
    withChannel(url, async (channel) => {
      const name = unique();
      await channel.assertExchange(name, 'direct', { autoDelete: true, durable: false });
      return channel.assertExchange(name, 'fanout', { autoDelete: true, durable: false });
    }),
  'redeclare queue durable differently': (url) =>
    withChannel(url, async (channel) => {
      const name = unique();
      await channel.assertQueue(name, { durable: false, autoDelete: true });
      return channel.assertQueue(name, { durable: true, autoDelete: true });
    }),
  'declare reserved amq. queue': (url) =>
    withChannel(url, (channel) => channel.assertQueue('amq.mine')),
  'declare reserved amq. exchange': (url) =>
    withChannel(url, (channel) => channel.assertExchange('amq.mine', 'direct')),
  'delete amq.direct': (url) => withChannel(url, (channel) => channel.deleteExchange('amq.direct')),
  'delete missing queue and exchange': (url) =>
    withChannel(url, async (channel) => [
      await channel.deleteQueue(unique()),
      await channel.deleteExchange(unique()),
    ]),
  'publish to a missing exchange': (url) =>
    withChannel(url, async (channel) => {
      channel.publish(unique(), 'k', Buffer.from('x'));
      await channel.assertQueue('', { exclusive: true });
      return 'no error';
    }),
  'mandatory unroutable returns then confirms': (url) =>
    withChannel(
      url,
      async (channel) => {
        const events = [];
        channel.on('return', (message) => events.push({ returned: message.fields }));
        channel.publish('amq.direct', unique(), Buffer.from('x'), { mandatory: true });
        await channel.waitForConfirms();
        events.push('confirmed');
        return events;
      },
      { confirm: true },
    ),
  'unknown delivery tag ack': (url) =>
    withChannel(url, async (channel) => {
      channel.ack({ fields: { deliveryTag: 42 } });
      await channel.assertQueue('', { exclusive: true });
      return 'no error';
    }),
  'get, reject with requeue, get again': (url) =>
    withChannel(url, async (channel) => {
      const { queue } = await channel.assertQueue('', { exclusive: true });
      channel.sendToQueue(queue, Buffer.from('one'), {
        headers: { a: 1, b: 'two', c: [1, 'x'], d: { e: true } },
        contentType: 'text/plain',
        priority: 3,
        messageId: 'm1',
        timestamp: 1700000000,
      });
      channel.sendToQueue(queue, Buffer.from('two'));
      await new Promise((r) => setTimeout(r, 50));
      const first = await channel.get(queue);
      channel.reject(first, true);
      const again = await channel.get(queue, { noAck: true });
      const second = await channel.get(queue, { noAck: true });
      const empty = await channel.get(queue);
      return {
        first: { fields: first.fields, properties: first.properties, content: first.content },
        again: again.fields,
        second: second.fields,
        empty,
      };
    }),
  'exclusive queue from another connection': async (url) => {
    const owner = await amqp.connect(url);
    const channel = await owner.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    const result = await withChannel(url, (other) => other.checkQueue(queue));
    await owner.close();
    return result;
  },
  'exclusive consumer conflict': (url) =>
    withChannel(url, async (channel) => {
      const { queue } = await channel.assertQueue('', { exclusive: true });
      await channel.consume(queue, () => {});
      return channel.consume(queue, () => {}, { exclusive: true });
    }),
  'queue delete if-empty with messages': (url) =>
    withChannel(url, async (channel) => {
      const name = unique();
      await channel.assertQueue(name, { autoDelete: false, durable: false });
      channel.sendToQueue(name, Buffer.from('x'));
      await new Promise((r) => setTimeout(r, 50));
      const result = await channel
        .deleteQueue(name, { ifEmpty: true })
        .catch((error) => ({ failed: errorOf(error) }));
      const connection = await amqp.connect(url);
      const cleanup = await connection.createChannel();
      await cleanup.deleteQueue(name);
      await connection.close();
      return result;
    }),
  'headers exchange any and all': (url) =>
    withChannel(url, async (channel) => {
      const { queue: all } = await channel.assertQueue('', { exclusive: true });
      const { queue: any } = await channel.assertQueue('', { exclusive: true });
      await channel.bindQueue(all, 'amq.headers', '', { 'x-match': 'all', a: 1, b: 'x' });
      await channel.bindQueue(any, 'amq.headers', '', { 'x-match': 'any', a: 1, b: 'x' });
      channel.publish('amq.headers', '', Buffer.from('1'), { headers: { a: 1 } });
      channel.publish('amq.headers', '', Buffer.from('2'), { headers: { a: 1, b: 'x' } });
      await new Promise((r) => setTimeout(r, 50));
      return {
        all: (await channel.checkQueue(all)).messageCount,
        any: (await channel.checkQueue(any)).messageCount,
      };
    }),
  'topic wildcards': (url) =>
    withChannel(url, async (channel) => {
      const keys = ['a', 'a.b', 'a.b.c', '', 'b.a', 'a..b'];
      const patterns = ['a.*', 'a.#', '#', '*', '#.b', 'a.*.c', '*.*'];
      const counts = {};
      const exchange = unique();
      await channel.assertExchange(exchange, 'topic', { autoDelete: true, durable: false });
      for (const pattern of patterns) {
        const { queue } = await channel.assertQueue('', { exclusive: true });
        await channel.bindQueue(queue, exchange, pattern);
        counts[pattern] = queue;
      }
      for (const key of keys) channel.publish(exchange, key, Buffer.from(key));
      await new Promise((r) => setTimeout(r, 100));
      const result = {};
      for (const pattern of patterns)
        result[pattern] = (await channel.checkQueue(counts[pattern])).messageCount;
      return result;
    }),
  'transaction: publish invisible until commit, rollback discards': (url) =>
    withAmqpClient(url, async (channel) => {
      const { name } = await channel.queueDeclare('', { exclusive: true });
      const depth = async () => (await channel.queueDeclare(name, { passive: true })).messageCount;
      await channel.txSelect();
      const counts = [];
      await channel.basicPublish('', name, 'one');
      counts.push(await depth());
      await channel.txCommit();
      counts.push(await depth());
      await channel.basicPublish('', name, 'two');
      await channel.txRollback();
      counts.push(await depth());
      const message = await channel.basicGet(name, { noAck: false });
      await channel.basicAck(message.deliveryTag);
      await channel.txRollback();
      counts.push(await depth());
      await channel.basicRecover(true);
      counts.push(await depth());
      return counts;
    }),
  'tx commit without select': (url) => withAmqpClient(url, (channel) => channel.txCommit()),
  'confirm select on a tx channel': (url) =>
    withAmqpClient(url, async (channel) => {
      await channel.txSelect();
      return channel.confirmSelect();
    }),
  'prefetch size is not implemented': (url) =>
    withAmqpClient(url, (channel) => channel.basicQos(1, 100)),
  'immediate publish is not implemented': (url) =>
    withAmqpClient(url, async (channel) => {
      await channel.basicPublish('', 'nowhere', 'x', {}, false, true);
      return channel.queueDeclare('', { exclusive: true });
    }),
  'alternate exchange and exchange-to-exchange bindings': (url) =>
    withChannel(url, async (channel) => {
      const main = unique();
      const alternate = unique();
      const downstream = unique();
      await channel.assertExchange(alternate, 'fanout', { autoDelete: true, durable: false });
      await channel.assertExchange(main, 'direct', {
        autoDelete: true,
        durable: false,
        alternateExchange: alternate,
      });
      await channel.assertExchange(downstream, 'fanout', { autoDelete: true, durable: false });
      const { queue: caught } = await channel.assertQueue('', { exclusive: true });
      const { queue: routed } = await channel.assertQueue('', { exclusive: true });
      await channel.bindQueue(caught, alternate, '');
      await channel.bindExchange(downstream, main, 'k');
      await channel.bindExchange(main, downstream, '');
      await channel.bindQueue(routed, downstream, '');
      channel.publish(main, 'k', Buffer.from('routed'));
      channel.publish(main, 'other', Buffer.from('caught'));
      await new Promise((r) => setTimeout(r, 50));
      return {
        routed: (await channel.checkQueue(routed)).messageCount,
        caught: (await channel.checkQueue(caught)).messageCount,
      };
    }),
  'nack multiple with requeue then redelivered order': (url) =>
    withChannel(url, async (channel) => {
      const { queue } = await channel.assertQueue('', { exclusive: true });
      for (let i = 0; i < 5; i++) channel.sendToQueue(queue, Buffer.from(String(i)));
      await channel.prefetch(3);
      const seen = [];
      await new Promise((resolve) => {
        let count = 0;
        void channel.consume(queue, (message) => {
          seen.push([
            message.content.toString(),
            message.fields.redelivered,
            message.fields.deliveryTag,
          ]);
          count++;
          if (count === 3) channel.nack(message, true, true);
          else if (count > 3) channel.ack(message);
          if (count === 8) resolve();
        });
      });
      return seen;
    }),
  'consumer cancelled when its queue is deleted': (url) =>
    withChannel(url, async (channel) => {
      const name = unique();
      await channel.assertQueue(name, { durable: false });
      const cancelled = new Promise((resolve) => {
        void channel.consume(name, (message) =>
          resolve(message === null ? 'cancelled by server' : 'message'),
        );
      });
      const connection = await amqp.connect(url);
      const other = await connection.createChannel();
      await other.deleteQueue(name);
      await connection.close();
      return cancelled;
    }),
  'duplicate consumer tag closes the connection': (url) =>
    withChannel(url, async (channel) => {
      const { queue } = await channel.assertQueue('', { exclusive: true });
      await channel.consume(queue, () => {}, { consumerTag: 'same' });
      return channel.consume(queue, () => {}, { consumerTag: 'same' });
    }),
  'basic.recover requeues unacked': (url) =>
    withChannel(url, async (channel) => {
      const { queue } = await channel.assertQueue('', { exclusive: true });
      channel.sendToQueue(queue, Buffer.from('x'));
      await new Promise((r) => setTimeout(r, 30));
      const first = await channel.get(queue);
      await channel.recover();
      const again = await channel.get(queue, { noAck: true });
      return { first: first.fields, again: again.fields };
    }),
  'auto-delete queue goes with its last consumer': (url) =>
    withChannel(url, async (channel) => {
      const name = unique();
      await channel.assertQueue(name, { autoDelete: true, durable: false });
      const { consumerTag } = await channel.consume(name, () => {});
      await channel.cancel(consumerTag);
      await new Promise((r) => setTimeout(r, 50));
      return channel.checkQueue(name);
    }),
  // Queue features (issue #6).
  'dead-letter on reject: x-death and properties': (url) =>
    withChannel(url, async (channel) => {
      const source = unique();
      const target = unique();
      await channel.assertQueue(target, { exclusive: true });
      await channel.assertQueue(source, {
        exclusive: true,
        arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': target },
      });
      channel.sendToQueue(source, Buffer.from('x'), {
        expiration: '60000',
        headers: { b: 1, a: 'z' },
        priority: 3,
      });
      await new Promise((r) => setTimeout(r, 30));
      channel.reject(await channel.get(source), false);
      await new Promise((r) => setTimeout(r, 50));
      const dead = await channel.get(target, { noAck: true });
      return {
        fields: { ...dead.fields, deliveryTag: 0 },
        properties: dead.properties,
        headerOrder: Object.keys(dead.properties.headers),
        deathOrder: Object.keys(dead.properties.headers['x-death'][0]),
      };
    }),
  'dead-letter cycle through two queues': (url) =>
    withChannel(url, async (channel) => {
      const first = unique();
      const second = unique();
      const dlx = (to) => ({ 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': to });
      await channel.assertQueue(first, { exclusive: true, arguments: dlx(second) });
      await channel.assertQueue(second, { exclusive: true, arguments: dlx(first) });
      channel.sendToQueue(first, Buffer.from('x'));
      await new Promise((r) => setTimeout(r, 30));
      const deaths = [];
      for (const queue of [first, second, first, second]) {
        const message = await channel.get(queue);
        deaths.push(message.properties.headers?.['x-death'] ?? null);
        channel.reject(message, false);
        await new Promise((r) => setTimeout(r, 30));
      }
      return deaths;
    }),
  'max-length drop-head and reject-publish': (url) =>
    withChannel(
      url,
      async (channel) => {
        const dropping = unique();
        const rejecting = unique();
        await channel.assertQueue(dropping, { exclusive: true, arguments: { 'x-max-length': 2 } });
        await channel.assertQueue(rejecting, {
          exclusive: true,
          arguments: { 'x-max-length-bytes': 3, 'x-overflow': 'reject-publish' },
        });
        const outcomes = [];
        for (const body of ['a', 'b', 'c', 'd']) {
          channel.sendToQueue(dropping, Buffer.from(body));
          channel.sendToQueue(rejecting, Buffer.from(body), {}, (error) =>
            outcomes.push(error ? 'nack' : 'ack'),
          );
        }
        await channel.waitForConfirms().catch(() => undefined);
        const kept = [];
        for (let message; (message = await channel.get(dropping, { noAck: true }));)
          kept.push(message.content.toString());
        return { outcomes, kept, rejecting: await channel.checkQueue(rejecting) };
      },
      { confirm: true },
    ),
  'ttl, priorities and counts': (url) =>
    withChannel(url, async (channel) => {
      const queue = unique();
      await channel.assertQueue(queue, {
        exclusive: true,
        arguments: { 'x-message-ttl': 400, 'x-max-priority': 4 },
      });
      channel.sendToQueue(queue, Buffer.from('short'), { expiration: '1', priority: 4 });
      for (const [body, priority] of [
        ['p1', 1],
        ['p9', 9],
        ['none', undefined],
      ])
        channel.sendToQueue(queue, Buffer.from(body), priority === undefined ? {} : { priority });
      // Generous waits: a loaded RabbitMQ can take tens of milliseconds to enqueue.
      await new Promise((r) => setTimeout(r, 150));
      const counted = await channel.checkQueue(queue);
      const first = await channel.get(queue, { noAck: true });
      await new Promise((r) => setTimeout(r, 500));
      return {
        counted: counted.messageCount,
        first: [first.content.toString(), first.fields.messageCount],
        after: (await channel.checkQueue(queue)).messageCount,
      };
    }),
  'queue argument errors': async (url) => {
    const results = [];
    for (const args of [
      { 'x-max-length': 'x' },
      { 'x-overflow': 'drop-tail' },
      { 'x-message-ttl': -1 },
      { 'x-expires': 0 },
      { 'x-max-priority': 300 },
      { 'x-dead-letter-routing-key': 'k' },
      { 'x-dead-letter-exchange': 5 },
      { 'x-single-active-consumer': 'y' },
    ]) {
      results.push(
        await withChannel(url, (channel) =>
          channel.assertQueue('diff-args', { exclusive: true, arguments: args }),
        ),
      );
    }
    return results;
  },
  'bad expirations and reply-to errors': async (url) => [
    await withChannel(url, async (channel) => {
      channel.sendToQueue(unique(), Buffer.from('x'), { expiration: '1.5' });
      await channel.assertQueue('', { exclusive: true });
      return 'no error';
    }),
    await withChannel(url, async (channel) => {
      channel.sendToQueue(unique(), Buffer.from('x'), { replyTo: 'amq.rabbitmq.reply-to' });
      await channel.assertQueue('', { exclusive: true });
      return 'no error';
    }),
    await withChannel(url, (channel) =>
      channel.consume('amq.rabbitmq.reply-to', () => {}, { noAck: false }),
    ),
    await withChannel(url, async (channel) => {
      const { queue } = await channel.assertQueue('', { exclusive: true });
      return channel.consume(queue, () => {}, { arguments: { 'x-priority': 1.5 } });
    }),
  ],
};

async function runAll(url) {
  const transcript = {};
  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    try {
      transcript[name] = normalize(await scenario(url));
    } catch (error) {
      transcript[name] = { scenarioFailed: errorOf(error) };
    }
  }
  return transcript;
}

async function main() {
  const args = process.argv.slice(2).filter((arg) => arg !== '--verbose');
  const verbose = args.length !== process.argv.length - 2;
  let [rabbitUrl, warrenUrl] = args;
  let stopRabbit = null;
  let warren = null;
  if (rabbitUrl === undefined) {
    rabbitUrl = execFileSync(join(root, 'scripts/rabbitmq-side-node.sh'), ['start'], {
      encoding: 'utf8',
    }).trim();
    stopRabbit = () => execFileSync(join(root, 'scripts/rabbitmq-side-node.sh'), ['stop']);
  }
  if (warrenUrl === undefined) {
    const { startBroker } = await import(join(root, 'dist/index.js'));
    const dataDir = mkdtempSync(join(tmpdir(), 'warren-differential-'));
    warren = await startBroker({
      port: 0,
      bind: '127.0.0.1',
      shardCount: 2,
      logLevel: 'silent',
      isMgmtEnabled: false,
      dataDir,
    });
    warrenUrl = `amqp://guest:guest@127.0.0.1:${warren.port}`;
  }
  try {
    const rabbit = await runAll(rabbitUrl);
    const ours = await runAll(warrenUrl);
    let differences = 0;
    for (const name of Object.keys(SCENARIOS)) {
      const left = JSON.stringify(rabbit[name]);
      const right = JSON.stringify(ours[name]);
      if (left === right) {
        console.log(`same  ${name}${verbose ? `\n  both:     ${left}` : ''}`);
      } else {
        differences++;
        console.log(`DIFF  ${name}\n  rabbitmq: ${left}\n  warren:   ${right}`);
      }
    }
    console.log(`${Object.keys(SCENARIOS).length - differences} same, ${differences} different`);
    process.exitCode = differences === 0 ? 0 : 1;
  } finally {
    await warren?.close();
    stopRabbit?.();
  }
}

await main();
