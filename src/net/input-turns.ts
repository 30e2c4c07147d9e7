// The network thread's event-loop turns: client output is flushed and shards are woken once
// per turn, however many socket reads and ring batches fed them (syscalls, not bytes, are what
// loopback traffic costs); each connection gets a share of a turn's input; and clients stop
// being read while a shard's command ring is full. Network thread only.

import type { ShardLink } from './shard-link.js';

/** A connection's input share per event-loop turn (a few hundred KiB of frames). */
const INPUT_BYTES_PER_TURN = 128 * 1024;

/** What the turns need of a connection. */
export interface TurnConnection {
  readonly connectionId: number;
  readonly socket: { pause(): void; resume(): void };
  /** Input bytes taken this turn. */
  inputBytesThisTurn: number;
  /** Reading stopped until the next turn: it used its share of this one. */
  isTurnPaused: boolean;
  /** Reading stopped until a full command ring has room. */
  isReadPaused: boolean;
  /** False while anything else holds its reading (an alarm, a close). */
  readonly mayResumeReading: boolean;
  /** Writes its gathered output. */
  flush(): void;
}

const isLinkBlocked = (link: ShardLink): boolean => link.outbox.isBlocked;
const hasPendingEvents = (link: ShardLink): boolean => link.hasPendingEvents;
const hasPendingCommands = (link: ShardLink): boolean => link.hasPendingCommands;

export class InputTurns {
  private links: readonly ShardLink[] = [];
  private readonly dirtyConnections: TurnConnection[] = [];
  private readonly readPausedConnections = new Set<TurnConnection>();
  /** Connections that brought input this turn, and those whose share ran out. */
  private readonly turnInputConnections: TurnConnection[] = [];
  private readonly turnPausedConnections: TurnConnection[] = [];
  private isFlushScheduled = false;
  private isInputRecheckScheduled = false;

  /** The shard links, once the shards run. */
  attach(links: readonly ShardLink[]): void {
    this.links = links;
  }

  /**
   * The connection has output to write at the next flush (it tracks whether it is listed
   * already). Socket input and shard events schedule that flush; other callers flush themselves.
   */
  addDirty(connection: TurnConnection): void {
    this.dirtyConnections.push(connection);
  }

  /** Writes every connection's gathered output now. */
  flushDirty(): void {
    const dirty = this.dirtyConnections;
    for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
    dirty.length = 0;
  }

  /** Wakes every shard that has commands waiting. */
  wakeShards(): void {
    const links = this.links;
    for (let i = 0; i < links.length; i++) links[i]!.flush();
  }

  /**
   * After a socket's input was processed: flush output, wake shards, apply ring backpressure,
   * and cap the turn's input. libuv reads a busy socket up to 32 times per poll, so one
   * publisher could fill a whole turn with publishes while deliveries wait in the shard rings;
   * past its share a connection waits for the next turn (RabbitMQ's credit flow, in spirit).
   */
  afterSocketInput(connection: TurnConnection, byteCount: number): void {
    this.scheduleFlush();
    if (connection.inputBytesThisTurn === 0) this.turnInputConnections.push(connection);
    connection.inputBytesThisTurn += byteCount;
    if (connection.inputBytesThisTurn >= INPUT_BYTES_PER_TURN && !connection.isTurnPaused) {
      connection.isTurnPaused = true;
      connection.socket.pause();
      this.turnPausedConnections.push(connection);
    }
    if (this.anyLink(isLinkBlocked) && !connection.isReadPaused) {
      // A full command ring: stop reading this client until the shard catches up.
      connection.isReadPaused = true;
      connection.socket.pause();
      this.readPausedConnections.add(connection);
    }
  }

  /** A full command ring has room again: read the clients it held, if no ring is still full. */
  onLinkUnblocked(): void {
    if (this.anyLink(isLinkBlocked)) return;
    for (const connection of this.readPausedConnections) {
      connection.isReadPaused = false;
      if (connection.mayResumeReading) connection.socket.resume();
    }
    this.readPausedConnections.clear();
  }

  /** The connection is gone: it is no longer held for a ring. */
  forget(connection: TurnConnection): void {
    this.readPausedConnections.delete(connection);
  }

  /**
   * Flushes client sockets and wakes shards once per event-loop turn, after every socket read
   * and ring batch of the turn.
   */
  scheduleFlush(): void {
    if (this.isFlushScheduled) return;
    this.isFlushScheduled = true;
    setImmediate(this.flushAll);
  }

  private readonly flushAll = (): void => {
    this.isFlushScheduled = false;
    this.flushDirty();
    this.wakeShards();
    this.startNextInputTurn();
  };

  private anyLink(test: (link: ShardLink) => boolean): boolean {
    const links = this.links;
    for (let i = 0; i < links.length; i++) if (test(links[i]!)) return true;
    return false;
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

  /**
   * Heavy publishers wait while the last input is still being worked off: events not drained,
   * or commands a shard has not taken (their deliveries are yet to come). Otherwise input keeps
   * outrunning deliveries (fanout multiplies them).
   */
  private startNextInputTurn(): void {
    const taken = this.turnInputConnections;
    for (let i = 0; i < taken.length; i++) taken[i]!.inputBytesThisTurn = 0;
    taken.length = 0;
    const paused = this.turnPausedConnections;
    if (paused.length === 0) return;
    // Draining events ends in another flush, which looks again.
    if (this.anyLink(hasPendingEvents)) return;
    if (this.anyLink(hasPendingCommands)) {
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
}
