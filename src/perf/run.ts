// The main thread of a warren-perf run: declares the topology on its own connection, starts one
// piscina task per client thread with a MessagePort each, starts them together, prints the
// progress line each second, stops after --duration (or when every message of --messages is
// consumed), lets confirms and deliveries in flight drain, merges the threads' counters and
// histograms, deletes the queues it created, and returns the summary. Main thread only.
// Over 600 lines because a run's phases (topology, threads, measuring, draining, cleanup) share
// its state and its stop conditions; each phase is a function of its own.

import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { AmqpConnection } from './amqp-connection.js';
import { parseAmqpUri, type AmqpAddress } from './amqp-uri.js';
import { BrokerError, toBrokerError } from './errors.js';
import {
  addEncodedHistogram,
  createLatencyHistogram,
  sharedClockMs,
  summarizeLatency,
  type Histogram,
} from './latency.js';
import { printableOptions, type PerfOptions } from './options.js';
import type { RunPlan } from './plan.js';
import { formatProgressLine, type PerfSummary } from './report.js';
import {
  addCounters,
  subtractCounters,
  zeroCounters,
  type ClientThreadResult,
  type ClientThreadTask,
  type ThreadCommand,
  type ThreadCounters,
  type ThreadReport,
} from './thread-protocol.js';

const CHECK_INTERVAL_MS = 100;
const PROGRESS_INTERVAL_MS = 1000;
const PROGRESS_LAG_MS = 150;
/** Longest wait after publishing stops for confirms and deliveries in flight. */
const DRAIN_SECONDS_MAX = 5;
/** Longest wait for every client thread to connect, or to answer stop and finish. */
const THREAD_ANSWER_TIMEOUT_MS = 15_000;
/** A --messages run without --duration fails when nothing moves for this long. */
const STALL_SECONDS_MIN = 10;
const SETUP_CHANNEL = 1;

/** Where the live progress goes. */
export interface ProgressOutput {
  write(line: string): void;
}

interface ThreadState {
  port: MessagePort;
  isReady: boolean;
  counters: ThreadCounters;
  /** Counters at start, for the --messages stop condition. */
  startBaseline: ThreadCounters | null;
  /** Counters when measuring began. */
  measureBaseline: ThreadCounters;
  stopped: ThreadCounters | null;
  busyRatio: number;
}

interface Waiter {
  condition: () => boolean;
  resolve: () => void;
}

export class PerfRun {
  private readonly options: PerfOptions;
  private readonly plan: RunPlan;
  private readonly address: AmqpAddress;
  private readonly progress: ProgressOutput | null;
  private readonly threads: ThreadState[];
  private setup: AmqpConnection | null;
  private pool: Piscina<ClientThreadTask, ClientThreadResult> | null;
  private failure: BrokerError | null;
  private waiters: Waiter[];
  private isStopRequested: boolean;
  private readonly createdQueues: string[];
  private isExchangeCreated: boolean;
  private readonly progressConfirm: Histogram;
  private readonly progressEndToEnd: Histogram;
  /** The counters at the last progress line, for its rates. */
  private previousSample: { ms: number; counters: ThreadCounters } | null;

  constructor(options: PerfOptions, plan: RunPlan, progress: ProgressOutput | null) {
    this.options = options;
    this.plan = plan;
    this.address = parseAmqpUri(options.uri);
    this.progress = progress;
    this.threads = [];
    this.setup = null;
    this.pool = null;
    this.failure = null;
    this.waiters = [];
    this.isStopRequested = false;
    this.createdQueues = [];
    this.isExchangeCreated = false;
    this.progressConfirm = createLatencyHistogram();
    this.progressEndToEnd = createLatencyHistogram();
    this.previousSample = null;
  }

  /** Ends publishing early (Ctrl-C); the run drains and reports as usual. */
  requestStop(): void {
    this.isStopRequested = true;
    this.checkWaiters();
  }

  /** Runs to the end. Throws BrokerError when the broker fails the run. */
  async run(): Promise<PerfSummary> {
    let tasks: Promise<ClientThreadResult>[] = [];
    try {
      await this.declareTopology();
      tasks = this.startThreads();
      return await this.drive(tasks);
    } catch (error) {
      const failure = this.failure ?? toBrokerError(error);
      this.broadcast({ kind: 'finish' });
      await withTimeout(Promise.allSettled(tasks), THREAD_ANSWER_TIMEOUT_MS);
      throw failure;
    } finally {
      for (const thread of this.threads) thread.port.close();
      await this.pool?.destroy();
      await this.setup?.close();
      this.progressConfirm.destroy();
      this.progressEndToEnd.destroy();
    }
  }

  private async declareTopology(): Promise<void> {
    const setup = new AmqpConnection(this.address, SETUP_CHANNEL, 'warren-perf setup');
    this.setup = setup;
    setup.onFailure = (error) => this.fail(error);
    await setup.open();
    await setup.openChannel(SETUP_CHANNEL);
    const { topology } = this.plan;
    const options = this.options;
    const exchange = topology.exchange;
    if (exchange !== null) {
      if (!exchange.isPassive && !(await setup.exchangeExists(SETUP_CHANNEL, exchange.name))) {
        this.isExchangeCreated = true;
        await setup.openChannel(SETUP_CHANNEL);
      }
      await setup.exchangeDeclare(SETUP_CHANNEL, exchange.name, exchange.type, {
        isPassive: exchange.isPassive,
        isDurable: options.isDurable,
      });
    }
    if (topology.isDeclaredByConsumers) return;
    for (const queue of topology.queues) {
      if (!(await setup.queueExists(SETUP_CHANNEL, queue.name))) {
        this.createdQueues.push(queue.name);
        await setup.openChannel(SETUP_CHANNEL);
      }
      await setup.queueDeclare(
        SETUP_CHANNEL,
        queue.name,
        { isDurable: options.isDurable, isExclusive: false, isAutoDelete: options.isAutoDelete },
        options.queueArguments,
      );
      if (queue.binding !== null && exchange !== null) {
        await setup.queueBind(
          SETUP_CHANNEL,
          queue.name,
          exchange.name,
          queue.binding.routingKey,
          queue.binding.arguments,
        );
      }
    }
  }

  private startThreads(): Promise<ClientThreadResult>[] {
    const threadCount = this.plan.threads.length;
    const pool = new Piscina<ClientThreadTask, ClientThreadResult>({
      filename: fileURLToPath(new URL('./client-thread.js', import.meta.url)),
      minThreads: threadCount,
      maxThreads: threadCount,
      concurrentTasksPerWorker: 1,
      // Our tasks keep sockets and timers alive while they run; never block between tasks.
      atomics: 'disabled',
      idleTimeout: 60_000,
    });
    this.pool = pool;
    return this.plan.threads.map((threadPlan) => {
      const { port1, port2 } = new MessageChannel();
      const state: ThreadState = {
        port: port1,
        isReady: false,
        counters: zeroCounters(),
        startBaseline: null,
        measureBaseline: zeroCounters(),
        stopped: null,
        busyRatio: 0,
      };
      this.threads.push(state);
      port1.on('message', (report: ThreadReport) => this.onReport(state, report));
      const task: ClientThreadTask = {
        threadIndex: threadPlan.threadIndex,
        options: this.options,
        topology: this.plan.topology,
        connections: threadPlan.connections,
        port: port2,
      };
      const result = pool.run(task, { transferList: [port2] });
      result.catch((error: unknown) => this.fail(toBrokerError(error)));
      return result;
    });
  }

  private async drive(tasks: Promise<ClientThreadResult>[]): Promise<PerfSummary> {
    const options = this.options;
    await this.until(
      () => this.threads.every((thread) => thread.isReady),
      THREAD_ANSWER_TIMEOUT_MS,
      'connect',
    );
    // Every thread takes its start baseline before any producer publishes: a consumer thread
    // that saw this run's first deliveries before its 'start' would otherwise count them in its
    // baseline, and a --messages run would wait for them forever ("nothing moved").
    this.broadcast({ kind: 'start' });
    await this.until(
      () => this.threads.every((thread) => thread.startBaseline !== null),
      THREAD_ANSWER_TIMEOUT_MS,
      'start',
    );
    this.broadcast({ kind: 'publish' });
    const startMs = performance.now();
    let measureMs = startMs;
    let measureSharedMs = sharedClockMs();
    let cpuStart = process.cpuUsage();
    // Lines go out a little after each whole second, once the threads' histograms of that
    // second (sent every 1000 ms from their own start) have arrived.
    let progressTimer: NodeJS.Timeout | null = null;
    const progressDelay = setTimeout(() => {
      this.printProgress(startMs);
      progressTimer = setInterval(() => this.printProgress(startMs), PROGRESS_INTERVAL_MS);
    }, PROGRESS_INTERVAL_MS + PROGRESS_LAG_MS);
    const stopProgress = () => {
      clearTimeout(progressDelay);
      if (progressTimer !== null) clearInterval(progressTimer);
    };
    const checkTimer = setInterval(() => this.checkWaiters(), CHECK_INTERVAL_MS);
    try {
      if (options.warmupSeconds > 0) {
        await this.until(() => this.isStopRequested, options.warmupSeconds * 1000, null);
        if (!this.isStopRequested) {
          this.broadcast({ kind: 'measure' });
          measureMs = performance.now();
          measureSharedMs = sharedClockMs();
          cpuStart = process.cpuUsage();
          this.progress?.write('warm-up done, measuring');
        }
      }
      const durationMs =
        options.durationSeconds > 0
          ? options.durationSeconds * 1000 - (measureMs - startMs)
          : Infinity;
      const isEveryMessageDone = await this.untilDoneOrStalled(durationMs);
      this.broadcast({ kind: 'stop' });
      const stopMs = performance.now();
      const cpu = process.cpuUsage(cpuStart);
      await this.until(
        () => this.threads.every((thread) => thread.stopped !== null),
        THREAD_ANSWER_TIMEOUT_MS,
        'stop',
      );
      // A --messages run is over when its last message arrived, up to 100 ms before we noticed.
      const lastActivityMs = this.sumCounters((thread) => thread.counters).lastActivityMs;
      const windowSeconds =
        isEveryMessageDone && lastActivityMs > measureSharedMs
          ? (lastActivityMs - measureSharedMs) / 1000
          : (stopMs - measureMs) / 1000;
      const isDrained = await this.until(() => this.isDrained(), DRAIN_SECONDS_MAX * 1000, null);
      const drainMs = performance.now() - stopMs;
      stopProgress();
      this.broadcast({ kind: 'finish' });
      const results = await withTimeout(Promise.all(tasks), THREAD_ANSWER_TIMEOUT_MS);
      if (results === undefined) {
        throw new BrokerError('client-thread-failed', 'client threads did not finish in time');
      }
      await this.deleteTopology();
      return this.summarize(results, {
        windowSeconds,
        cpuWallSeconds: (stopMs - measureMs) / 1000,
        drainSeconds: drainMs / 1000,
        isDrained,
        cpu,
      });
    } finally {
      stopProgress();
      clearInterval(checkTimer);
    }
  }

  /**
   * Waits for the duration, for --messages to be done, or for Ctrl-C; fails when stalled.
   * Resolves true when every message was sent and consumed.
   */
  private async untilDoneOrStalled(durationMs: number): Promise<boolean> {
    const options = this.options;
    const deadline = performance.now() + durationMs;
    const stallMs =
      options.durationSeconds === 0
        ? Math.max(STALL_SECONDS_MIN, options.ratePerSecond > 0 ? 3 / options.ratePerSecond : 0) *
          1000
        : Infinity;
    let lastMoved = performance.now();
    let lastActivity = -1;
    let isEveryMessageDone = false;
    await this.until(
      () => {
        if (this.isStopRequested || performance.now() >= deadline) return true;
        const sum = this.sumCounters((thread) => thread.counters);
        const activity = sum.sentCount + sum.confirmedCount + sum.nackedCount + sum.receivedCount;
        if (activity !== lastActivity) {
          lastActivity = activity;
          lastMoved = performance.now();
        } else if (performance.now() - lastMoved > stallMs) {
          throw new BrokerError(
            'stalled',
            `nothing moved for ${Math.round(stallMs / 1000)} s: sent ${sum.sentCount}, ` +
              `confirmed ${sum.confirmedCount}, received ${sum.receivedCount} ` +
              `of ${this.plan.expectedReceivedCount} expected`,
          );
        }
        isEveryMessageDone =
          (options.messagesPerProducer > 0 || options.consumerMessages > 0) &&
          this.isEveryMessageDone();
        return isEveryMessageDone;
      },
      Infinity,
      null,
    );
    return isEveryMessageDone;
  }

  private isEveryMessageDone(): boolean {
    const sum = this.sumCounters((thread) => thread.counters);
    if (this.options.consumerMessages > 0) {
      return sum.receivedCount >= this.options.consumerMessages;
    }
    if (sum.producersDoneCount < this.options.producerCount) return false;
    if (sum.outstandingConfirmCount > 0) return false;
    if (this.options.consumerCount === 0) return true;
    const start = this.sumCounters((thread) => thread.startBaseline ?? zeroCounters());
    return sum.receivedCount - start.receivedCount >= sum.routedCount - start.routedCount;
  }

  private isDrained(): boolean {
    const sum = this.sumCounters((thread) => thread.counters);
    if (sum.outstandingConfirmCount > 0) return false;
    if (this.options.consumerCount === 0) return true;
    const start = this.sumCounters((thread) => thread.startBaseline ?? zeroCounters());
    return sum.receivedCount - start.receivedCount >= sum.routedCount - start.routedCount;
  }

  private onReport(state: ThreadState, report: ThreadReport): void {
    switch (report.kind) {
      case 'ready':
        state.isReady = true;
        break;
      case 'progress':
        state.counters = report.counters;
        if (report.confirmLatency !== null)
          addEncodedHistogram(this.progressConfirm, report.confirmLatency);
        if (report.endToEndLatency !== null)
          addEncodedHistogram(this.progressEndToEnd, report.endToEndLatency);
        break;
      case 'measuring':
        state.counters = report.counters;
        state.startBaseline ??= report.counters;
        state.measureBaseline = report.counters;
        break;
      case 'stopped':
        state.counters = report.counters;
        state.stopped = report.counters;
        state.busyRatio = report.busyRatio;
        break;
      case 'failed':
        this.fail(new BrokerError(report.error.code, report.error.message));
        break;
    }
    this.checkWaiters();
  }

  private printProgress(startMs: number): void {
    const nowMs = performance.now();
    const counters = this.sumCounters((thread) => thread.counters);
    const previous = this.previousSample ?? {
      ms: startMs,
      counters: this.sumCounters((thread) => thread.startBaseline ?? zeroCounters()),
    };
    this.previousSample = { ms: nowMs, counters };
    const seconds = (nowMs - previous.ms) / 1000;
    const options = this.options;
    const line = formatProgressLine({
      elapsedSeconds: (nowMs - startMs) / 1000,
      sentPerSecond: (counters.sentCount - previous.counters.sentCount) / seconds,
      confirmedPerSecond: (counters.confirmedCount - previous.counters.confirmedCount) / seconds,
      receivedPerSecond: (counters.receivedCount - previous.counters.receivedCount) / seconds,
      confirm: summarizeLatency(this.progressConfirm),
      endToEnd: summarizeLatency(this.progressEndToEnd),
      outstandingConfirms: counters.outstandingConfirmCount,
      isProducing: options.producerCount > 0,
      isConfirming: options.producerCount > 0 && options.confirmWindow > 0,
      isConsuming: options.consumerCount > 0,
      isDraining: this.threads.some((thread) => thread.stopped !== null),
    });
    this.progressConfirm.reset();
    this.progressEndToEnd.reset();
    this.progress?.write(line);
  }

  private summarize(
    results: ClientThreadResult[],
    timing: {
      /** The measured window rates are computed over. */
      windowSeconds: number;
      /** Wall time of the CPU measurement: measuring start to stop. */
      cpuWallSeconds: number;
      drainSeconds: number;
      isDrained: boolean;
      cpu: NodeJS.CpuUsage;
    },
  ): PerfSummary {
    const { windowSeconds, cpuWallSeconds, drainSeconds, isDrained, cpu } = timing;
    const totals = zeroCounters();
    const atStop = zeroCounters();
    const confirmLatency = createLatencyHistogram();
    const endToEndLatency = createLatencyHistogram();
    for (const result of results) {
      addCounters(totals, subtractCounters(result.counters, result.baseline));
      const state = this.threads[result.threadIndex]!;
      addCounters(
        atStop,
        subtractCounters(state.stopped ?? result.counters, state.measureBaseline),
      );
      addEncodedHistogram(confirmLatency, result.confirmLatency);
      addEncodedHistogram(endToEndLatency, result.endToEndLatency);
    }
    const rate = (count: number) => (windowSeconds > 0 ? count / windowSeconds : 0);
    const userSeconds = cpu.user / 1e6;
    const systemSeconds = cpu.system / 1e6;
    const summary: PerfSummary = {
      tool: 'warren-perf',
      broker: {
        uri: this.address.displayUri,
        product: this.setup?.serverProduct ?? '',
        version: this.setup?.serverVersion ?? '',
      },
      options: printableOptions(this.options),
      layout: {
        clientThreads: this.plan.threads.length,
        producerThreads: this.plan.producerThreadCount,
        consumerThreads: this.plan.consumerThreadCount,
        connections: this.plan.connectionCount,
      },
      durationSeconds: round(windowSeconds, 3),
      drainSeconds: round(drainSeconds, 3),
      isDrained,
      totals: {
        sent: totals.sentCount,
        confirmed: totals.confirmedCount,
        nacked: totals.nackedCount,
        outstandingConfirms: totals.outstandingConfirmCount,
        routed: totals.routedCount,
        received: totals.receivedCount,
        foreign: totals.foreignCount,
      },
      rates: {
        sentPerSecond: round(rate(atStop.sentCount), 1),
        confirmedPerSecond: round(rate(atStop.confirmedCount), 1),
        receivedPerSecond: round(rate(atStop.receivedCount), 1),
      },
      latency: {
        confirm: summarizeLatency(confirmLatency),
        endToEnd: summarizeLatency(endToEndLatency),
      },
      cpu: {
        percentOfOneCore: round(
          cpuWallSeconds > 0 ? ((userSeconds + systemSeconds) / cpuWallSeconds) * 100 : 0,
          1,
        ),
        userSeconds: round(userSeconds, 3),
        systemSeconds: round(systemSeconds, 3),
        wallSeconds: round(cpuWallSeconds, 3),
        cores: availableParallelism(),
        clientThreadBusyPercent: this.threads.map((thread) => round(thread.busyRatio * 100, 1)),
      },
      error: null,
    };
    confirmLatency.destroy();
    endToEndLatency.destroy();
    return summary;
  }

  /** Deletes the queues and exchange this run created, unless --keep-queues. */
  private async deleteTopology(): Promise<void> {
    const setup = this.setup;
    if (setup === null || this.options.isKeepQueues) return;
    for (const queue of this.createdQueues) await setup.queueDelete(SETUP_CHANNEL, queue);
    const exchange = this.plan.topology.exchange;
    if (this.isExchangeCreated && exchange !== null)
      await setup.exchangeDelete(SETUP_CHANNEL, exchange.name);
  }

  private broadcast(command: ThreadCommand): void {
    for (const thread of this.threads) thread.port.postMessage(command);
  }

  private fail(error: BrokerError): void {
    this.failure ??= error;
    this.checkWaiters();
  }

  private sumCounters(pick: (thread: ThreadState) => ThreadCounters): ThreadCounters {
    const sum = zeroCounters();
    for (const thread of this.threads) addCounters(sum, pick(thread));
    return sum;
  }

  /**
   * Resolves true when `condition` holds, false after `timeoutMs`, or (with `timeoutName`)
   * throws on timeout; rejects at once when the run fails. Conditions are checked on every
   * report and every 100 ms.
   */
  private until(
    condition: () => boolean,
    timeoutMs: number,
    timeoutName: string | null,
  ): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      const waiter: Waiter = {
        condition,
        resolve: () => {
          if (timer !== null) clearTimeout(timer);
          resolve(true);
        },
      };
      const settleOnFailure = (error: unknown) => {
        if (timer !== null) clearTimeout(timer);
        this.waiters = this.waiters.filter((other) => other !== waiter);
        reject(error);
      };
      const check = (): boolean => {
        if (this.failure !== null) {
          settleOnFailure(this.failure);
          return true;
        }
        try {
          return condition();
        } catch (error) {
          settleOnFailure(error);
          return true;
        }
      };
      waiter.condition = check;
      if (check()) {
        if (this.failure === null) waiter.resolve();
        return;
      }
      this.waiters.push(waiter);
      if (timeoutMs !== Infinity) {
        timer = setTimeout(() => {
          this.waiters = this.waiters.filter((other) => other !== waiter);
          if (timeoutName === null) resolve(false);
          else
            reject(
              new BrokerError(
                'client-thread-failed',
                `client threads did not ${timeoutName} within ${timeoutMs / 1000} s`,
              ),
            );
        }, timeoutMs);
      }
    });
  }

  private checkWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (waiter.condition()) {
        if (this.failure === null) waiter.resolve();
      } else this.waiters.push(waiter);
    }
  }
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | null = null;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}
