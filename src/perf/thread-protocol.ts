// What the main thread and a client thread say to each other over the MessagePort that travels
// in each piscina task: commands down (start, measure, stop, finish), reports up (ready, progress
// every 100 ms with latency histograms every second, measuring, stopped), and the task's result.
// Plain data only: it is structured-cloned.

import type { MessagePort } from 'node:worker_threads';
import type { PlainBrokerError } from './errors.js';
import type { PerfOptions } from './options.js';
import type { ConnectionPlan, TopologyPlan } from './plan.js';

/** The piscina task of one client thread. */
export interface ClientThreadTask {
  threadIndex: number;
  options: PerfOptions;
  topology: TopologyPlan;
  connections: ConnectionPlan[];
  /** The thread's end of a MessageChannel, moved with the task (transferList). */
  port: MessagePort;
}

export type ThreadCommand =
  /** Take the counters as the start baseline and begin reporting; publish nothing yet. */
  | { kind: 'start' }
  /**
   * Begin publishing. Sent once every thread has its start baseline, so no thread's baseline
   * can count a message of this run.
   */
  | { kind: 'publish' }
  /** Forget the warm-up: reset histograms and take counters as the baseline. */
  | { kind: 'measure' }
  /** Publish no more; consumers keep draining. */
  | { kind: 'stop' }
  /** Ack what is left, close every connection, return the result. */
  | { kind: 'finish' };

/** Cumulative counts of one client thread since it started. */
export interface ThreadCounters {
  sentCount: number;
  confirmedCount: number;
  nackedCount: number;
  /** Queue copies of what was sent: the deliveries to expect. */
  routedCount: number;
  receivedCount: number;
  foreignCount: number;
  outstandingConfirmCount: number;
  producersDoneCount: number;
  /** Shared-clock time of the last publish, confirm or delivery (0 before any). */
  lastActivityMs: number;
}

export type ThreadReport =
  /** Connected, channels open, consumers consuming. */
  | { kind: 'ready' }
  | {
      kind: 'progress';
      counters: ThreadCounters;
      /** Histograms of the second since the last one (compressed base64), or null in between. */
      confirmLatency: string | null;
      endToEndLatency: string | null;
    }
  /** Sent at start and at the end of the warm-up: counters from here on are measured. */
  | { kind: 'measuring'; counters: ThreadCounters }
  /** Counters the moment publishing stopped, and how busy the thread was while measuring. */
  | { kind: 'stopped'; counters: ThreadCounters; busyRatio: number }
  /** The thread failed; its task rejects too, but the rejection loses the code. */
  | { kind: 'failed'; error: PlainBrokerError };

/** What a client thread's task resolves with. */
export interface ClientThreadResult {
  threadIndex: number;
  /** Counters when the thread finished. */
  counters: ThreadCounters;
  /** Counters when measuring began (zero without warm-up). */
  baseline: ThreadCounters;
  /** Histograms since measuring began, compressed base64. */
  confirmLatency: string;
  endToEndLatency: string;
  /** Event-loop utilization from measuring to stop: 1 means the thread was the bottleneck. */
  busyRatio: number;
}

export function zeroCounters(): ThreadCounters {
  return {
    sentCount: 0,
    confirmedCount: 0,
    nackedCount: 0,
    routedCount: 0,
    receivedCount: 0,
    foreignCount: 0,
    outstandingConfirmCount: 0,
    producersDoneCount: 0,
    lastActivityMs: 0,
  };
}

/** Adds `counters` into `into`, field by field (the latest activity wins). */
export function addCounters(into: ThreadCounters, counters: ThreadCounters): void {
  into.sentCount += counters.sentCount;
  into.confirmedCount += counters.confirmedCount;
  into.nackedCount += counters.nackedCount;
  into.routedCount += counters.routedCount;
  into.receivedCount += counters.receivedCount;
  into.foreignCount += counters.foreignCount;
  into.outstandingConfirmCount += counters.outstandingConfirmCount;
  into.producersDoneCount += counters.producersDoneCount;
  into.lastActivityMs = Math.max(into.lastActivityMs, counters.lastActivityMs);
}

/** `counters` minus `baseline`; gauges (outstanding, producers done, times) are kept as they are. */
export function subtractCounters(
  counters: ThreadCounters,
  baseline: ThreadCounters,
): ThreadCounters {
  return {
    sentCount: counters.sentCount - baseline.sentCount,
    confirmedCount: counters.confirmedCount - baseline.confirmedCount,
    nackedCount: counters.nackedCount - baseline.nackedCount,
    routedCount: counters.routedCount - baseline.routedCount,
    receivedCount: counters.receivedCount - baseline.receivedCount,
    foreignCount: counters.foreignCount - baseline.foreignCount,
    outstandingConfirmCount: counters.outstandingConfirmCount,
    producersDoneCount: counters.producersDoneCount,
    lastActivityMs: counters.lastActivityMs,
  };
}
