// Whether each shard thread is alive and answering: the network thread pings every shard over
// the control plane about once a second, and a ping left unanswered past the timeout marks the
// shard unresponsive until it answers again. Health checks read the result. Network thread only;
// never on the data path (one postMessage per shard per second).

import type { ShardThread } from '../shard/api.js';

export interface ShardHealth {
  shardIndex: number;
  state: 'running' | 'unresponsive' | 'stopped';
  /** For people: why the shard is not running (empty when it is). */
  reason: string;
}

interface PingState {
  thread: ShardThread;
  seq: number;
  /** When the unanswered ping went out, or -1 when none is outstanding. */
  sentAtMs: number;
  isExited: boolean;
  isReportedUnresponsive: boolean;
}

export class ShardLiveness {
  private readonly shards: PingState[];
  private readonly timeoutMs: number;
  /** Told when a shard stops answering and when it answers again, for the log. */
  private readonly onChange: (health: ShardHealth) => void;

  constructor(
    threads: readonly ShardThread[],
    timeoutMs: number,
    onChange: (health: ShardHealth) => void,
  ) {
    this.timeoutMs = timeoutMs;
    this.onChange = onChange;
    this.shards = threads.map((thread) => {
      const state: PingState = {
        thread,
        seq: 0,
        sentAtMs: -1,
        isExited: false,
        isReportedUnresponsive: false,
      };
      thread.worker.on('message', (message: { type: string; seq?: number }) => {
        if (message.type === 'pong' && message.seq === state.seq) this.onPong(state);
      });
      thread.worker.on('exit', () => {
        state.isExited = true;
      });
      return state;
    });
  }

  /** Sends a ping to every shard without one outstanding; notes those past the timeout. */
  tick(nowMs: number): void {
    for (const state of this.shards) {
      if (state.isExited || state.thread.isStopping) continue;
      if (state.sentAtMs < 0) {
        state.seq++;
        state.sentAtMs = nowMs;
        state.thread.worker.postMessage({ type: 'ping', seq: state.seq });
      } else if (nowMs - state.sentAtMs > this.timeoutMs && !state.isReportedUnresponsive) {
        state.isReportedUnresponsive = true;
        this.onChange(this.healthOf(state, nowMs));
      }
    }
  }

  private onPong(state: PingState): void {
    state.sentAtMs = -1;
    if (!state.isReportedUnresponsive) return;
    state.isReportedUnresponsive = false;
    this.onChange(this.healthOf(state, Date.now()));
  }

  health(nowMs = Date.now()): ShardHealth[] {
    return this.shards.map((state) => this.healthOf(state, nowMs));
  }

  private healthOf(state: PingState, nowMs: number): ShardHealth {
    const shardIndex = state.thread.shardIndex;
    if (state.isExited || state.thread.isStopping) {
      return { shardIndex, state: 'stopped', reason: `shard ${shardIndex} has stopped` };
    }
    const waitedMs = state.sentAtMs < 0 ? 0 : nowMs - state.sentAtMs;
    if (waitedMs > this.timeoutMs) {
      return {
        shardIndex,
        state: 'unresponsive',
        reason: `shard ${shardIndex} has not answered a ping for ${waitedMs} ms (timeout ${this.timeoutMs} ms)`,
      };
    }
    return { shardIndex, state: 'running', reason: '' };
  }
}
