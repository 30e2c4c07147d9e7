// The network thread's root: the TCP listener, every connection, the vhosts with their
// topology, users and permissions, and the links to the shards. It turns shard events into
// client frames and keeps queue lifecycles (auto-delete, exclusive, deletion with consumers)
// in one place. Network thread only.

import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import {
  type AlarmLimits,
  type AlarmResource,
  alarmReason,
  ResourceAlarms,
} from './resource-alarms.js';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import {
  type AmqpMethod,
  decodeProperties,
  type FieldTable,
  fieldTablesEquivalent,
} from '../codec/index.js';
import {
  DEAD_LETTER_HEADER_BYTES,
  DEAD_LETTER_REJECTED,
  DELIVER_FLAG_REDELIVERED,
  DELIVER_FLAG_USED_CREDIT,
  DELIVER_HEADER_BYTES,
  MessageBlockView,
  startShardThreads,
  stopShardThreads,
  type DefinitionRecord,
  type QueueSpec,
  type ShardStats,
  type ShardLogHealth,
  type ShardThread,
} from '../shard/api.js';
import { AccessControl } from './access-control.js';
import type { ChannelConsumer } from './channel.js';
import { Connection } from './connection.js';
import { writeBasicDeliver, writeContent } from './content-frames.js';
import { loadDefinitions, type Definitions } from './definitions.js';
import { type Binding, type Exchange, QueueRecord } from './exchange.js';
import { type BrokerOptions, resolveOptions } from './options.js';
import { checkQueueArgumentsEquivalent, validateQueueArguments } from './queue-arguments.js';
import { channelError, resourceName } from './protocol-errors.js';
import {
  effectiveQueueArguments,
  type Policy,
  policyForExchange,
  policyForQueue,
  validateOperatorPolicy,
  validatePolicy,
} from './policies.js';
import { Router } from './router.js';
import { LatencyHistogram } from '../util/index.js';
import type { BatchClock } from './confirm-tracker.js';
import { effectiveLimit, validateVhostLimits, type VhostLimits } from './vhost-limits.js';
import { createLogger, type Logger, type LogLevel } from './logger.js';
import { type ShardHealth, ShardLiveness } from './shard-liveness.js';
import { ShardLink, type ShardEventSink } from './shard-link.js';
import { type TopologyObserver, VirtualHost } from './vhost.js';
import type { Permission, User } from './access-control.js';
import {
  type BindingDefinition,
  DefinitionJournal,
  type ExchangeDefinition,
  type QueueDefinition,
} from './definition-journal.js';

/** A connection's input share per event-loop turn (a few hundred KiB of frames). */
const INPUT_BYTES_PER_TURN = 128 * 1024;

/** What direct reply-to needs of a channel (channel.ts implements it). */
export interface ChannelForReplies {
  /** Delivers a reply straight to the channel's amq.rabbitmq.reply-to consumer. */
  deliverReply(block: Buffer): void;
}

const RESOURCE_LOCKED = 405;
const PRECONDITION_FAILED = 406;

export const WARREN_VERSION = '0.1.0';

/** Bucket bounds of the confirm latency histogram, ms (0.1 ms to 10 s). */
export const CONFIRM_LATENCY_BOUNDS_MS = [
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
];

/** A clock read often and updated rarely; heartbeats need only second precision. */
export interface CoarseClock {
  nowMs: number;
}

export class Broker implements ShardEventSink, TopologyObserver {
  readonly options: BrokerOptions;
  readonly access = new AccessControl();
  readonly vhosts = new Map<string, VirtualHost>();
  readonly router = new Router();
  readonly connections = new Map<number, Connection>();
  /** Policies by vhost, then by name. */
  readonly policies = new Map<string, Map<string, Policy>>();
  /** Operator policies by vhost, then by name. */
  readonly operatorPolicies = new Map<string, Map<string, Policy>>();
  /** Channels consuming from amq.rabbitmq.reply-to, by the key in their reply-to names. */
  readonly replyChannels = new Map<string, ChannelForReplies>();
  /** Every live consumer by its broker-wide id, which deliveries carry. */
  readonly consumers = new Map<number, ChannelConsumer>();
  readonly dirtyConnections: Connection[] = [];
  readonly clock: CoarseClock = { nowMs: Date.now() };
  /**
   * performance.now() read once per socket chunk and once per batch of shard events: fine enough
   * to time confirms (the 1 s tick clock is not), without a clock read per message.
   */
  readonly batchClock: BatchClock = { nowMs: performance.now() };
  /** Publish arrival to basic.ack sent, for every confirmed publish (management reads it). */
  readonly confirmLatency = new LatencyHistogram(CONFIRM_LATENCY_BOUNDS_MS);
  readonly serverProperties: FieldTable;
  /** Network thread only; shard threads' lines arrive here over the control plane. */
  readonly logger: Logger;
  links: ShardLink[] = [];
  private journal: DefinitionJournal | null = null;
  private liveness: ShardLiveness | null = null;
  private threads: ShardThread[] = [];
  private server: Server | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private readonly readPausedConnections = new Set<Connection>();
  /** Connections that brought input this turn, and those whose share ran out. */
  private readonly turnInputConnections: Connection[] = [];
  private readonly turnPausedConnections: Connection[] = [];
  private nextConnectionId = 1;
  private nextQueueIdValue = 1;
  private nextConsumerIdValue = 1;
  private readonly view = new MessageBlockView();
  private readonly deadLetterView = new MessageBlockView();
  private readonly deadLetterQueueIds = new Uint32Array(1024);
  private isStopping = false;
  private isFlushScheduled = false;
  private isInputRecheckScheduled = false;
  private tlsServer: TlsServer | null = null;
  /** The amqps port bound, or null without TLS. */
  tlsPort: number | null = null;
  /** Memory or disk alarm in effect: connections that publish stop being read. */
  isPublishBlocked = false;
  alarmReasonText = '';
  private alarms: ResourceAlarms | null = null;
  /** Shards whose logs fail writes now (they raise the disk alarm). */
  private readonly failingLogShards = new Set<number>();
  private statsRequestId = 0;
  /** Queues with x-expires, checked by one timer armed for the soonest deadline. */
  private readonly expiringQueues = new Set<QueueRecord>();
  private queueExpiryTimer: NodeJS.Timeout | null = null;
  private queueExpiryAtMs = Infinity;

  constructor(options: BrokerOptions) {
    this.options = options;
    this.logger = createLogger(options.logLevel, options.logFormat);
    this.serverProperties = {
      product: 'Warren',
      version: WARREN_VERSION,
      platform: `Node.js ${process.version}`,
      copyright: 'Copyright (c) Warren contributors',
      information: 'Licensed under the MIT license. A throughput-first AMQP 0-9-1 broker.',
      cluster_name: 'warren',
      capabilities: {
        publisher_confirms: true,
        exchange_exchange_bindings: true,
        'basic.nack': true,
        consumer_cancel_notify: true,
        'connection.blocked': true,
        consumer_priorities: true,
        authentication_failure_close: true,
        per_consumer_qos: true,
        direct_reply_to: true,
      },
    };
  }

  /** One line at `level`, with `context` as its fields (never secrets). */
  log(level: Exclude<LogLevel, 'silent'>, text: string, context: object = {}): void {
    this.logger[level](context, text);
  }

  /** The level in effect; setLogLevel changes it at once for every thread's lines. */
  get logLevel(): LogLevel {
    return this.logger.level as LogLevel;
  }

  setLogLevel(level: LogLevel): void {
    this.logger.level = level;
    this.options.logLevel = level;
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<number> {
    const options = this.options;
    const startedMs = Date.now();
    this.threads = await startShardThreads({
      shardCount: options.shardCount,
      ringBytes: options.ringBytes,
      dataDir: options.dataDir,
      log: {
        fsyncMode: options.fsyncMode,
        fsyncIntervalMs: options.fsyncIntervalMs,
        batchDelayMs: options.fsyncBatchDelayMs,
        segmentBytesMax: options.segmentBytesMax,
        compactionMinBytes: options.compactionMinBytes,
      },
      memoryBudgetBytes: Math.floor(options.queueMemoryBytes / options.shardCount),
      onShardFailure: (shardIndex, error) => this.onShardFailure(shardIndex, error),
      onLogHealth: (health) => this.onLogHealth(health),
    });
    this.liveness = new ShardLiveness(this.threads, options.shardPingTimeoutMs, (health) => {
      if (health.state === 'running')
        this.log('info', 'shard answers again', { shard: health.shardIndex });
      else
        this.log('error', 'shard not answering', {
          shard: health.shardIndex,
          reason: health.reason,
        });
    });
    this.links = this.threads.map(
      (thread) =>
        new ShardLink(
          thread,
          this,
          () => this.onLinkUnblocked(),
          () => this.afterShardEvents(),
        ),
    );
    this.journal = new DefinitionJournal(this.links[0]!);
    // Rebuild what shard 0's log kept; those records are there already, so nothing is re-written.
    this.journal.isRecording = false;
    this.restoreDefinitions(this.threads[0]!.ready.definitions);
    this.journal.isRecording = true;
    this.access.observer = {
      userChanged: (name, user) => this.journal!.user(name, user),
      permissionChanged: (vhost, user, permission) =>
        this.journal!.permission(vhost, user, permission),
    };
    this.loadInitialDefinitions();
    // Every durable queue exists in its shard now; what no queue claimed is gone for good.
    await Promise.all(this.links.map((link) => link.request({ op: 'recovery.done' })));
    await this.journal.whenDurablePromise();
    this.logRecovery(Date.now() - startedMs);
    // Heartbeats and consumer timeouts; a short consumer timeout is checked more often.
    const timeoutMs = options.consumerTimeoutMs;
    const tickMs = timeoutMs > 0 && timeoutMs < 2000 ? Math.max(50, timeoutMs >> 1) : 1000;
    this.ticker = setInterval(() => this.tick(), tickMs);
    this.ticker.unref();
    this.alarms = new ResourceAlarms(
      {
        memoryHighWatermark: options.memoryHighWatermark,
        diskFreeLimitBytes: options.diskFreeLimitBytes,
      },
      options.dataDir,
      (active) => this.onAlarmsChanged(active),
    );
    for (const shardIndex of this.failingLogShards) this.alarms.setLogFailing(shardIndex, true);
    await this.alarms.start();
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.bind, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    await this.startTlsListener();
    return typeof address === 'object' && address !== null ? address.port : this.options.port;
  }

  /** amqps, when a certificate and key are configured: the same connections over node:tls. */
  private async startTlsListener(): Promise<void> {
    const options = this.options;
    if (options.tlsCertFile === null || options.tlsKeyFile === null) return;
    const server = createTlsServer(
      {
        cert: readFileSync(options.tlsCertFile),
        key: readFileSync(options.tlsKeyFile),
        ...(options.tlsCaFile !== null ? { ca: readFileSync(options.tlsCaFile) } : {}),
        requestCert: options.isTlsVerifyPeer,
        rejectUnauthorized: options.isTlsVerifyPeer,
      },
      (socket) => this.accept(socket),
    );
    // A failed handshake (bad certificate, plain AMQP on the TLS port) ends that socket only.
    server.on('tlsClientError', (error, socket) =>
      this.log('debug', 'TLS handshake failed', {
        peer: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`,
        error: error.message,
      }),
    );
    this.tlsServer = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.tlsPort, options.bind, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    this.tlsPort = typeof address === 'object' && address !== null ? address.port : options.tlsPort;
  }

  private logRecovery(elapsedMs: number): void {
    let records = 0;
    let messages = 0;
    for (const thread of this.threads) {
      const report = thread.ready.report;
      if (report === null) continue;
      records += report.records;
      messages += thread.ready.recoveredMessages;
      this.log('info', 'shard log recovered', {
        shard: thread.shardIndex,
        messages: thread.ready.recoveredMessages,
        segments: report.segments,
        records: report.records,
        bytes: report.bytes,
        tornBytes: report.truncatedBytes,
        ms: report.durationMs,
      });
      for (const corruption of report.corruptions) {
        this.log('error', 'shard log damaged; the records around it were kept', {
          shard: thread.shardIndex,
          segment: corruption.segment,
          offset: corruption.offset,
          reason: corruption.reason,
        });
      }
    }
    let queues = 0;
    for (const vhost of this.vhosts.values()) queues += vhost.queues.size;
    this.log('info', 'recovery done', {
      shards: this.threads.length,
      messages,
      records,
      durableQueues: queues,
      ms: elapsedMs,
    });
  }

  /** Rebuilds vhosts, users, permissions, durable exchanges, queues and bindings from the log. */
  private restoreDefinitions(records: readonly DefinitionRecord[]): void {
    const byKind = (kind: string) =>
      records.filter((record) => record.kind === kind).map((record) => record.value);
    for (const value of byKind('vhost')) this.addVhost((value as { name: string }).name);
    for (const value of byKind('user')) this.access.putUser(value as User);
    for (const value of byKind('permission')) {
      const { vhost, user, ...permission } = value as Permission & { vhost: string; user: string };
      this.access.setPermission(vhost, user, permission);
    }
    for (const value of byKind('exchange')) {
      const exchange = value as ExchangeDefinition;
      this.addVhost(exchange.vhost).declareExchange(
        exchange.name,
        exchange.type,
        { isDurable: true, isAutoDelete: exchange.autoDelete, isInternal: exchange.internal },
        exchange.arguments,
      );
    }
    for (const value of byKind('policy')) this.setPolicy(value as Policy);
    for (const value of byKind('operator-policy')) this.setOperatorPolicy(value as Policy);
    for (const value of byKind('vhost-limits')) {
      const { vhost, limits } = value as { vhost: string; limits: VhostLimits };
      this.setVhostLimits(vhost, limits);
    }
    for (const value of byKind('queue')) {
      const queue = value as QueueDefinition;
      if (queue.shardIndex >= this.links.length) {
        throw new Error(
          `queue '${queue.name}' in vhost '${queue.vhost}' lives in shard ${queue.shardIndex}, but only ${this.links.length} shards run: start with --shards ${queue.shardIndex + 1} or more`,
        );
      }
      this.createQueue(
        this.addVhost(queue.vhost),
        queue.name,
        { isDurable: true, isAutoDelete: queue.autoDelete, ownerConnectionId: 0 },
        queue.arguments,
        { queueId: queue.queueId, shardIndex: queue.shardIndex },
      );
      this.nextQueueIdValue = Math.max(this.nextQueueIdValue, queue.queueId + 1);
    }
    for (const value of byKind('binding')) {
      const binding = value as BindingDefinition;
      const vhost = this.vhosts.get(binding.vhost);
      const source = vhost?.exchanges.get(binding.source);
      const destination =
        binding.destinationType === 'queue'
          ? vhost?.queues.get(binding.destination)
          : vhost?.exchanges.get(binding.destination);
      if (vhost === undefined || source === undefined || destination === undefined) continue;
      vhost.bind(source, destination, binding.routingKey, binding.arguments);
    }
  }

  private loadInitialDefinitions(): void {
    // An explicit file, else <data dir>/definitions.json when the `warren users ...` commands made one.
    const defaultFile = join(this.options.dataDir, 'definitions.json');
    const file = this.options.definitionsFile ?? (existsSync(defaultFile) ? defaultFile : null);
    let definitions: Definitions = {};
    if (file !== null) {
      definitions = JSON.parse(readFileSync(file, 'utf8')) as Definitions;
    }
    loadDefinitions(this, definitions);
    if ((definitions.users ?? []).length === 0 && this.access.userCount === 0) {
      this.access.addUserWithPassword(this.options.defaultUser, this.options.defaultPassword, [
        'administrator',
      ]);
    }
    if (!this.vhosts.has('/') && (definitions.vhosts ?? []).length === 0) this.addVhost('/');
    if (
      (definitions.permissions ?? []).length === 0 &&
      this.access.getUser(this.options.defaultUser) !== undefined
    ) {
      this.access.setPermission('/', this.options.defaultUser, {
        configure: '.*',
        write: '.*',
        read: '.*',
      });
    }
  }

  /** Stops accepting, closes every connection with 320 CONNECTION_FORCED, stops the shards. */
  async stop(): Promise<void> {
    if (this.isStopping) return;
    this.isStopping = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    this.alarms?.stop();
    if (this.queueExpiryTimer !== null) clearTimeout(this.queueExpiryTimer);
    this.expiringQueues.clear();
    const server = this.server;
    const closed =
      server === null
        ? Promise.resolve()
        : new Promise<void>((resolve) => server.close(() => resolve()));
    for (const connection of [...this.connections.values()]) {
      connection.forceClose("broker forced connection closure with reason 'shutdown'");
    }
    this.flushDirty();
    // Give clients a moment to answer close-ok, then drop whatever is left.
    const deadline = Date.now() + 1000;
    while (this.connections.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const connection of [...this.connections.values()]) connection.destroy();
    await closed;
    const tlsServer = this.tlsServer;
    if (tlsServer !== null) await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    for (const link of this.links) link.stop();
    await stopShardThreads(this.threads);
  }

  private accept(socket: Socket): void {
    if (this.isStopping) {
      socket.destroy();
      return;
    }
    const connection = new Connection(this, this.nextConnectionId++, socket);
    this.connections.set(connection.connectionId, connection);
  }

  /** Connections past connection.open-ok and not yet closed. */
  openConnectionCount = 0;

  onConnectionOpened(connection: Connection): void {
    this.openConnectionCount++;
    connection.vhost!.openConnectionCount++;
    const product = connection.clientProperties['product'];
    this.log('info', 'connection opened', {
      connection: connection.name,
      user: connection.userName,
      vhost: connection.vhost?.name ?? '',
      ...(typeof product === 'string' ? { client: product } : {}),
    });
    if (this.isPublishBlocked) connection.notifyBlocked(this.alarmReasonText);
  }

  // ---------------------------------------------------------------- resource alarms

  /** The alarms in effect (empty when none): 'memory', 'disk'. */
  get activeAlarms(): ReadonlySet<AlarmResource> {
    return this.alarms?.active ?? new Set();
  }

  get alarmLimits(): Readonly<AlarmLimits> | null {
    return this.alarms?.currentLimits ?? null;
  }

  /** Changes the memory watermark or disk limit at run time; resolves after a fresh sample. */
  async setAlarmLimits(limits: Partial<AlarmLimits>): Promise<void> {
    if (this.alarms === null) throw new Error('the broker is not started');
    await this.alarms.setLimits(limits);
  }

  private onAlarmsChanged(active: ReadonlySet<AlarmResource>): void {
    const wasBlocked = this.isPublishBlocked;
    this.isPublishBlocked = active.size > 0;
    this.alarmReasonText = alarmReason(active);
    if (this.isPublishBlocked) {
      this.log('warn', 'resource alarm raised; publishers are blocked', {
        alarms: [...active],
        reason: this.alarmReasonText,
      });
    } else {
      this.log('info', 'resource alarms cleared; publishers may publish again');
    }
    if (this.isPublishBlocked === wasBlocked) return;
    for (const connection of this.connections.values()) {
      if (this.isPublishBlocked) connection.notifyBlocked(this.alarmReasonText);
      else connection.unblockAfterAlarm();
    }
    this.flushDirty();
  }

  onConnectionClosed(connection: Connection): void {
    if (connection.vhost !== null && this.connections.has(connection.connectionId)) {
      this.openConnectionCount--;
      connection.vhost.openConnectionCount--;
    }
    this.connections.delete(connection.connectionId);
    this.readPausedConnections.delete(connection);
    // Releasing its channels wrote commands outside any socket-input batch: wake the shards.
    for (let i = 0; i < this.links.length; i++) this.links[i]!.flush();
  }

  private tick(): void {
    const nowMs = Date.now();
    this.clock.nowMs = nowMs;
    this.liveness?.tick(nowMs);
    for (const connection of this.connections.values()) connection.tick(nowMs);
    this.flushDirty();
    // A channel closed by a consumer timeout told its shards.
    for (let i = 0; i < this.links.length; i++) this.links[i]!.flush();
  }

  // ---------------------------------------------------------------- flow

  /**
   * After a socket's input was processed: flush output, wake shards, apply ring backpressure,
   * and cap the turn's input. libuv reads a busy socket up to 32 times per poll, so one
   * publisher could fill a whole turn with publishes while deliveries wait in the shard rings;
   * past its share a connection waits for the next turn (RabbitMQ's credit flow, in spirit).
   */
  afterSocketInput(connection: Connection, byteCount: number): void {
    this.scheduleFlush();
    if (connection.inputBytesThisTurn === 0) this.turnInputConnections.push(connection);
    connection.inputBytesThisTurn += byteCount;
    if (connection.inputBytesThisTurn >= INPUT_BYTES_PER_TURN && !connection.isTurnPaused) {
      connection.isTurnPaused = true;
      connection.socket.pause();
      this.turnPausedConnections.push(connection);
    }
    if (this.isAnyLinkBlocked() && !connection.isReadPaused) {
      // A full command ring: stop reading this client until the shard catches up.
      connection.isReadPaused = true;
      connection.socket.pause();
      this.readPausedConnections.add(connection);
    }
  }

  private isAnyLinkBlocked(): boolean {
    return this.anyLink(isLinkBlocked);
  }

  private anyLink(test: (link: ShardLink) => boolean): boolean {
    for (let i = 0; i < this.links.length; i++) if (test(this.links[i]!)) return true;
    return false;
  }

  private onLinkUnblocked(): void {
    if (this.isAnyLinkBlocked()) return;
    for (const connection of this.readPausedConnections) {
      connection.isReadPaused = false;
      if (connection.mayResumeReading) connection.socket.resume();
    }
    this.readPausedConnections.clear();
  }

  private afterShardEvents(): void {
    this.scheduleFlush();
  }

  /**
   * Flushes client sockets and wakes shards once per event-loop turn, after every socket read
   * and ring batch of the turn: one write per connection and one wake per shard, however many
   * inputs fed them (syscalls, not bytes, are what loopback traffic costs).
   */
  private scheduleFlush(): void {
    if (this.isFlushScheduled) return;
    this.isFlushScheduled = true;
    setImmediate(this.flushAll);
  }

  private readonly flushAll = (): void => {
    this.isFlushScheduled = false;
    this.flushDirty();
    for (let i = 0; i < this.links.length; i++) this.links[i]!.flush();
    this.startNextInputTurn();
  };

  /**
   * Heavy publishers wait while the last input is still being worked off: events not drained,
   * or commands a shard has not taken (their deliveries are yet to come). Otherwise input keeps
   * outrunning deliveries (fanout multiplies them).
   */
  private isBehindOnEvents(): boolean {
    return this.anyLink(hasPendingEvents);
  }

  private isBehindOnCommands(): boolean {
    return this.anyLink(hasPendingCommands);
  }

  private scheduleInputRecheck(): void {
    if (this.isInputRecheckScheduled) return;
    this.isInputRecheckScheduled = true;
    setImmediate(this.recheckInput);
  }

  private readonly recheckInput = (): void => {
    this.isInputRecheckScheduled = false;
    this.startNextInputTurn();
  };

  private startNextInputTurn(): void {
    const taken = this.turnInputConnections;
    for (let i = 0; i < taken.length; i++) taken[i]!.inputBytesThisTurn = 0;
    taken.length = 0;
    const paused = this.turnPausedConnections;
    if (paused.length === 0) return;
    // Draining events ends in another flush, which looks again.
    if (this.isBehindOnEvents()) return;
    if (this.isBehindOnCommands()) {
      // A shard takes some commands silently (acks, persistent publishes awaiting their sync):
      // look again next turn rather than wait for an event that may not come.
      this.scheduleInputRecheck();
      return;
    }
    for (let i = 0; i < paused.length; i++) {
      const connection = paused[i]!;
      connection.isTurnPaused = false;
      if (connection.mayResumeReading) connection.socket.resume();
    }
    paused.length = 0;
  }

  flushDirty(): void {
    const dirty = this.dirtyConnections;
    for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
    dirty.length = 0;
  }

  /** A client's socket is congested (or drained): hold (or resume) its deliveries in every shard. */
  setDeliveryPaused(connection: Connection, isPaused: boolean): void {
    for (const link of this.links) link.connectionFlow(connection.connectionId, isPaused);
    for (const link of this.links) link.flush();
  }

  // ---------------------------------------------------------------- shard events

  beforeEvents(): void {
    this.batchClock.nowMs = performance.now();
  }

  onDeliver(link: ShardLink, bytes: Buffer, start: number, end: number): void {
    const consumer = this.consumers.get(bytes.readUInt32LE(start + 6));
    // A consumer already gone: its channel closed, and the shard requeues the message itself.
    if (consumer === undefined) return;
    const channel = consumer.channel;
    if (channel.isClosing) return;
    const flags = bytes[start + 18]!;
    const deliveryTag = channel.deliveryTagFor(
      consumer,
      link.shardIndex,
      bytes.readDoubleLE(start + 10),
      (flags & DELIVER_FLAG_USED_CREDIT) !== 0,
    );
    const view = this.view.read(bytes, start + DELIVER_HEADER_BYTES, end);
    const connection = channel.connection;
    const out = connection.out;
    channel.deliveredCount++;
    writeBasicDeliver(
      out,
      channel.channelId,
      consumer.tagBytes,
      deliveryTag,
      (flags & DELIVER_FLAG_REDELIVERED) !== 0,
      bytes,
      view,
    );
    writeContent(
      out,
      channel.channelId,
      connection.frameMaxBytes,
      bytes,
      view.propertiesStart,
      view.propertiesEnd,
      bytes,
      view.bodyStart,
      view.bodyEnd,
    );
    connection.markDirty();
  }

  /**
   * A shard dead-lettered a message (its block already carries the x-death headers and names
   * the dead-letter exchange and routing key): route it like a publish without confirms. As in
   * RabbitMQ, a missing dead-letter exchange or no matching binding drops it, and so does a
   * cycle that no rejection broke (rabbit_dead_letter:detect_cycles).
   */
  onDeadLetter(_link: ShardLink, bytes: Buffer, start: number, end: number): void {
    const reason = bytes[start]!;
    const flags = bytes[start + 1]!;
    const vhostBytes = bytes[start + 2]!;
    const blockStart = start + DEAD_LETTER_HEADER_BYTES + vhostBytes;
    const vhost = this.vhosts.get(
      bytes.toString('utf8', start + DEAD_LETTER_HEADER_BYTES, blockStart),
    );
    if (vhost === undefined) return;
    const view = this.deadLetterView.read(bytes, blockStart, end);
    const exchange = vhost.exchanges.get(
      bytes.toString('utf8', view.exchangeStart, view.exchangeEnd),
    );
    if (exchange === undefined) return;
    const routed = this.router.route(
      vhost,
      exchange,
      bytes.toString('utf8', view.routingKeyStart, view.routingKeyEnd),
      bytes,
      view.propertiesStart,
      view.propertiesEnd,
    );
    if (routed.length === 0) return;
    let queues: QueueRecord[] = routed;
    if (reason !== DEAD_LETTER_REJECTED) {
      const deaths = decodeProperties(bytes, view.propertiesStart, view.propertiesEnd).headers?.[
        'x-death'
      ];
      if (Array.isArray(deaths))
        queues = routed.filter((queue) => !isDeathCycle(queue.name, deaths));
    }
    const head = bytes.subarray(blockStart, view.routingKeyEnd);
    const properties = bytes.subarray(view.propertiesStart, view.propertiesEnd);
    const ids = this.deadLetterQueueIds;
    for (let shardIndex = 0; shardIndex < this.links.length; shardIndex++) {
      let count = 0;
      for (let i = 0; i < queues.length && count < ids.length; i++) {
        if (queues[i]!.shardIndex === shardIndex) ids[count++] = queues[i]!.queueId;
      }
      if (count === 0) continue;
      this.links[shardIndex]!.publish(
        0,
        0,
        flags,
        0,
        ids,
        count,
        head,
        head.length,
        properties,
        properties.length,
        bytes,
        view.bodyStart,
        view.bodyEnd,
      );
    }
  }

  onReject(_link: ShardLink, connectionId: number, channelId: number, confirmSeq: number): void {
    this.connections.get(connectionId)?.channels.get(channelId)?.onShardReject(confirmSeq);
  }

  onCredit(link: ShardLink, connectionId: number, channelId: number, amount: number): void {
    this.connections
      .get(connectionId)
      ?.channels.get(channelId)
      ?.onShardCredit(link.shardIndex, amount);
  }

  onConfirm(link: ShardLink, connectionId: number, channelId: number, confirmSeq: number): void {
    const channel = this.connections.get(connectionId)?.channels.get(channelId);
    channel?.onShardConfirm(link.shardIndex, confirmSeq);
  }

  // ---------------------------------------------------------------- topology

  addVhost(name: string): VirtualHost {
    let vhost = this.vhosts.get(name);
    if (vhost === undefined) {
      vhost = new VirtualHost(name, this);
      this.vhosts.set(name, vhost);
      this.journal?.vhost(name, true);
    }
    return vhost;
  }

  /**
   * Deletes a vhost as RabbitMQ does: its connections are closed with 320, its queues and
   * exchanges deleted, its permissions cleared. Returns whether it existed.
   */
  deleteVhost(name: string): boolean {
    const vhost = this.vhosts.get(name);
    if (vhost === undefined) return false;
    for (const connection of [...this.connections.values()]) {
      if (connection.vhost === vhost) connection.forceClose(`vhost '${name}' is deleted`);
    }
    for (const queue of [...vhost.queues.values()]) this.deleteQueue(queue, null, null);
    for (const exchange of [...vhost.exchanges.values()]) {
      if (exchange.name !== '' && !exchange.name.startsWith('amq.')) {
        vhost.deleteExchange(exchange.name, false);
      }
    }
    // One by one, so the journal forgets each permission and policy with the vhost.
    for (const entry of this.access.listPermissions()) {
      if (entry.vhost === name) this.access.clearPermission(name, entry.user);
    }
    for (const policyName of [...(this.policies.get(name)?.keys() ?? [])]) {
      this.deletePolicy(name, policyName);
    }
    for (const policyName of [...(this.operatorPolicies.get(name)?.keys() ?? [])]) {
      this.deleteOperatorPolicy(name, policyName);
    }
    this.policies.delete(name);
    this.operatorPolicies.delete(name);
    this.setVhostLimits(name, {});
    this.vhosts.delete(name);
    this.journal?.vhost(name, false);
    this.wakeShards();
    return true;
  }

  /**
   * Flushes client output and wakes the shards after work that did not come from a socket
   * (the management API): commands it wrote wait in the rings until then.
   */
  wakeShards(): void {
    this.scheduleFlush();
  }

  /** TopologyObserver: durable changes go to the definition journal. */
  exchangeChanged(exchange: Exchange, isPresent: boolean): void {
    if (isPresent) this.applyExchangePolicy(exchange);
    this.journal?.exchange(exchange, isPresent);
  }

  queueChanged(queue: QueueRecord, isPresent: boolean): void {
    this.journal?.queue(queue, isPresent);
  }

  bindingChanged(binding: Binding, isPresent: boolean): void {
    this.journal?.binding(binding, isPresent);
  }

  /**
   * Sampled counters from every shard (queue depths, totals, log syncs), asked over the control
   * plane so the data path never carries statistics. For management and metrics.
   */
  shardStats(): Promise<ShardStats[]> {
    return Promise.all(
      this.threads.map(
        (thread) =>
          new Promise<ShardStats>((resolve) => {
            const requestId = ++this.statsRequestId;
            const onMessage = (message: {
              type: string;
              requestId?: number;
              stats?: ShardStats;
            }) => {
              if (message.type !== 'stats' || message.requestId !== requestId) return;
              thread.worker.off('message', onMessage);
              resolve(message.stats!);
            };
            thread.worker.on('message', onMessage);
            thread.worker.postMessage({ type: 'stats', requestId });
          }),
      ),
    );
  }

  /** Bytes waiting in each shard's command and event rings (occupancy). */
  ringOccupancy(): {
    shardIndex: number;
    commandRingBytes: number;
    eventRingBytes: number;
    ringBytes: number;
  }[] {
    return this.links.map((link) => ({
      shardIndex: link.shardIndex,
      commandRingBytes: link.outbox.ringUsedBytes,
      eventRingBytes: link.eventRingUsedBytes,
      ringBytes: this.options.ringBytes,
    }));
  }

  /** Calls back once every definition change made so far is durable. */
  whenDefinitionsDurable(callback: () => void): void {
    if (this.journal === null) callback();
    else this.journal.whenDurable(callback);
  }

  /** Each shard's liveness (running, unresponsive or stopped), for the health checks. */
  shardHealth(): ShardHealth[] {
    return this.liveness?.health() ?? [];
  }

  /**
   * Test hook: blocks a shard thread for `durationMs`, as a shard stuck in a loop would be, so
   * tests can see the liveness checks fail. Control plane only.
   */
  blockShardForTest(shardIndex: number, durationMs: number): void {
    this.threads[shardIndex]?.worker.postMessage({ type: 'block', ms: durationMs });
  }

  /**
   * A shard's log failed a write or sync (disk full, I/O error; its publishes were nacked) or
   * works again. The broker runs on: the disk alarm blocks publishers while any log fails.
   */
  private onLogHealth(health: ShardLogHealth): void {
    if (health.isFailing) {
      this.log(
        'error',
        'shard log write failed; publishes that needed it were nacked, retrying each second under a disk alarm',
        {
          shard: health.shardIndex,
          reason: health.reason,
        },
      );
    } else {
      this.log('info', 'shard log writes work again', { shard: health.shardIndex });
    }
    // Kept here too: a shard may report while the broker starts, before the alarms exist.
    if (health.isFailing) this.failingLogShards.add(health.shardIndex);
    else this.failingLogShards.delete(health.shardIndex);
    this.alarms?.setLogFailing(health.shardIndex, health.isFailing);
  }

  private onShardFailure(shardIndex: number, error: Error): void {
    // A shard dies only on a bug: its state cannot be trusted, and recovery from the log on the
    // next start is the way back.
    this.log('error', 'shard failed; stopping the broker', { shard: shardIndex, err: error });
    process.exit(70);
  }

  nextConsumerId(): number {
    return this.nextConsumerIdValue++;
  }

  /** "amq.gen-" plus 22 URL-safe base64 characters, as RabbitMQ names things. */
  serverGeneratedName(prefix: string): string {
    return prefix + randomBytes(16).toString('base64url');
  }

  /** Which shard owns a queue: a stable hash of vhost and name. */
  shardIndexFor(vhost: string, name: string): number {
    let hash = 0x811c9dc5;
    const key = `${vhost}\u0000${name}`;
    for (let i = 0; i < key.length; i++) {
      hash ^= key.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    return (hash >>> 0) % this.links.length;
  }

  /** Creates a queue in its shard and records it; the caller has checked it does not exist. */
  createQueue(
    vhost: VirtualHost,
    name: string,
    flags: { isDurable: boolean; isAutoDelete: boolean; ownerConnectionId: number },
    args: FieldTable,
    restored: { queueId: number; shardIndex: number } | null = null,
  ): QueueRecord {
    if (restored === null) validateQueueArguments(args, name, vhost.name);
    const queue = new QueueRecord(
      restored?.queueId ?? this.nextQueueIdValue++,
      vhost.name,
      name,
      // A restored queue stays where its messages are, whatever the hash says today.
      restored?.shardIndex ?? this.shardIndexFor(vhost.name, name),
      // RabbitMQ ignores durable for exclusive queues: they die with their connection anyway.
      { ...flags, isDurable: flags.isDurable && flags.ownerConnectionId === 0 },
      args,
    );
    queue.setEffectiveArguments(
      effectiveQueueArguments(
        args,
        policyForQueue(this.policies.get(vhost.name), name),
        policyForQueue(this.operatorPolicies.get(vhost.name), name),
      ),
    );
    vhost.addQueue(queue);
    if (queue.expiresMs > 0) {
      this.expiringQueues.add(queue);
      this.touchQueue(queue);
    }
    const spec: QueueSpec = {
      queueId: queue.queueId,
      vhost: vhost.name,
      name,
      isDurable: queue.isDurable,
      isAutoDelete: queue.isAutoDelete,
      isExclusive: queue.isExclusive,
      arguments: queue.effectiveArguments as Record<string, unknown>,
    };
    this.links[queue.shardIndex]!.control({ op: 'queue.create', queue: spec }, null);
    return queue;
  }

  /**
   * Adds or replaces a policy and applies it to the vhost's queues at once (their shards rebuild
   * TTL, limits and dead-lettering; a lower length limit drops heads as RabbitMQ does). Returns
   * an error text and changes nothing when the policy is invalid. For the definitions file and
   * the management API; kept in shard 0's log.
   */
  setPolicy(policy: Policy): string | null {
    const error = validatePolicy(policy);
    if (error !== null) return error;
    let policies = this.policies.get(policy.vhost);
    if (policies === undefined) this.policies.set(policy.vhost, (policies = new Map()));
    policies.set(policy.name, policy);
    this.journal?.policy(policy, true);
    this.applyPolicies(policy.vhost);
    return null;
  }

  /**
   * Adds or replaces an operator policy (RabbitMQ's caps on TTLs, expiry and length limits that
   * users' policies and arguments cannot raise) and applies it at once, as setPolicy does.
   */
  setOperatorPolicy(policy: Policy): string | null {
    const error = validateOperatorPolicy(policy);
    if (error !== null) return error;
    let policies = this.operatorPolicies.get(policy.vhost);
    if (policies === undefined) this.operatorPolicies.set(policy.vhost, (policies = new Map()));
    policies.set(policy.name, policy);
    this.journal?.operatorPolicy(policy, true);
    this.applyPolicies(policy.vhost);
    return null;
  }

  deleteOperatorPolicy(vhost: string, name: string): void {
    const policy = this.operatorPolicies.get(vhost)?.get(name);
    if (policy === undefined) return;
    this.operatorPolicies.get(vhost)!.delete(name);
    this.journal?.operatorPolicy(policy, false);
    this.applyPolicies(vhost);
  }

  /**
   * Replaces a vhost's limits ({} clears them); kept in shard 0's log. Returns an error text and
   * changes nothing when they are invalid. Connections and queues already there stay, as in
   * RabbitMQ: a lower limit only refuses new ones.
   */
  setVhostLimits(vhostName: string, limits: VhostLimits): string | null {
    const error = validateVhostLimits(limits);
    if (error !== null) return error;
    const vhost = this.vhosts.get(vhostName);
    if (vhost === undefined) return `no vhost '${vhostName}'`;
    const isEmpty = Object.keys(limits).length === 0;
    if (isEmpty && Object.keys(vhost.limits).length === 0) return null;
    vhost.limits = { ...limits };
    this.journal?.vhostLimits(vhostName, isEmpty ? null : vhost.limits);
    return null;
  }

  /**
   * queue.declare past the vhost's queue limit (its max-queues or --max-queues-per-vhost, the
   * lower) fails with 406 and RabbitMQ's text.
   */
  checkQueueLimit(vhost: VirtualHost, name: string): void {
    const queueMax = effectiveLimit(vhost.limits['max-queues'], this.options.queueMaxPerVhost);
    if (queueMax === null || vhost.queues.size < queueMax) return;
    throw channelError(
      PRECONDITION_FAILED,
      `cannot declare queue '${name}' in vhost '${vhost.name}': vhost queue limit (${queueMax}) is reached`,
      50,
      10,
    );
  }

  /** Removes a policy (a missing one is fine) and applies what is left. */
  deletePolicy(vhost: string, name: string): void {
    const policy = this.policies.get(vhost)?.get(name);
    if (policy === undefined) return;
    this.policies.get(vhost)!.delete(name);
    this.journal?.policy(policy, false);
    this.applyPolicies(vhost);
  }

  private applyPolicies(vhostName: string): void {
    const vhost = this.vhosts.get(vhostName);
    if (vhost === undefined) return;
    const policies = this.policies.get(vhostName);
    const operatorPolicies = this.operatorPolicies.get(vhostName);
    for (const exchange of vhost.exchanges.values()) this.applyExchangePolicy(exchange);
    for (const queue of vhost.queues.values()) {
      const effective = effectiveQueueArguments(
        queue.arguments,
        policyForQueue(policies, queue.name),
        policyForQueue(operatorPolicies, queue.name),
      );
      if (fieldTablesEquivalent(effective, queue.effectiveArguments)) continue;
      queue.setEffectiveArguments(effective);
      if (queue.expiresMs > 0 && !this.expiringQueues.has(queue)) {
        this.expiringQueues.add(queue);
        this.touchQueue(queue);
      }
      this.armQueueExpiry();
      this.links[queue.shardIndex]!.control(
        {
          op: 'queue.arguments',
          queueId: queue.queueId,
          arguments: effective as Record<string, unknown>,
        },
        null,
      );
    }
    for (let i = 0; i < this.links.length; i++) this.links[i]!.flush();
  }

  /** Sets an exchange's policy alternate-exchange (declared ones and new ones alike). */
  applyExchangePolicy(exchange: Exchange): void {
    const policy = policyForExchange(this.policies.get(exchange.vhost), exchange.name);
    const alternate = policy?.definition['alternate-exchange'];
    exchange.policyAlternateExchange = typeof alternate === 'string' ? alternate : null;
  }

  checkQueueEquivalent(
    existing: QueueRecord,
    method: Extract<AmqpMethod, { method: 'queue.declare' }>,
  ): void {
    const what = resourceName('queue', existing.name, existing.vhost);
    if (method.exclusive !== existing.isExclusive) {
      throw channelError(
        RESOURCE_LOCKED,
        `cannot obtain exclusive access to locked ${what}. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
        50,
        10,
      );
    }
    const durable = method.durable && !method.exclusive;
    if (durable !== existing.isDurable) {
      throw channelError(
        PRECONDITION_FAILED,
        `inequivalent arg 'durable' for ${what}: received '${durable}' but current is '${existing.isDurable}'`,
        50,
        10,
      );
    }
    if (method.autoDelete !== existing.isAutoDelete) {
      throw channelError(
        PRECONDITION_FAILED,
        `inequivalent arg 'auto_delete' for ${what}: received '${method.autoDelete}' but current is '${existing.isAutoDelete}'`,
        50,
        10,
      );
    }
    checkQueueArgumentsEquivalent(
      method.arguments,
      existing.arguments,
      existing.name,
      existing.vhost,
    );
  }

  /**
   * Deletes a queue: unbinds it, cancels its consumers (notifying clients that asked), and
   * drops its messages in the shard. With `isIfEmpty` the shard decides, and nothing changes
   * if it refuses. `done` gets an error text or the number of messages deleted.
   */
  deleteQueue(
    queue: QueueRecord,
    conditions: { isIfEmpty: boolean; isIfUnused: boolean } | null,
    done: ((error: string | null, messageCount: number) => void) | null,
  ): void {
    const isConditional = conditions !== null && (conditions.isIfEmpty || conditions.isIfUnused);
    if (queue.isDeleted) {
      done?.(null, 0);
      return;
    }
    const vhost = this.vhosts.get(queue.vhost);
    const forget = () => {
      vhost?.removeQueue(queue);
      for (const consumer of [...queue.consumers]) {
        queue.consumers.delete(consumer);
        (consumer as ChannelConsumer).channel.cancelFromServer(consumer as ChannelConsumer);
      }
      if (queue.isExclusive)
        this.connections.get(queue.ownerConnectionId)?.exclusiveQueues.delete(queue);
    };
    if (!isConditional) forget();
    this.links[queue.shardIndex]!.control(
      {
        op: 'queue.delete',
        queueId: queue.queueId,
        isIfEmpty: conditions?.isIfEmpty ?? false,
        isIfUnused: conditions?.isIfUnused ?? false,
      },
      {
        onReply: (replyCode, value, replyText) => {
          if (replyCode !== 0) {
            done?.(replyText, 0);
            return;
          }
          if (isConditional) forget();
          done?.(null, value);
        },
      },
    );
  }

  /**
   * A queue was used (declared, consumed from, fetched from, or left by its last consumer): its
   * x-expires lease starts again. RabbitMQ's "unused" means no consumers, no basic.get and no
   * redeclare for the whole x-expires period.
   */
  touchQueue(queue: QueueRecord): void {
    if (queue.expiresMs === 0) return;
    queue.lastUsedMs = Date.now();
    this.armQueueExpiry();
  }

  private armQueueExpiry(): void {
    let atMs = Infinity;
    for (const queue of this.expiringQueues) {
      if (queue.consumers.size > 0) continue;
      atMs = Math.min(atMs, queue.lastUsedMs + queue.expiresMs);
    }
    if (atMs === this.queueExpiryAtMs) return;
    if (this.queueExpiryTimer !== null) clearTimeout(this.queueExpiryTimer);
    this.queueExpiryTimer = null;
    this.queueExpiryAtMs = atMs;
    if (atMs === Infinity || this.isStopping) return;
    this.queueExpiryTimer = setTimeout(() => this.expireQueues(), Math.max(0, atMs - Date.now()));
    this.queueExpiryTimer.unref();
  }

  private expireQueues(): void {
    this.queueExpiryTimer = null;
    this.queueExpiryAtMs = Infinity;
    const nowMs = Date.now();
    for (const queue of [...this.expiringQueues]) {
      if (queue.isDeleted) {
        this.expiringQueues.delete(queue);
        continue;
      }
      if (queue.consumers.size > 0 || queue.lastUsedMs + queue.expiresMs > nowMs) continue;
      this.expiringQueues.delete(queue);
      this.log('debug', 'queue expired (x-expires)', { queue: queue.name, vhost: queue.vhost });
      this.deleteQueue(queue, null, null);
    }
    for (let i = 0; i < this.links.length; i++) this.links[i]!.flush();
    this.armQueueExpiry();
  }

  /** A consumer left its queue (cancel or channel close): auto-delete the queue if it was the last. */
  detachConsumer(consumer: ChannelConsumer): void {
    const queue = consumer.queue;
    queue.consumers.delete(consumer);
    if (queue.consumers.size === 0) this.touchQueue(queue);
    if (
      queue.isAutoDelete &&
      queue.hasHadConsumer &&
      queue.consumers.size === 0 &&
      !queue.isDeleted
    ) {
      this.deleteQueue(queue, null, null);
    }
  }
}

/** What startBroker() returns. */
export interface RunningBroker {
  /** The AMQP port actually bound (useful with port 0). */
  port: number;
  /** The amqps port bound, or null when no certificate is configured. */
  tlsPort: number | null;
  /** The broker itself, for in-process inspection. */
  broker: Broker;
  /** Closes connections with 320 CONNECTION_FORCED, stops shards, releases the port. */
  close(): Promise<void>;
}

/**
 * Starts a broker in this process with the given options (the rest default as for `npm start`).
 * Port 0 picks a free port.
 */
export async function startBroker(options: Partial<BrokerOptions> = {}): Promise<RunningBroker> {
  const broker = new Broker(resolveOptions(options));
  const port = await broker.start();
  return { port, tlsPort: broker.tlsPort, broker, close: () => broker.stop() };
}

/**
 * Whether dead-lettering to `queueName` closes a cycle with no rejection in it: the x-death
 * entries up to and including the newest one for that queue all have reasons other than
 * "rejected" (rabbit_dead_letter:is_cycle). Anything unexpected in the list means a client put
 * it there, so the cycle is not fully automatic.
 */
function isDeathCycle(queueName: string, deaths: unknown[]): boolean {
  for (const death of deaths) {
    if (death === null || typeof death !== 'object' || Array.isArray(death)) return false;
    const table = death as Record<string, unknown>;
    if (table['reason'] === 'rejected') return false;
    if (table['queue'] === queueName) return true;
  }
  return false;
}

const isLinkBlocked = (link: ShardLink): boolean => link.outbox.isBlocked;
const hasPendingEvents = (link: ShardLink): boolean => link.hasPendingEvents;
const hasPendingCommands = (link: ShardLink): boolean => link.hasPendingCommands;
