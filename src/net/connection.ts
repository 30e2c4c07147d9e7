// One client connection on the network thread: the protocol header, the start/tune/open
// handshake, frame dispatch to channels, heartbeats, and both close handshakes. Protocol errors
// are caught here in exactly two places: the channel dispatcher (closes one channel) and the
// reader (closes the connection). Output is gathered in one writer and flushed once per batch.

import { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import {
  AmqpError as AmqpErrorClass,
  type AmqpError,
  type AmqpMethod,
  ByteWriter,
  ChannelError,
  ConnectionError,
  decodeMethod,
  encodeMethodFrame,
  type FieldTable,
  FRAME_BODY,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  FrameReader,
  type FrameSink,
  PROTOCOL_HEADER,
  type ChannelReplyCode,
} from '../codec/index.js';
import type { PermissionKind } from './access-control.js';
import { authenticate, type AuthenticationResult } from './authentication.js';
import type { Broker } from './broker.js';
import { Channel } from './channel.js';
import type { QueueRecord } from './exchange.js';
import { channelError, connectionError } from './protocol-errors.js';
import type { VirtualHost } from './vhost.js';

const CONNECTION_FORCED = 320;
const ACCESS_REFUSED = 403;
const PRECONDITION_FAILED = 406;
const FRAME_ERROR = 501;
const COMMAND_INVALID = 503;
const CHANNEL_ERROR = 504;
const UNEXPECTED_FRAME = 505;
const NOT_ALLOWED = 530;

/** How long we wait for connection.close-ok before dropping the socket. */
const CLOSE_OK_TIMEOUT_MS = 3000;
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

export interface ClientCapabilities {
  consumerCancelNotify: boolean;
  connectionBlocked: boolean;
  authenticationFailureClose: boolean;
}

export class Connection implements FrameSink {
  readonly connectionId: number;
  readonly broker: Broker;
  readonly socket: Socket;
  /** Starts small (idle connections are the common case); grows with the traffic it carries. */
  readonly out = new ByteWriter(4 * 1024);
  readonly channels = new Map<number, Channel>();
  readonly exclusiveQueues = new Set<QueueRecord>();
  readonly capabilities: ClientCapabilities = {
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

  constructor(broker: Broker, connectionId: number, socket: Socket) {
    this.broker = broker;
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

  get isOpen(): boolean {
    return this.state === State.Open;
  }

  get name(): string {
    return this.connectionName;
  }

  // ---------------------------------------------------------------- input

  private onData(chunk: Buffer): void {
    this.lastReceivedMs = this.broker.clock.nowMs;
    this.broker.batchClock.nowMs = performance.now();
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
    this.broker.afterSocketInput(this, chunk.length);
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
      serverProperties: this.broker.serverProperties,
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
      this.onChannelFrame(type, channelId, bytes, start, end);
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

  private onChannelFrame(
    type: number,
    channelId: number,
    bytes: Buffer,
    start: number,
    end: number,
  ): void {
    const channel = this.channels.get(channelId);
    if (channel === undefined) {
      if (type !== FRAME_METHOD) {
        throw connectionError(
          UNEXPECTED_FRAME,
          'expected method frame, got non method frame instead',
        );
      }
      const method = decodeMethod(bytes, start, end);
      if (method.method !== 'channel.open')
        throw connectionError(CHANNEL_ERROR, `expected 'channel.open'`);
      this.openChannel(channelId);
      return;
    }
    if (channel.isClosing) {
      this.onFrameWhileChannelClosing(channel, type, bytes, start, end);
      return;
    }
    try {
      if (type === FRAME_METHOD) channel.onMethodFrame(bytes, start, end);
      else if (type === FRAME_HEADER) channel.onHeaderFrame(bytes, start, end);
      else if (type === FRAME_BODY) channel.onBodyFrame(bytes, start, end);
      else if (type === FRAME_HEARTBEAT)
        throw connectionError(UNEXPECTED_FRAME, 'type 8, heartbeat on a non-zero channel');
      else throw connectionError(FRAME_ERROR, `type ${type}, unknown frame type`);
    } catch (error) {
      if (!(error instanceof AmqpErrorClass)) throw error;
      // Errors name the method being handled, as RabbitMQ stamps them.
      const stamped = stampMethod(error, channel.methodKey);
      if (stamped instanceof ConnectionError) throw stamped;
      this.failChannel(channel, stamped);
    }
  }

  /** After channel.close either way, only close and close-ok matter (RabbitMQ drops the rest). */
  private onFrameWhileChannelClosing(
    channel: Channel,
    type: number,
    bytes: Buffer,
    start: number,
    end: number,
  ): void {
    if (type !== FRAME_METHOD) return;
    const classId = end - start >= 4 ? bytes.readUInt16BE(start) : 0;
    if (classId !== 20) return;
    const method = decodeMethod(bytes, start, end);
    if (method.method === 'channel.close-ok') {
      this.channels.delete(channel.channelId);
    } else if (method.method === 'channel.close') {
      this.sendMethod(channel.channelId, { method: 'channel.close-ok' });
    }
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
          this.state = State.Closed;
          this.socket.end();
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
    const capabilities = method.clientProperties['capabilities'];
    if (
      capabilities !== null &&
      typeof capabilities === 'object' &&
      !Array.isArray(capabilities) &&
      !Buffer.isBuffer(capabilities)
    ) {
      const table = capabilities as FieldTable;
      this.capabilities.consumerCancelNotify = table['consumer_cancel_notify'] === true;
      this.capabilities.connectionBlocked = table['connection.blocked'] === true;
      this.capabilities.authenticationFailureClose = table['authentication_failure_close'] === true;
    }
    this.state = State.Authenticating;
    // The client waits for connection.tune before it sends more, so nothing is lost meanwhile;
    // a frame that arrives anyway is refused as out of order.
    authenticate(this.broker.access, method.mechanism, method.response, this.certificateName).then(
      (result) => this.afterAuthentication(result),
      (error: unknown) => {
        this.broker.log('error', 'login check failed', { connection: this.name, err: error });
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
    const broker = this.broker;
    const isLoopbackOnly =
      result.user !== null &&
      broker.options.loopbackUsers.includes(result.user.name) &&
      !isLoopbackAddress(this.remoteAddress);
    if (result.user === null || isLoopbackOnly) {
      const reason =
        result.user === null
          ? result.reason
          : `user '${result.user.name}' can only connect via localhost`;
      // The reason names the user and what failed, never the password.
      broker.log('warn', 'login refused', {
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
    const options = broker.options;
    this.sendMethod(0, {
      method: 'connection.tune',
      channelMax: options.channelMax,
      frameMax: options.frameMaxBytes,
      heartbeat: options.heartbeatSeconds,
    });
  }

  private onTuneOk(method: Extract<AmqpMethod, { method: 'connection.tune-ok' }>): void {
    const options = this.broker.options;
    // RabbitMQ refuses 0 here; we read 0 as "the server's value", which serves every client.
    const frameMax = method.frameMax === 0 ? options.frameMaxBytes : method.frameMax;
    const channelMax = method.channelMax === 0 ? options.channelMax : method.channelMax;
    if (frameMax < FRAME_MIN_SIZE) {
      throw connectionError(
        NOT_ALLOWED,
        `negotiated frame_max = ${frameMax} is lower than the minimum allowed value (${FRAME_MIN_SIZE})`,
        10,
        31,
      );
    }
    if (frameMax > options.frameMaxBytes) {
      throw connectionError(
        NOT_ALLOWED,
        `negotiated frame_max = ${frameMax} is higher than the maximum allowed value (${options.frameMaxBytes})`,
        10,
        31,
      );
    }
    if (channelMax > options.channelMax) {
      throw connectionError(
        NOT_ALLOWED,
        `negotiated channel_max = ${channelMax} is higher than the maximum allowed value (${options.channelMax})`,
        10,
        31,
      );
    }
    this.frameMaxBytes = frameMax;
    this.channelMax = channelMax;
    this.heartbeatSeconds = method.heartbeat;
    this.reader.setFrameMax(frameMax);
    this.state = State.AwaitingOpen;
  }

  private onOpen(method: Extract<AmqpMethod, { method: 'connection.open' }>): void {
    const vhostName = method.virtualHost;
    const vhost = this.broker.vhosts.get(vhostName);
    if (vhost === undefined)
      throw connectionError(NOT_ALLOWED, `vhost ${vhostName} not found`, 10, 40);
    if (!this.broker.access.canAccessVhost(this.userName, vhostName)) {
      throw connectionError(
        NOT_ALLOWED,
        `access to vhost '${vhostName}' refused for user '${this.userName}'`,
        10,
        40,
      );
    }
    const connectionMax = this.broker.options.connectionMax;
    if (connectionMax > 0 && this.broker.openConnectionCount >= connectionMax) {
      throw connectionError(
        NOT_ALLOWED,
        `access to vhost '${vhostName}' refused for user '${this.userName}': node connection limit (${connectionMax}) is reached`,
        10,
        40,
      );
    }
    // The vhost's max-connections; 0 refuses every connection (RabbitMQ's rabbit_reader text).
    const vhostConnectionMax = vhost.limits['max-connections'];
    if (
      vhostConnectionMax !== undefined &&
      vhostConnectionMax >= 0 &&
      vhost.openConnectionCount >= vhostConnectionMax
    ) {
      throw connectionError(
        NOT_ALLOWED,
        `access to vhost '${vhostName}' refused for user '${this.userName}': connection limit (${vhostConnectionMax}) is reached`,
        10,
        40,
      );
    }
    this.vhost = vhost;
    this.state = State.Open;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.sendMethod(0, { method: 'connection.open-ok' });
    this.broker.onConnectionOpened(this);
  }

  private openChannel(channelId: number): void {
    if (this.channels.size >= this.channelMax) {
      throw connectionError(
        NOT_ALLOWED,
        `number of channels opened (${this.channels.size}) has reached the negotiated channel_max (${this.channelMax})`,
      );
    }
    this.channels.set(channelId, new Channel(this, channelId, this.vhost!));
    this.sendMethod(channelId, { method: 'channel.open-ok' });
  }

  // ---------------------------------------------------------------- output

  sendMethod(channelId: number, method: AmqpMethod): void {
    encodeMethodFrame(this.out, channelId, method);
    this.markDirty();
  }

  markDirty(): void {
    if (this.isDirty) return;
    this.isDirty = true;
    this.broker.dirtyConnections.push(this);
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
    this.lastSentMs = this.broker.clock.nowMs;
    if (
      !this.isDeliveryPaused &&
      socket.writableLength > this.broker.options.socketWriteHighBytes
    ) {
      // A slow reader: stop its deliveries until the socket drains, instead of buffering without bound.
      this.isDeliveryPaused = true;
      this.broker.setDeliveryPaused(this, true);
    }
  }

  private onDrain(): void {
    if (this.isDeliveryPaused) {
      this.isDeliveryPaused = false;
      this.broker.setDeliveryPaused(this, false);
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
    if (this.broker.access.isAllowed(this.userName, vhost, kind, name)) return;
    const shownName = resourceKind === 'exchange' && name === '' ? 'amq.default' : name;
    throw channelError(
      ACCESS_REFUSED,
      `${kind} access to ${resourceKind} '${shownName}' in vhost '${vhost}' refused for user '${this.userName}'`,
      classId,
      methodId,
    );
  }

  // ---------------------------------------------------------------- closing

  /** The client sent channel.close: release the channel and confirm. */
  closeChannelFromClient(channel: Channel): void {
    channel.release();
    this.channels.delete(channel.channelId);
    this.sendMethod(channel.channelId, { method: 'channel.close-ok' });
  }

  /** A channel error: release the channel and send channel.close; wait for close-ok. */
  failChannel(channel: Channel, error: AmqpError): void {
    if (channel.isClosing) return;
    if (error instanceof ConnectionError) {
      this.fail(error);
      return;
    }
    channel.release();
    this.sendMethod(channel.channelId, {
      method: 'channel.close',
      replyCode: error.replyCode,
      replyText: error.replyText,
      classId: error.classId,
      methodId: error.methodId,
    });
    this.broker.log('debug', 'channel closed by the server', {
      connection: this.name,
      channel: channel.channelId,
      replyCode: error.replyCode,
      replyText: error.replyText,
    });
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
      this.broker.log(this.vhost === null ? 'debug' : 'info', 'connection closed', {
        connection: this.name,
        ...(this.vhost === null ? {} : { user: this.userName, vhost: this.vhost.name }),
        ...(this.closeReason ?? { reason: 'socket closed' }),
      });
    }
    this.broker.onConnectionClosed(this);
  }

  /** Releases channels and exclusive queues exactly once. */
  private release(): void {
    if (this.isReleased) return;
    this.isReleased = true;
    for (const channel of this.channels.values()) channel.release();
    this.channels.clear();
    for (const queue of this.exclusiveQueues) this.broker.deleteQueue(queue, null, null);
    this.exclusiveQueues.clear();
  }

  /** Heartbeat duties, called about once a second by the broker. */
  tick(nowMs: number): void {
    const consumerTimeoutMs = this.broker.options.consumerTimeoutMs;
    if (this.state === State.Open && consumerTimeoutMs > 0) {
      for (const channel of this.channels.values()) {
        if (channel.isClosing || !channel.isAckOverdue(nowMs, consumerTimeoutMs)) continue;
        // RabbitMQ's text, with class and method 0 (no method caused it).
        this.failChannel(
          channel,
          channelError(
            PRECONDITION_FAILED,
            `delivery acknowledgement on channel ${channel.channelId} timed out. Timeout value used: ${consumerTimeoutMs} ms. This timeout value can be configured, see consumers doc guide to learn more`,
          ),
        );
      }
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
      this.out.u8(FRAME_HEARTBEAT);
      this.out.u16(0);
      this.out.u32(0);
      this.out.u8(0xce);
      this.markDirty();
    }
  }
}

function isLoopbackAddress(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** The error with the failing method's ids when it names none. */
function stampMethod(error: AmqpError, methodKey: number): AmqpError {
  if (error.classId !== 0 || methodKey === 0) return error;
  const classId = methodKey >>> 16;
  const methodId = methodKey & 0xffff;
  return error instanceof ConnectionError
    ? new ConnectionError(error.replyCode, error.replyText, classId, methodId)
    : new ChannelError(error.replyCode as ChannelReplyCode, error.replyText, classId, methodId);
}

function verifiedCertificateName(socket: Socket): string | null {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return null;
  const commonName = socket.getPeerCertificate().subject?.CN;
  // A certificate may carry several CNs; RabbitMQ takes the first.
  const name = Array.isArray(commonName) ? commonName[0] : commonName;
  return typeof name === 'string' && name !== '' ? name : null;
}
