// The network thread's composition root: it builds the broker's parts, starts them in order
// (listeners bound, shards recovered, definitions restored, then clients served), stops them,
// and offers management the operations it needs. Network thread only. Each job lives in its
// own module: listeners.ts, input-turns.ts, shard-events.ts, queue-lifecycle.ts,
// policy-store.ts, vhost-registry.ts, recovery.ts, connection.ts and channel*.ts.

import type { Socket } from 'node:net';
import { type AmqpMethod, type FieldTable } from '../codec/index.js';
import {
  startShardThreads,
  stopShardThreads,
  type ShardLogHealth,
  type ShardStats,
  type ShardThread,
} from '../shard/api.js';
import { LatencyHistogram } from '../util/index.js';
import { AccessControl } from './access-control.js';
import type { BatchClock } from './confirm-tracker.js';
import { Connection, type ConnectionHost } from './connection.js';
import { ConsumerRegistry } from './consumer.js';
import { DeadLetterRouting } from './dead-letter-routing.js';
import { DefinitionJournal } from './definition-journal.js';
import type { DefinitionsTarget } from './definitions.js';
import type { Exchange, QueueRecord } from './exchange.js';
import { InputTurns } from './input-turns.js';
import { AmqpListeners } from './listeners.js';
import { createLogger, type Logger, type LogLevel } from './logger.js';
import type { CoarseClock, NetServices, PublishGate, ReplyTarget } from './net-services.js';
import { type BrokerOptions } from './options.js';
import type { Policy } from './policies.js';
import { PolicyStore } from './policy-store.js';
import {
  type DeleteConditions,
  type DeleteDone,
  type QueueFlags,
  QueueLifecycle,
} from './queue-lifecycle.js';
import { loadInitialDefinitions, logRecovery, restoreDefinitions } from './recovery.js';
import {
  type AlarmLimits,
  type AlarmResource,
  alarmReason,
  ResourceAlarms,
} from './resource-alarms.js';
import { Router } from './router.js';
import { ShardEventDispatcher } from './shard-events.js';
import { type ShardHealth, ShardLiveness } from './shard-liveness.js';
import { ShardLink } from './shard-link.js';
import type { VhostLimits } from './vhost-limits.js';
import { VhostRegistry } from './vhost-registry.js';
import type { VirtualHost } from './vhost.js';

export const WARREN_VERSION = '0.1.0';
/** The RabbitMQ version whose API and definitions format Warren follows. */
export const RABBITMQ_VERSION = '3.10.0';

/** Bucket bounds of the confirm latency histogram, ms (0.1 ms to 10 s). */
export const CONFIRM_LATENCY_BOUNDS_MS = [
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
];

export class Broker implements ConnectionHost, DefinitionsTarget {
  readonly options: BrokerOptions;
  /** Network thread only; shard threads' lines arrive here over the control plane. */
  readonly logger: Logger;
  readonly access = new AccessControl();
  readonly router = new Router();
  readonly vhosts = new Map<string, VirtualHost>();
  readonly connections = new Map<number, Connection>();
  readonly consumers = new ConsumerRegistry();
  readonly clock: CoarseClock = { nowMs: Date.now() };
  readonly batchClock: BatchClock = { nowMs: performance.now() };
  /** Publish arrival to basic.ack sent, for every confirmed publish (management reads it). */
  readonly confirmLatency = new LatencyHistogram(CONFIRM_LATENCY_BOUNDS_MS);
  readonly serverProperties: FieldTable;
  /** One per shard, filled when the shards start. */
  readonly links: ShardLink[] = [];
  /** Connections past connection.open-ok and not yet closed. */
  openConnectionCount = 0;
  private readonly journal = new DefinitionJournal();
  private readonly policyStore: PolicyStore;
  private readonly queues: QueueLifecycle;
  private readonly vhostRegistry: VhostRegistry;
  private readonly turns = new InputTurns();
  private readonly listeners = new AmqpListeners();
  private readonly publishGate: PublishGate = { isBlocked: false, reasonText: '' };
  private readonly replyTargets = new Map<string, ReplyTarget>();
  private readonly services: NetServices;
  private threads: ShardThread[] = [];
  private liveness: ShardLiveness | null = null;
  private alarms: ResourceAlarms | null = null;
  /** Shards whose logs fail writes now (they raise the disk alarm). */
  private readonly failingLogShards = new Set<number>();
  private ticker: NodeJS.Timeout | null = null;
  private nextConnectionId = 1;
  private statsRequestId = 0;
  private isStopping = false;

  constructor(options: BrokerOptions) {
    this.options = options;
    this.logger = createLogger(options.logLevel, options.logFormat);
    this.serverProperties = serverProperties();
    this.policyStore = new PolicyStore(this.journal, (vhostName) =>
      this.queues.applyPolicies(vhostName),
    );
    this.queues = new QueueLifecycle(
      this.vhosts,
      this.policyStore,
      options.queueMaxPerVhost,
      this.logger,
      (callback) => this.journal.whenDurable(callback),
      (queue) => this.connections.get(queue.ownerConnectionId)?.exclusiveQueues.delete(queue),
    );
    this.vhostRegistry = new VhostRegistry(
      this.vhosts,
      this.journal,
      this.policyStore,
      this.queues,
      this.access,
      (vhost, reason) => {
        for (const connection of [...this.connections.values()]) {
          if (connection.vhost === vhost) connection.forceClose(reason);
        }
      },
    );
    this.access.observer = {
      userChanged: (name, user) => this.journal.user(name, user),
      permissionChanged: (vhost, user, permission) =>
        this.journal.permission(vhost, user, permission),
    };
    this.services = {
      options,
      logger: this.logger,
      clock: this.clock,
      batchClock: this.batchClock,
      confirmLatency: this.confirmLatency,
      serverProperties: this.serverProperties,
      access: this.access,
      vhosts: this.vhosts,
      queues: this.queues,
      router: this.router,
      links: this.links,
      consumers: this.consumers,
      replyTargets: this.replyTargets,
      turns: this.turns,
      publishGate: this.publishGate,
      whenDefinitionsDurable: (callback) => this.journal.whenDurable(callback),
      log: (level, text, context) => this.log(level, text, context),
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

  /** The amqps port bound, or null without TLS. */
  get tlsPort(): number | null {
    return this.listeners.tlsPort;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Binds the listeners (a taken port fails here, before any recovery), starts and recovers the
   * shards, restores and loads definitions, then serves clients. Returns the AMQP port.
   */
  async start(): Promise<number> {
    const options = this.options;
    await this.listeners.bind(options, (error, peer) =>
      this.log('debug', 'TLS handshake failed', { peer, error: error.message }),
    );
    try {
      await this.startShardsAndRecover();
    } catch (error) {
      await this.listeners.close();
      throw error;
    }
    this.listeners.open((socket) => this.accept(socket));
    return this.listeners.port;
  }

  private async startShardsAndRecover(): Promise<void> {
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
    const events = new ShardEventDispatcher(
      this.connections,
      this.consumers,
      new DeadLetterRouting(this.vhosts, this.router, this.links),
      this.batchClock,
    );
    for (const thread of this.threads) {
      this.links.push(
        new ShardLink(
          thread,
          events,
          () => this.turns.onLinkUnblocked(),
          () => this.turns.scheduleFlush(),
        ),
      );
    }
    this.turns.attach(this.links);
    this.queues.attach(this.links);
    this.journal.attach(this.links[0]!);
    // Rebuild what shard 0's log kept; those records are there already, so nothing is re-written.
    restoreDefinitions(this, this.queues, this.links.length, this.threads[0]!.ready.definitions);
    this.journal.isRecording = true;
    loadInitialDefinitions(this, options);
    // Every durable queue exists in its shard now; what no queue claimed is gone for good.
    await Promise.all(this.links.map((link) => link.request({ op: 'recovery.done' })));
    await this.journal.whenDurablePromise();
    logRecovery(this.services, this.threads, Date.now() - startedMs);
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
  }

  /** Stops accepting, closes every connection with 320 CONNECTION_FORCED, stops the shards. */
  async stop(): Promise<void> {
    if (this.isStopping) return;
    this.isStopping = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    this.alarms?.stop();
    this.queues.stop();
    const closed = this.listeners.close();
    for (const connection of [...this.connections.values()]) {
      connection.forceClose("broker forced connection closure with reason 'shutdown'");
    }
    this.turns.flushDirty();
    // Give clients a moment to answer close-ok, then drop whatever is left.
    const deadline = Date.now() + 1000;
    while (this.connections.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const connection of [...this.connections.values()]) connection.destroy();
    await closed;
    for (const link of this.links) link.stop();
    await stopShardThreads(this.threads);
  }

  private accept(socket: Socket): void {
    if (this.isStopping) {
      socket.destroy();
      return;
    }
    const connection = new Connection(this.services, this, this.nextConnectionId++, socket);
    this.connections.set(connection.connectionId, connection);
  }

  /** ConnectionHost: connection.open-ok was sent. */
  onOpened(connection: Connection): void {
    this.openConnectionCount++;
    connection.vhost!.openConnectionCount++;
    const product = connection.clientProperties['product'];
    this.log('info', 'connection opened', {
      connection: connection.name,
      user: connection.userName,
      vhost: connection.vhost?.name ?? '',
      ...(typeof product === 'string' ? { client: product } : {}),
    });
    if (this.publishGate.isBlocked) connection.notifyBlocked(this.publishGate.reasonText);
  }

  /** ConnectionHost: the socket is gone. */
  onClosed(connection: Connection): void {
    if (connection.vhost !== null && this.connections.has(connection.connectionId)) {
      this.openConnectionCount--;
      connection.vhost.openConnectionCount--;
    }
    this.connections.delete(connection.connectionId);
    this.turns.forget(connection);
    // Releasing its channels wrote commands outside any socket-input batch: wake the shards.
    this.turns.wakeShards();
  }

  private tick(): void {
    const nowMs = Date.now();
    this.clock.nowMs = nowMs;
    this.liveness?.tick(nowMs);
    for (const connection of this.connections.values()) connection.tick(nowMs);
    this.turns.flushDirty();
    // A channel closed by a consumer timeout told its shards.
    this.turns.wakeShards();
  }

  /** Writes every connection's pending output now (outside socket input and shard events). */
  flushDirty(): void {
    this.turns.flushDirty();
  }

  /**
   * Flushes client output and wakes the shards after work that did not come from a socket
   * (the management API): commands it wrote wait in the rings until then.
   */
  wakeShards(): void {
    this.turns.scheduleFlush();
  }

  // ---------------------------------------------------------------- resource alarms

  /** Memory or disk alarm in effect: connections that publish stop being read. */
  get isPublishBlocked(): boolean {
    return this.publishGate.isBlocked;
  }

  get alarmReasonText(): string {
    return this.publishGate.reasonText;
  }

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
    const gate = this.publishGate;
    const wasBlocked = gate.isBlocked;
    gate.isBlocked = active.size > 0;
    gate.reasonText = alarmReason(active);
    if (gate.isBlocked) {
      this.log('warn', 'resource alarm raised; publishers are blocked', {
        alarms: [...active],
        reason: gate.reasonText,
      });
    } else {
      this.log('info', 'resource alarms cleared; publishers may publish again');
    }
    if (gate.isBlocked === wasBlocked) return;
    for (const connection of this.connections.values()) {
      if (gate.isBlocked) connection.notifyBlocked(gate.reasonText);
      else connection.unblockAfterAlarm();
    }
    this.turns.flushDirty();
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

  // ---------------------------------------------------------------- topology (management)

  get policies(): ReadonlyMap<string, ReadonlyMap<string, Policy>> {
    return this.policyStore.policies;
  }

  get operatorPolicies(): ReadonlyMap<string, ReadonlyMap<string, Policy>> {
    return this.policyStore.operatorPolicies;
  }

  addVhost(name: string): VirtualHost {
    return this.vhostRegistry.addVhost(name);
  }

  /** Deletes a vhost and everything in it (RabbitMQ's rules); returns whether it existed. */
  deleteVhost(name: string): boolean {
    const existed = this.vhostRegistry.deleteVhost(name);
    if (existed) this.wakeShards();
    return existed;
  }

  setVhostLimits(vhostName: string, limits: VhostLimits): string | null {
    return this.vhostRegistry.setVhostLimits(vhostName, limits);
  }

  setPolicy(policy: Policy): string | null {
    return this.policyStore.setPolicy(policy);
  }

  deletePolicy(vhost: string, name: string): void {
    this.policyStore.deletePolicy(vhost, name);
  }

  setOperatorPolicy(policy: Policy): string | null {
    return this.policyStore.setOperatorPolicy(policy);
  }

  deleteOperatorPolicy(vhost: string, name: string): void {
    this.policyStore.deleteOperatorPolicy(vhost, name);
  }

  /** Which shard owns a queue: a stable hash of vhost and name. */
  shardIndexFor(vhost: string, name: string): number {
    return this.queues.shardIndexFor(vhost, name);
  }

  createQueue(vhost: VirtualHost, name: string, flags: QueueFlags, args: FieldTable): QueueRecord {
    return this.queues.createQueue(vhost, name, flags, args);
  }

  deleteQueue(queue: QueueRecord, conditions: DeleteConditions | null, done: DeleteDone | null) {
    this.queues.deleteQueue(queue, conditions, done);
  }

  checkQueueLimit(vhost: VirtualHost, name: string): void {
    this.queues.checkQueueLimit(vhost, name);
  }

  checkQueueEquivalent(
    existing: QueueRecord,
    method: Extract<AmqpMethod, { method: 'queue.declare' }>,
  ): void {
    this.queues.checkQueueEquivalent(existing, method);
  }

  /** Sets an exchange's policy alternate-exchange. */
  applyExchangePolicy(exchange: Exchange): void {
    this.policyStore.applyExchangePolicy(exchange);
  }

  /** Calls back once every definition change made so far is durable. */
  whenDefinitionsDurable(callback: () => void): void {
    this.journal.whenDurable(callback);
  }

  // ---------------------------------------------------------------- shard state (management)

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
}

/** connection.start's server-properties, with the capabilities RabbitMQ advertises. */
function serverProperties(): FieldTable {
  return {
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
