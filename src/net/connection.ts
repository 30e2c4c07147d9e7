// One client connection on the network thread: the protocol header, the start/tune/open
// handshake (its rules are in handshake-rules.ts), frames handed to its channels
// (connection-channels.ts), heartbeats, flow control, and both close handshakes. Protocol
// errors are caught in exactly two places: the channel dispatcher (connection-channels.ts,
// closes one channel) and the reader here (closes the connection). Output is gathered in one
// writer and flushed once per turn.
// Over 600 lines because the connection's state machine (header, handshake, open, both close
// handshakes, heartbeats) is read and changed as one: each method checks the state the others set.

import type { Socket } from 'node:net';
import {
  type AmqpError,
  type AmqpMethod,
  ByteWriter,
  ConnectionError,
  decodeMethod,
  encodeHeartbeatFrame,
  encodeMethodFrame,
  type FieldTable,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  FrameReader,
  type FrameSink,
  PROTOCOL_HEADER,
} from '../codec/index.js';
import type { PermissionKind } from './access-control.js';
import { authenticate, type AuthenticationResult } from './authentication.js';
import type { Channel } from './channel.js';
import { type ChannelOwner, ConnectionChannels } from './connection-channels.js';
import type { ClientCapabilities, ClosableChannel } from './channel-context.js';
import type { QueueRecord } from './exchange.js';
import {
  loginRefusal,
  negotiateTune,
  readCapabilities,
  verifiedCertificateName,
  vhostToOpen,
} from './handshake-rules.js';
import type { TurnConnection } from './input-turns.js';
import type { NetServices } from './net-services.js';
import { channelError, connectionError } from './protocol-errors.js';
import type { VirtualHost } from './vhost.js';

const CONNECTION_FORCED = 320;
const ACCESS_REFUSED = 403;
const COMMAND_INVALID = 503;
const CHANNEL_ERROR = 504;
const UNEXPECTED_FRAME = 505;

/** How long we wait for connection.close-ok before dropping the socket. */
const CLOSE_OK_TIMEOUT_MS = 3000;
/**
 * How long the socket stays after close-ok for the client to close it. RabbitMQ waits 30 s; a
 * client that read close-ok closes within milliseconds, so 10 s only bounds a stuck one.
 */
const CLIENT_CLOSE_TIMEOUT_MS = 10_000;
/** How long a refused client waits before its socket is dropped (RabbitMQ: ~3 s). */
const FAILED_LOGIN_DELAY_MS = 3000;
/** AMQP 0-9 as some old clients announce it; RabbitMQ speaks 0-9-1 to them. */
const PROTOCOL_HEADER_0_9 = Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9]);
/** How long a client has from TCP accept to connection.open (RabbitMQ's handshake_timeout). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

const enum State {
  AwaitingHeader,
  AwaitingStartOk,
  /** start-ok arrived; its password is being checked off the event loop. */
  Authenticating,
  AwaitingTuneOk,
  AwaitingOpen,
  Open,
  /** We sent connection.close and wait for close-ok. */
  Closing,
  Closed,
}

/** What a connection tells the broker about its life. */
export interface ConnectionHost {
  /** Connections past connection.open-ok and not yet closed, broker-wide. */
  readonly openConnectionCount: number;
  /** connection.open-ok was sent. */
  onOpened(connection: Connection): void;
  /** The socket is gone; the connection released everything it held. */
  onClosed(connection: Connection): void;
}

export class Connection implements FrameSink, ChannelOwner, TurnConnection {
  readonly connectionId: number;
  readonly services: NetServices;
  private readonly host: ConnectionHost;
  readonly socket: Socket;
  /** Starts small (idle connections are the common case); grows with the traffic it carries. */
  readonly out = new ByteWriter(4 * 1024);
  readonly channelTable: ConnectionChannels = new ConnectionChannels(this);
  readonly exclusiveQueues = new Set<QueueRecord>();
  capabilities: ClientCapabilities = {
    consumerCancelNotify: false,
    connectionBlocked: false,
    authenticationFailureClose: false,
  };
  readonly remoteAddress: string;
  readonly connectedAtMs = Date.now();
  clientProperties: FieldTable = {};
  userName = '';
  vhost: VirtualHost | null = null;
  frameMaxBytes = FRAME_MIN_SIZE;
  channelMax = 0;
  heartbeatSeconds = 0;
  lastReceivedMs = Date.now();
  lastSentMs = Date.now();
  isDirty = false;
  isDeliveryPaused = false;
  isReadPaused = false;
  /** Input bytes taken this event-loop turn; see Broker.afterSocketInput. */
  inputBytesThisTurn = 0;
  /** Reading stopped until the next turn: it used its share of this one. */
  isTurnPaused = false;
  /** Reading stopped because it published during a resource alarm (RabbitMQ's 'blocked'). */
  isAlarmBlocked = false;
  /** connection.blocked was sent and connection.unblocked is owed. */
  private isBlockedNotified = false;

  /** The CN of a verified TLS client certificate (EXTERNAL logs in as it), else null. */
  readonly certificateName: string | null;
  private readonly connectionName: string;
  private state = State.AwaitingHeader;
  private readonly reader = new FrameReader(FRAME_MIN_SIZE);
  private headerBytes: Buffer | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  private isReleased = false;
  /** Why the connection ends, as fields of its closing log line; the first cause wins. */
  private closeReason: Record<string, unknown> | null = null;
  private isGone = false;

  constructor(services: NetServices, host: ConnectionHost, connectionId: number, socket: Socket) {
    this.services = services;
    this.host = host;
    this.connectionId = connectionId;
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.certificateName = verifiedCertificateName(socket);
    // Fixed now: a destroyed socket no longer knows its ports, and the closing log needs them.
    this.connectionName = `${this.remoteAddress}:${socket.remotePort ?? 0} -> ${socket.localAddress ?? ''}:${socket.localPort ?? 0}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', (error) => {
      this.noteClose({ reason: 'socket error', error: error.message });
      this.onSocketGone();
    });
    socket.on('close', () => this.onSocketGone());
    this.closeTimer = setTimeout(() => {
      if (this.state < State.Open) this.socket.destroy();
    }, HANDSHAKE_TIMEOUT_MS);
  }

  /** Its open channels, by number. */
  get channels(): ReadonlyMap<number, Channel> {
    return this.channelTable.byId;
  }

  get isOpen(): boolean {
    return this.state === State.Open;
  }

  get name(): string {
    return this.connectionName;
  }

  // ---------------------------------------------------------------- input

  private onData(chunk: Buffer): void {
    this.lastReceivedMs = this.services.clock.nowMs;
    this.services.batchClock.nowMs = performance.now();
    if (this.state === State.Closed) return;
    if (this.state === State.AwaitingHeader) {
      const rest = this.readProtocolHeader(chunk);
      if (rest === null) return;
      chunk = rest;
    }
    try {
      this.reader.push(chunk, this);
    } catch (error) {
      if (!(error instanceof ConnectionError)) throw error;
      this.fail(error);
    }
    this.services.turns.afterSocketInput(this, chunk.length);
  }

  /** Reading may go on unless something else holds it: a full ring or a closing connection. */
  get mayResumeReading(): boolean {
    return (
      !this.isReadPaused &&
      !this.isTurnPaused &&
      !this.isAlarmBlocked &&
      this.state !== State.Closed
    );
  }

  // ---------------------------------------------------------------- resource alarms

  /** An alarm went off: clients that understand connection.blocked hear it now. */
  notifyBlocked(reason: string): void {
    if (!this.isOpen || !this.capabilities.connectionBlocked || this.isBlockedNotified) return;
    this.isBlockedNotified = true;
    this.sendMethod(0, { method: 'connection.blocked', reason });
  }

  /**
   * It published during an alarm: stop reading it until the alarm clears. The rest of the
   * chunk in hand is still processed; consumers on other connections keep draining.
   */
  blockForAlarm(reason: string): void {
    if (this.isAlarmBlocked) return;
    this.isAlarmBlocked = true;
    this.socket.pause();
    this.notifyBlocked(reason);
  }

  /** Every alarm cleared: read again and tell the client. */
  unblockAfterAlarm(): void {
    if (this.isBlockedNotified) {
      this.isBlockedNotified = false;
      if (this.isOpen) this.sendMethod(0, { method: 'connection.unblocked' });
    }
    if (!this.isAlarmBlocked) return;
    this.isAlarmBlocked = false;
    if (this.mayResumeReading) this.socket.resume();
  }

  /** Checks the 8-byte protocol header; returns the bytes after it, or null. */
  private readProtocolHeader(chunk: Buffer): Buffer | null {
    const have = this.headerBytes === null ? chunk : Buffer.concat([this.headerBytes, chunk]);
    if (have.length < PROTOCOL_HEADER.length) {
      this.headerBytes = have;
      return null;
    }
    this.headerBytes = null;
    const header = have.subarray(0, PROTOCOL_HEADER.length);
    if (!header.equals(PROTOCOL_HEADER) && !header.equals(PROTOCOL_HEADER_0_9)) {
      // The spec's answer to a header we do not speak: our header, then close.
      this.state = State.Closed;
      this.socket.end(PROTOCOL_HEADER);
      return null;
    }
    this.state = State.AwaitingStartOk;
    this.sendMethod(0, {
      method: 'connection.start',
      versionMajor: 0,
      versionMinor: 9,
      serverProperties: this.services.serverProperties,
      mechanisms: Buffer.from(
        this.certificateName === null ? 'PLAIN AMQPLAIN' : 'PLAIN AMQPLAIN EXTERNAL',
      ),
      locales: Buffer.from('en_US'),
    });
    this.flush();
    return have.subarray(PROTOCOL_HEADER.length);
  }

  /**
   * FrameSink: one complete frame. A connection error is handled here rather than thrown through
   * the reader, so the reader goes on and can see the client's close-ok.
   */
  onFrame(type: number, channelId: number, bytes: Buffer, start: number, end: number): void {
    try {
      this.dispatchFrame(type, channelId, bytes, start, end);
    } catch (error) {
      if (!(error instanceof ConnectionError)) throw error;
      this.fail(error);
    }
  }

  private dispatchFrame(
    type: number,
    channelId: number,
    bytes: Buffer,
    start: number,
    end: number,
  ): void {
    const state = this.state;
    if (state === State.Open && channelId !== 0) {
      this.channelTable.onFrame(type, channelId, bytes, start, end);
      return;
    }
    if (type === FRAME_HEARTBEAT) {
      if (channelId !== 0)
        throw connectionError(UNEXPECTED_FRAME, 'type 8, heartbeat on a non-zero channel');
      return;
    }
    if (state === State.Closing || state === State.Closed) {
      if (channelId === 0 && type === FRAME_METHOD) this.onMethodWhileClosing(bytes, start, end);
      return;
    }
    if (channelId !== 0) {
      throw connectionError(CHANNEL_ERROR, `expected 'channel.open'`);
    }
    if (type !== FRAME_METHOD) {
      throw connectionError(UNEXPECTED_FRAME, `type ${type} on channel 0`);
    }
    this.onConnectionMethod(decodeMethod(bytes, start, end));
  }

  private onMethodWhileClosing(bytes: Buffer, start: number, end: number): void {
    let method: AmqpMethod;
    try {
      method = decodeMethod(bytes, start, end);
    } catch (error) {
      if (error instanceof ConnectionError) return;
      throw error;
    }
    if (method.method === 'connection.close-ok') {
      this.destroy();
    } else if (method.method === 'connection.close') {
      this.sendMethod(0, { method: 'connection.close-ok' });
      this.flush();
    }
  }

  private onConnectionMethod(method: AmqpMethod): void {
    switch (this.state) {
      case State.AwaitingStartOk:
        if (method.method !== 'connection.start-ok') break;
        this.onStartOk(method);
        return;
      case State.AwaitingTuneOk:
        if (method.method !== 'connection.tune-ok') break;
        this.onTuneOk(method);
        return;
      case State.AwaitingOpen:
        if (method.method !== 'connection.open') break;
        this.onOpen(method);
        return;
      case State.Open:
        if (method.method === 'connection.close') {
          this.noteClose({
            reason: 'client closed',
            replyCode: method.replyCode,
            replyText: method.replyText,
          });
          this.release();
          this.sendMethod(0, { method: 'connection.close-ok' });
          this.flush();
          // The client closes the socket once it has read close-ok; ending it here could reach
          // the client's reader as EOF before close-ok. RabbitMQ waits the same way, and ends
          // the socket itself only after a timeout (rabbit_reader's CLOSING_TIMEOUT).
          this.state = State.Closed;
          if (this.closeTimer !== null) clearTimeout(this.closeTimer);
          this.closeTimer = setTimeout(() => this.destroy(), CLIENT_CLOSE_TIMEOUT_MS);
          return;
        }
        if (method.method === 'connection.update-secret') {
          this.sendMethod(0, { method: 'connection.update-secret-ok' });
          return;
        }
        if (method.method === 'connection.blocked' || method.method === 'connection.unblocked')
          return;
        throw connectionError(CHANNEL_ERROR, `unexpected method in connection state running`);
      default:
        break;
    }
    throw connectionError(
      COMMAND_INVALID,
      `unexpected method ${method.method} during the connection handshake`,
    );
  }

  private onStartOk(method: Extract<AmqpMethod, { method: 'connection.start-ok' }>): void {
    this.clientProperties = method.clientProperties;
    this.capabilities = readCapabilities(method.clientProperties);
    this.state = State.Authenticating;
    // The client waits for connection.tune before it sends more, so nothing is lost meanwhile;
    // a frame that arrives anyway is refused as out of order.
    authenticate(
      this.services.access,
      method.mechanism,
      method.response,
      this.certificateName,
    ).then(
      (result) => this.afterAuthentication(result),
      (error: unknown) => {
        this.services.log('error', 'login check failed', { connection: this.name, err: error });
        this.destroy();
      },
    );
  }

  private afterAuthentication(result: AuthenticationResult): void {
    // The socket went away while the password was checked.
    if (this.state !== State.Authenticating) return;
    try {
      this.completeLogin(result);
    } catch (error) {
      if (!(error instanceof ConnectionError)) throw error;
      this.fail(error);
    }
    this.flush();
  }

  private completeLogin(result: AuthenticationResult): void {
    const services = this.services;
    const reason = loginRefusal(result, services.options.loopbackUsers, this.remoteAddress);
    if (reason !== null || result.user === null) {
      // The reason names the user and what failed, never the password.
      services.log('warn', 'login refused', {
        connection: this.name,
        mechanism: result.mechanism,
        reason,
      });
      this.noteClose({ reason: 'login refused' });
      if (!this.capabilities.authenticationFailureClose) {
        // Without the capability RabbitMQ drops the socket, after a pause that slows guessing.
        this.state = State.Closed;
        this.socket.pause();
        if (this.closeTimer !== null) clearTimeout(this.closeTimer);
        this.closeTimer = setTimeout(() => this.destroy(), FAILED_LOGIN_DELAY_MS);
        return;
      }
      throw connectionError(
        ACCESS_REFUSED,
        `Login was refused using authentication mechanism ${result.mechanism}. For details see the broker logfile.`,
      );
    }
    this.userName = result.user.name;
    this.state = State.AwaitingTuneOk;
    const options = services.options;
    this.sendMethod(0, {
      method: 'connection.tune',
      channelMax: options.channelMax,
      frameMax: options.frameMaxBytes,
      heartbeat: options.heartbeatSeconds,
    });
  }

  private onTuneOk(method: Extract<AmqpMethod, { method: 'connection.tune-ok' }>): void {
    const { frameMaxBytes, channelMax } = negotiateTune(method, this.services.options);
    this.frameMaxBytes = frameMaxBytes;
    this.channelMax = channelMax;
    this.heartbeatSeconds = method.heartbeat;
    this.reader.setFrameMax(frameMaxBytes);
    this.state = State.AwaitingOpen;
  }

  private onOpen(method: Extract<AmqpMethod, { method: 'connection.open' }>): void {
    const services = this.services;
    const vhost = vhostToOpen(
      method.virtualHost,
      this.userName,
      services.vhosts,
      services.access,
      services.options.connectionMax,
      this.host.openConnectionCount,
    );
    this.vhost = vhost;
    this.state = State.Open;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.sendMethod(0, { method: 'connection.open-ok' });
    this.host.onOpened(this);
  }

  // ---------------------------------------------------------------- output

  sendMethod(channelId: number, method: AmqpMethod): void {
    encodeMethodFrame(this.out, channelId, method);
    this.markDirty();
  }

  markDirty(): void {
    if (this.isDirty) return;
    this.isDirty = true;
    this.services.turns.addDirty(this);
  }

  /** Writes everything gathered since the last flush in one socket write. */
  flush(): void {
    this.isDirty = false;
    if (this.out.position === 0 || (this.state === State.Closed && this.socket.destroyed)) {
      this.out.reset();
      return;
    }
    const socket = this.socket;
    if (socket.destroyed) {
      this.out.reset();
      return;
    }
    socket.write(this.out.take());
    // Written to the kernel at once (the usual case): no one holds the taken bytes, so the next
    // frames reuse the same slab instead of fresh memory.
    if (socket.writableLength === 0) this.out.recycle();
    this.lastSentMs = this.services.clock.nowMs;
    if (
      !this.isDeliveryPaused &&
      socket.writableLength > this.services.options.socketWriteHighBytes
    ) {
      // A slow reader: stop its deliveries until the socket drains, instead of buffering without bound.
      this.isDeliveryPaused = true;
      this.setDeliveryPaused(true);
    }
  }

  /** Holds (or resumes) this connection's deliveries in every shard. */
  private setDeliveryPaused(isPaused: boolean): void {
    const links = this.services.links;
    for (const link of links) link.connectionFlow(this.connectionId, isPaused);
    for (const link of links) link.flush();
  }

  private onDrain(): void {
    if (this.isDeliveryPaused) {
      this.isDeliveryPaused = false;
      this.setDeliveryPaused(false);
    }
  }

  // ---------------------------------------------------------------- permissions

  /** Throws 403 unless the user may do `kind` on the resource in this connection's vhost. */
  checkPermission(
    kind: PermissionKind,
    resourceKind: 'exchange' | 'queue',
    name: string,
    classId: number,
    methodId: number,
  ): void {
    const vhost = this.vhost!.name;
    if (this.services.access.isAllowed(this.userName, vhost, kind, name)) return;
    const shownName = resourceKind === 'exchange' && name === '' ? 'amq.default' : name;
    throw channelError(
      ACCESS_REFUSED,
      `${kind} access to ${resourceKind} '${shownName}' in vhost '${vhost}' refused for user '${this.userName}'`,
      classId,
      methodId,
    );
  }

  // ---------------------------------------------------------------- closing

  /** ChannelConnection: the client sent channel.close. */
  closeChannelFromClient(channel: ClosableChannel): void {
    this.channelTable.closeFromClient(channel);
  }

  /** ChannelConnection: a channel error closes the channel, a connection error this connection. */
  failChannel(channel: ClosableChannel, error: AmqpError): void {
    if (channel.isClosing) return;
    if (error instanceof ConnectionError) this.fail(error);
    else this.channelTable.fail(channel, error);
  }

  /** A connection error: release everything, send connection.close, wait briefly for close-ok. */
  fail(error: AmqpError): void {
    if (this.state === State.Closing || this.state === State.Closed) return;
    this.release();
    // The reader keeps going: in this state it drops everything but close and close-ok.
    this.state = State.Closing;
    this.sendMethod(0, {
      method: 'connection.close',
      replyCode: error.replyCode,
      replyText: error.replyText,
      classId: error.classId,
      methodId: error.methodId,
    });
    this.flush();
    this.noteClose({
      reason: 'server closed',
      replyCode: error.replyCode,
      replyText: error.replyText,
    });
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(() => this.destroy(), CLOSE_OK_TIMEOUT_MS);
  }

  /** The broker is stopping: 320 CONNECTION_FORCED, as RabbitMQ sends on shutdown. */
  forceClose(reason: string): void {
    this.fail(new ConnectionError(CONNECTION_FORCED, `CONNECTION_FORCED - ${reason}`));
  }

  /** Drops the socket now. */
  destroy(): void {
    this.state = State.Closed;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.socket.destroy();
  }

  private noteClose(reason: Record<string, unknown>): void {
    if (this.closeReason === null) this.closeReason = reason;
  }

  private onSocketGone(): void {
    this.release();
    this.state = State.Closed;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    if (!this.isGone) {
      this.isGone = true;
      // Connections that never opened (port probes, failed handshakes) only show at debug.
      this.services.log(this.vhost === null ? 'debug' : 'info', 'connection closed', {
        connection: this.name,
        ...(this.vhost === null ? {} : { user: this.userName, vhost: this.vhost.name }),
        ...(this.closeReason ?? { reason: 'socket closed' }),
      });
    }
    this.host.onClosed(this);
  }

  /** Releases channels and exclusive queues exactly once. */
  private release(): void {
    if (this.isReleased) return;
    this.isReleased = true;
    this.channelTable.releaseAll();
    for (const queue of this.exclusiveQueues) this.services.queues.deleteQueue(queue, null, null);
    this.exclusiveQueues.clear();
  }

  /** Heartbeat duties, called about once a second by the broker. */
  tick(nowMs: number): void {
    const consumerTimeoutMs = this.services.options.consumerTimeoutMs;
    if (this.state === State.Open && consumerTimeoutMs > 0) {
      this.channelTable.closeOverdue(nowMs, consumerTimeoutMs);
    }
    if (this.state !== State.Open || this.heartbeatSeconds === 0) return;
    const intervalMs = this.heartbeatSeconds * 1000;
    if (nowMs - this.lastReceivedMs > 2 * intervalMs) {
      // RabbitMQ drops a silent peer without a close frame ("missed heartbeats from client").
      this.noteClose({
        reason: 'missed heartbeats from client',
        heartbeatSeconds: this.heartbeatSeconds,
      });
      this.destroy();
      return;
    }
    if (nowMs - this.lastSentMs >= intervalMs / 2) {
      encodeHeartbeatFrame(this.out);
      this.markDirty();
    }
  }
}
