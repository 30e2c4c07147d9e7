// Shared plumbing for the end-to-end suites: one broker per suite, client connections of both
// libraries that are always closed after each test, reply-code extraction for either client's
// errors, and awaitable inboxes and events so tests wait on conditions instead of sleeping
// (polling, where nothing announces the condition, is in poll.ts).

import type { EventEmitter } from 'node:events';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqp from 'amqplib';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from './broker.js';
import { pollUntil } from './poll.js';
import { RawClient } from './raw-client.js';

export type AmqplibConnection = amqp.ChannelModel;
export type AmqplibChannel = amqp.Channel;
export type AmqplibConfirmChannel = amqp.ConfirmChannel;

/** The timeout every e2e test passes explicitly. */
export const TEST_TIMEOUT_MS = 15_000;

/**
 * Set WARREN_E2E_EXTERNAL_PORT to run the suites against another broker on 127.0.0.1 (a RabbitMQ
 * node, to check that the tests themselves hold there) instead of starting Warren. The node needs
 * guest/guest on '/' and 'other', and alice/alice-secret on '/' only.
 */
export const EXTERNAL_PORT =
  process.env['WARREN_E2E_EXTERNAL_PORT'] === undefined
    ? null
    : Number(process.env['WARREN_E2E_EXTERNAL_PORT']);

/**
 * For tests that document a known Warren bug: expected to fail against Warren (vitest's
 * it.fails), expected to pass against an external RabbitMQ node.
 */
export function itFailsOnWarren(name: string, fn: () => Promise<void>, timeoutMs: number): void {
  (EXTERNAL_PORT === null ? it.fails : it)(name, fn, timeoutMs);
}

/** Starts one broker for the enclosing describe block; returns a getter. */
export function useBroker(
  shardCount: number,
  options: Parameters<typeof startTestBroker>[0] = {},
): () => TestBroker {
  let broker: TestBroker | null = null;
  beforeAll(async () => {
    if (EXTERNAL_PORT !== null) {
      broker = {
        port: EXTERNAL_PORT,
        mgmtPort: null,
        mgmtEngine: null,
        tlsPort: null,
        url: `amqp://guest:guest@127.0.0.1:${EXTERNAL_PORT}`,
        dataDir: '',
        broker: { options: { shardCount: 1 } } as unknown as TestBroker['broker'],
        close: async () => undefined,
      };
      return;
    }
    broker = await startTestBroker({ shardCount, ...options });
  });
  afterAll(async () => {
    await broker?.close();
  });
  return () => {
    if (broker === null) throw new Error('broker not started');
    return broker;
  };
}

let nameCounter = 0;
/** A resource name unique within this test process. */
export function uniqueName(prefix: string): string {
  nameCounter++;
  return `${prefix}.${process.pid}.${nameCounter}`;
}

/** Races a promise against a timeout that names what was awaited. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Tracks every connection a test opens, so an afterEach can close them whatever happened. */
export class Clients {
  private readonly amqplibConnections: AmqplibConnection[] = [];
  private readonly cloudConnections: AMQPClient[] = [];
  private readonly rawConnections: RawClient[] = [];
  /** Errors amqplib connections emitted, by connection. */
  readonly connectionErrors = new Map<AmqplibConnection, Error[]>();

  constructor(private readonly broker: () => TestBroker) {}

  url(query = '', credentials = 'guest:guest', vhost = ''): string {
    const path = vhost === '' ? '' : `/${encodeURIComponent(vhost)}`;
    return `amqp://${credentials}@127.0.0.1:${this.broker().port}${path}${query === '' ? '' : `?${query}`}`;
  }

  /** An amqplib connection; its 'error' events are recorded rather than thrown. */
  async amqplib(
    query = '',
    socketOptions: Record<string, unknown> = {},
  ): Promise<AmqplibConnection> {
    const connection = await amqp.connect(this.url(query), socketOptions);
    this.track(connection);
    return connection;
  }

  track(connection: AmqplibConnection): AmqplibConnection {
    const errors: Error[] = [];
    this.connectionErrors.set(connection, errors);
    connection.on('error', (error: Error) => errors.push(error));
    this.amqplibConnections.push(connection);
    return connection;
  }

  /** An @cloudamqp/amqp-client connection; connection-level errors are swallowed (tests read them from rejections). */
  async cloud(query = '', credentials = 'guest:guest', vhost = ''): Promise<AMQPClient> {
    const client = new AMQPClient(this.url(query, credentials, vhost));
    client.onerror = () => undefined;
    this.cloudConnections.push(client);
    await client.connect();
    return client;
  }

  /** A raw client with the TCP connection open and nothing sent yet. */
  async raw(): Promise<RawClient> {
    const connection = await RawClient.connect(this.broker().port);
    this.rawConnections.push(connection);
    return connection;
  }

  async closeAll(): Promise<void> {
    const closing: Promise<unknown>[] = [];
    for (const connection of this.amqplibConnections.splice(0)) {
      closing.push(
        within(connection.close(), 2000, 'amqplib close').catch(() => {
          (connection.connection as unknown as { stream?: { destroy(): void } }).stream?.destroy();
        }),
      );
    }
    for (const client of this.cloudConnections.splice(0)) {
      if (client.closed) {
        client.socket?.destroy();
        continue;
      }
      closing.push(
        within(client.close(), 2000, 'amqp-client close')
          .catch(() => undefined)
          .finally(() => client.socket?.destroy()),
      );
    }
    for (const raw of this.rawConnections.splice(0)) raw.destroy();
    await Promise.all(closing);
  }
}

/** Clients for the enclosing describe block, closed after each test; each test must assert. */
export function useClients(broker: () => TestBroker): Clients {
  const clients = new Clients(broker);
  // Every e2e test must check something: waiting on a client call alone is not a test.
  beforeEach(() => {
    expect.hasAssertions();
  });
  afterEach(async () => {
    await clients.closeAll();
  });
  return clients;
}

/** An amqplib channel whose server-closes are recorded instead of thrown as 'error' events. */
export async function amqplibChannel(connection: AmqplibConnection): Promise<AmqplibChannel> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  return channel;
}

export async function amqplibConfirmChannel(
  connection: AmqplibConnection,
): Promise<AmqplibConfirmChannel> {
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => undefined);
  return channel;
}

/**
 * The AMQP reply code carried by a client error: amqplib puts it in `code`; amqp-client ends
 * its message with "(NNN)".
 */
export function replyCodeOf(error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number') return code;
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string') {
    const match = /\((\d{3})\)\s*$/.exec(message);
    if (match !== null) return Number(match[1]);
  }
  return undefined;
}

/**
 * basic.get until a message arrives (expiry and dead-lettering happen asynchronously) or the
 * time is up. Acked later by the caller unless `noAck`.
 */
export async function getEventually(
  channel: AmqplibChannel,
  queue: string,
  { noAck = false, timeoutMs = 3000 }: { noAck?: boolean; timeoutMs?: number } = {},
): Promise<amqp.GetMessage> {
  const message = await pollUntil(
    () => channel.get(queue, { noAck }),
    (got) => got !== false,
    { timeoutMs },
  );
  if (message === false) throw new Error(`no message in ${queue} within ${timeoutMs} ms`);
  return message;
}

/** Every message waiting in `queue`, taken with basic.get (no-ack), in order. */
export async function takeAll(channel: AmqplibChannel, queue: string): Promise<amqp.GetMessage[]> {
  const messages: amqp.GetMessage[] = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) return messages;
    messages.push(message);
  }
}

/** The bodies, as text, of every message waiting in `queue` (taken with no-ack). */
export async function takeAllBodies(channel: AmqplibChannel, queue: string): Promise<string[]> {
  return (await takeAll(channel, queue)).map((message) => message.content.toString());
}

/** Awaits a promise that must reject; returns the error. */
export async function rejectionOf(promise: Promise<unknown>, timeoutMs = 5000): Promise<Error> {
  try {
    await within(promise, timeoutMs, 'a rejection');
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('timed out after')) throw error;
    return error as Error;
  }
  throw new Error('expected the operation to fail, but it succeeded');
}

/** Resolves with the arguments of the next `event` on `emitter`. */
export function nextEvent<T = unknown>(
  emitter: Pick<EventEmitter, 'once'>,
  event: string,
  timeoutMs = 5000,
): Promise<T> {
  return within(
    new Promise<T>((resolve) => {
      emitter.once(event, (value: T) => resolve(value));
    }),
    timeoutMs,
    `event '${event}'`,
  );
}

/** Collects items pushed by callbacks and lets a test await a count. */
export class Inbox<T> {
  readonly items: T[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  push = (item: T): void => {
    this.items.push(item);
    this.waiters = this.waiters.filter((waiter) => {
      if (this.items.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  };

  get length(): number {
    return this.items.length;
  }

  /** Resolves with all items once at least `count` have arrived. */
  async waitFor(count: number, timeoutMs = 5000): Promise<T[]> {
    if (this.items.length < count) {
      await within(
        new Promise<void>((resolve) => this.waiters.push({ count, resolve })),
        timeoutMs,
        `${count} items (have ${this.items.length})`,
      ).catch((error: Error) => {
        throw new Error(`${error.message}; have ${this.items.length}`);
      });
    }
    return this.items;
  }
}

/**
 * Names whose queues land on as many different shards as the broker has (up to `count`), so a
 * test spans shards for real. Falls back to plain names if the broker does not expose placement.
 */
export function namesAcrossShards(broker: TestBroker, prefix: string, count: number): string[] {
  const base = uniqueName(prefix);
  const place = (
    broker.broker as unknown as { shardIndexFor?: (vhost: string, name: string) => number }
  ).shardIndexFor;
  const shardCount = broker.broker.options.shardCount;
  if (typeof place !== 'function' || shardCount === 1) {
    return Array.from({ length: count }, (_, i) => `${base}.${i}`);
  }
  const chosen: string[] = [];
  const used = new Set<number>();
  for (let i = 0; chosen.length < count && i < 10_000; i++) {
    const name = `${base}.${i}`;
    const shard = place.call(broker.broker, '/', name);
    if (used.size < shardCount && used.has(shard)) continue;
    used.add(shard);
    chosen.push(name);
  }
  return chosen;
}

/** The shard a queue lives on, when the broker exposes it (for preconditions in multi-shard tests). */
export function shardOf(broker: TestBroker, queue: string): number | undefined {
  const place = (
    broker.broker as unknown as { shardIndexFor?: (vhost: string, name: string) => number }
  ).shardIndexFor;
  return typeof place === 'function' ? place.call(broker.broker, '/', queue) : undefined;
}

// amqplib has no transaction API; its channels expose the generic `rpc`, keyed by the method
// ids (class << 16 | method) from amqplib's own protocol definitions.
const TX_SELECT = (90 << 16) | 10;
const TX_COMMIT = (90 << 16) | 20;
const TX_ROLLBACK = (90 << 16) | 30;
const CONFIRM_SELECT = (85 << 16) | 10;

type RpcChannel = { rpc(method: number, fields: object, expect: number): Promise<unknown> };

export const amqplibTx = {
  select: (channel: AmqplibChannel) =>
    (channel as unknown as RpcChannel).rpc(TX_SELECT, {}, TX_SELECT + 1),
  commit: (channel: AmqplibChannel) =>
    (channel as unknown as RpcChannel).rpc(TX_COMMIT, {}, TX_COMMIT + 1),
  rollback: (channel: AmqplibChannel) =>
    (channel as unknown as RpcChannel).rpc(TX_ROLLBACK, {}, TX_ROLLBACK + 1),
  confirmSelect: (channel: AmqplibChannel) =>
    (channel as unknown as RpcChannel).rpc(CONFIRM_SELECT, { nowait: false }, CONFIRM_SELECT + 1),
};
