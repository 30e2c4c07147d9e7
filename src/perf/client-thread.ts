// A client thread of warren-perf: the piscina task that runs one thread's share of producers
// and consumers for the whole run. It connects, waits for the main thread's start, publishes
// from one pump per thread (one setImmediate per turn while work is ready, a timer while rate
// limited, a wake-up on confirm or drain when blocked), reports counters every 100 ms and latency
// histograms every second over its MessagePort, and resolves with its totals when told to finish.

import { performance } from 'node:perf_hooks';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { MessagePort } from 'node:worker_threads';
import { AmqpConnection, type DrainListener } from './amqp-connection.js';
import { parseAmqpUri } from './amqp-uri.js';
import { Consumer } from './consumer.js';
import { BrokerError, toBrokerError } from './errors.js';
import { createLatencyHistogram, encodeHistogram, type Histogram } from './latency.js';
import { Producer, PUBLISH_READY, type PumpScheduler } from './producer.js';
import {
  zeroCounters,
  type ClientThreadResult,
  type ClientThreadTask,
  type ThreadCommand,
  type ThreadCounters,
  type ThreadReport,
} from './thread-protocol.js';

const PROGRESS_INTERVAL_MS = 100;
const HISTOGRAM_EVERY_TICKS = 10;

/** The piscina entry: runs the task's producers and consumers until the main thread says finish. */
export default async function runClientThread(task: ClientThreadTask): Promise<ClientThreadResult> {
  const thread = new ClientThread(task);
  try {
    return await thread.run();
  } catch (error) {
    // Cross the thread boundary as plain data: piscina clones errors, but not their class.
    const failure = toBrokerError(error);
    task.port.postMessage({
      kind: 'failed',
      error: { code: failure.code, message: failure.message },
    } satisfies ThreadReport);
    throw Object.assign(new Error(failure.message), { code: failure.code });
  } finally {
    await thread.dispose();
  }
}

/** One pump per thread: runs every producer's batch, then flushes their connections once. */
class PublishPump implements PumpScheduler, DrainListener {
  private readonly producers: Producer[];
  private readonly connections: AmqpConnection[];
  private isScheduled: boolean;
  private isRunning: boolean;
  private timer: NodeJS.Timeout | null;
  private readonly runCallback: () => void;
  private readonly timerCallback: () => void;

  constructor(producers: Producer[], connections: AmqpConnection[]) {
    this.producers = producers;
    this.connections = connections;
    this.isScheduled = false;
    this.isRunning = false;
    this.timer = null;
    this.runCallback = () => {
      this.isScheduled = false;
      this.run();
    };
    this.timerCallback = () => {
      this.timer = null;
      this.run();
    };
  }

  start(): void {
    const nowMs = performance.now();
    for (const producer of this.producers) producer.start(nowMs);
    this.isRunning = true;
    this.schedule();
  }

  stop(): void {
    this.isRunning = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  schedule(): void {
    if (this.isScheduled || !this.isRunning) return;
    this.isScheduled = true;
    setImmediate(this.runCallback);
  }

  onDrain(): void {
    this.schedule();
  }

  private run(): void {
    if (!this.isRunning) return;
    const nowMs = performance.now();
    let isReady = false;
    let waitMs = Infinity;
    for (const producer of this.producers) {
      const outcome = producer.publishBatch(nowMs);
      if (outcome === PUBLISH_READY) isReady = true;
      else if (outcome > 0 && outcome < waitMs) waitMs = outcome;
    }
    for (const connection of this.connections) connection.flush();
    if (isReady) this.schedule();
    else if (waitMs !== Infinity && this.timer === null) {
      this.timer = setTimeout(this.timerCallback, Math.max(1, Math.ceil(waitMs)));
    }
  }
}

class ClientThread {
  private readonly task: ClientThreadTask;
  private readonly port: MessagePort;
  private readonly connections: AmqpConnection[];
  private readonly producers: Producer[];
  private readonly consumers: Consumer[];
  private pump: PublishPump | null;
  private readonly confirmInterval: Histogram;
  private readonly endToEndInterval: Histogram;
  private readonly confirmTotal: Histogram;
  private readonly endToEndTotal: Histogram;
  private baseline: ThreadCounters;
  private measureStart: EventLoopUtilization | null;
  private busyRatio: number;
  private progressTimer: NodeJS.Timeout | null;
  private tickCount: number;
  private readonly failed: Promise<never>;
  private rejectFailed: (error: Error) => void;
  private readonly started: Promise<void>;
  private resolveStarted: () => void;
  private readonly finished: Promise<void>;
  private resolveFinished: () => void;
  private isDisposed: boolean;

  constructor(task: ClientThreadTask) {
    this.task = task;
    this.port = task.port;
    this.connections = [];
    this.producers = [];
    this.consumers = [];
    this.pump = null;
    this.confirmInterval = createLatencyHistogram();
    this.endToEndInterval = createLatencyHistogram();
    this.confirmTotal = createLatencyHistogram();
    this.endToEndTotal = createLatencyHistogram();
    this.baseline = zeroCounters();
    this.measureStart = null;
    this.busyRatio = 0;
    this.progressTimer = null;
    this.tickCount = 0;
    this.rejectFailed = () => {};
    this.failed = new Promise<never>((_, reject) => {
      this.rejectFailed = reject;
    });
    this.failed.catch(() => {});
    this.resolveStarted = () => {};
    this.started = new Promise<void>((resolve) => {
      this.resolveStarted = resolve;
    });
    this.resolveFinished = () => {};
    this.finished = new Promise<void>((resolve) => {
      this.resolveFinished = resolve;
    });
    this.isDisposed = false;
  }

  async run(): Promise<ClientThreadResult> {
    this.port.on('message', (command: ThreadCommand) => this.onCommand(command));
    await Promise.race([this.connectAll(), this.failed]);
    this.post({ kind: 'ready' });
    await Promise.race([this.started, this.failed]);
    await Promise.race([this.finished, this.failed]);
    this.stopPublishing();
    for (const consumer of this.consumers) consumer.ackRemaining();
    for (const connection of this.connections) connection.flush();
    if (this.progressTimer !== null) clearInterval(this.progressTimer);
    this.progressTimer = null;
    this.foldIntervals();
    const counters = this.counters();
    await Promise.race([
      Promise.all(this.connections.map((connection) => connection.close())),
      this.failed,
    ]);
    return {
      threadIndex: this.task.threadIndex,
      counters,
      baseline: this.baseline,
      confirmLatency: encodeHistogram(this.confirmTotal),
      endToEndLatency: encodeHistogram(this.endToEndTotal),
      busyRatio: this.busyRatio,
    };
  }

  /** Closes whatever is still open and releases the port; safe after a failure. */
  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    this.isDisposed = true;
    this.pump?.stop();
    if (this.progressTimer !== null) clearInterval(this.progressTimer);
    this.progressTimer = null;
    await Promise.all(this.connections.map((connection) => connection.close()));
    this.port.close();
    for (const histogram of [
      this.confirmInterval,
      this.endToEndInterval,
      this.confirmTotal,
      this.endToEndTotal,
    ]) {
      histogram.destroy();
    }
  }

  private async connectAll(): Promise<void> {
    const { options, topology, threadIndex } = this.task;
    const address = parseAmqpUri(options.uri);
    const producerConnections: AmqpConnection[] = [];
    const nowMs = performance.now();
    const pumpProducers: Producer[] = [];
    const pump = new PublishPump(pumpProducers, producerConnections);
    this.pump = pump;
    await Promise.all(
      this.task.connections.map(async (plan, connectionIndex) => {
        const channelCount = plan.producers.length + plan.consumers.length;
        const role = plan.producers.length > 0 ? 'producers' : 'consumers';
        const connection = new AmqpConnection(
          address,
          channelCount,
          `warren-perf thread ${threadIndex} ${role} connection ${connectionIndex}`,
        );
        connection.onFailure = (error) => this.fail(error);
        this.connections.push(connection);
        await connection.open();
        let channel = 0;
        for (const producerPlan of plan.producers) {
          channel++;
          await connection.openChannel(channel);
          if (options.confirmWindow > 0) await connection.confirmSelect(channel);
          const producer = new Producer(
            connection,
            channel,
            producerPlan.targets,
            options,
            pump,
            this.confirmInterval,
            nowMs,
          );
          connection.setHandler(channel, producer);
          this.producers.push(producer);
          pumpProducers.push(producer);
        }
        if (plan.producers.length > 0) {
          connection.setDrainListener(pump);
          producerConnections.push(connection);
        }
        for (const consumerPlan of plan.consumers) {
          channel++;
          await connection.openChannel(channel);
          for (const queue of consumerPlan.declaredQueues) {
            await connection.queueDeclare(
              channel,
              queue.name,
              {
                isDurable: options.isDurable,
                isExclusive: options.isExclusive,
                isAutoDelete: options.isAutoDelete,
              },
              options.queueArguments,
            );
            if (queue.binding !== null && topology.exchange !== null) {
              await connection.queueBind(
                channel,
                queue.name,
                topology.exchange.name,
                queue.binding.routingKey,
                queue.binding.arguments,
              );
            }
          }
          if (options.prefetchCount > 0) await connection.basicQos(channel, options.prefetchCount);
          // The handler is set before consuming: deliveries may follow consume-ok at once.
          const consumer = new Consumer(connection, channel, options, this.endToEndInterval);
          connection.setHandler(channel, consumer);
          this.consumers.push(consumer);
          for (const queueName of consumerPlan.queueNames) {
            await connection.basicConsume(channel, queueName, options.isAutoAck);
          }
        }
      }),
    );
  }

  private onCommand(command: ThreadCommand): void {
    switch (command.kind) {
      case 'start':
        this.progressTimer = setInterval(() => this.tick(), PROGRESS_INTERVAL_MS);
        this.measure();
        this.post({ kind: 'measuring', counters: this.counters() });
        this.resolveStarted();
        return;
      case 'publish':
        this.pump?.start();
        return;
      case 'measure':
        this.measure();
        this.post({ kind: 'measuring', counters: this.counters() });
        return;
      case 'stop':
        this.stopPublishing();
        this.post({ kind: 'stopped', counters: this.counters(), busyRatio: this.busyRatio });
        return;
      case 'finish':
        // Also when it never started: the main thread gives up on a run that failed elsewhere.
        this.resolveStarted();
        this.resolveFinished();
        return;
    }
  }

  /** Starts measuring now: warm-up latencies and counts are forgotten. */
  private measure(): void {
    this.confirmInterval.reset();
    this.endToEndInterval.reset();
    this.confirmTotal.reset();
    this.endToEndTotal.reset();
    this.baseline = this.counters();
    this.measureStart = performance.eventLoopUtilization();
  }

  private stopPublishing(): void {
    if (this.pump === null) return;
    for (const producer of this.producers) producer.stop();
    this.pump.stop();
    if (this.measureStart !== null) {
      this.busyRatio = performance.eventLoopUtilization(this.measureStart).utilization;
      this.measureStart = null;
    }
  }

  private tick(): void {
    this.tickCount++;
    let confirmLatency: string | null = null;
    let endToEndLatency: string | null = null;
    if (this.tickCount % HISTOGRAM_EVERY_TICKS === 0) {
      confirmLatency = encodeHistogram(this.confirmInterval);
      endToEndLatency = encodeHistogram(this.endToEndInterval);
      this.foldIntervals();
    }
    this.post({ kind: 'progress', counters: this.counters(), confirmLatency, endToEndLatency });
  }

  /** Moves the interval histograms into the totals. */
  private foldIntervals(): void {
    this.confirmTotal.add(this.confirmInterval);
    this.endToEndTotal.add(this.endToEndInterval);
    this.confirmInterval.reset();
    this.endToEndInterval.reset();
  }

  private counters(): ThreadCounters {
    const counters = zeroCounters();
    for (const producer of this.producers) {
      counters.sentCount += producer.sentCount;
      counters.confirmedCount += producer.confirmedCount;
      counters.nackedCount += producer.nackedCount;
      counters.routedCount += producer.routedCount;
      counters.outstandingConfirmCount += producer.outstandingCount;
      if (producer.isDone) counters.producersDoneCount++;
      counters.lastActivityMs = Math.max(counters.lastActivityMs, producer.lastActivityMs);
    }
    for (const consumer of this.consumers) {
      counters.receivedCount += consumer.receivedCount;
      counters.foreignCount += consumer.foreignCount;
      counters.lastActivityMs = Math.max(counters.lastActivityMs, consumer.lastActivityMs);
    }
    return counters;
  }

  private post(report: ThreadReport): void {
    this.port.postMessage(report);
  }

  private fail(error: BrokerError): void {
    this.pump?.stop();
    this.rejectFailed(error);
  }
}
