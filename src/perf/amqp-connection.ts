// The lean AMQP 0-9-1 client of warren-perf, built on Warren's codec: one TCP connection, its
// handshake (PLAIN, the server's tune values), a few awaited control methods, and the hot paths:
// producers write publish frames straight into this connection's ByteWriter, and deliveries and
// publisher confirms are parsed where they lie in the read chunk and handed to the channel's
// handler. Runs on a client thread (the main thread uses it for topology only). Output leaves in
// one socket write per event-loop turn; nothing is allocated per message.
// Over 600 lines because the client's handshake, control methods and hand-written hot paths
// share one read buffer and one writer; warren-perf needs nothing else of a client.

import { Socket, connect as connectSocket } from 'node:net';
import {
  ByteReader,
  ByteWriter,
  FRAME_BODY,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  FrameReader,
  METHOD_IDS,
  METHOD_BASIC_ACK,
  METHOD_BASIC_DELIVER,
  METHOD_BASIC_NACK,
  NOT_FOUND,
  PROTOCOL_HEADER,
  REPLY_SUCCESS,
  decodeContentHeader,
  decodeMethod,
  encodeBasicAckFrame,
  encodeHeartbeatFrame,
  encodeMethodFrame,
  methodKey,
  methodName,
  readMethodKey,
  type AmqpMethod,
  type AmqpMethodName,
  type AmqpMethodOf,
  type ContentHeader,
  type FieldTable,
  type FrameSink,
} from '../codec/index.js';
import type { AmqpAddress } from './amqp-uri.js';
import { BrokerError } from './errors.js';

/** What a channel's producer or consumer is told, on the hot path. */
export interface ChannelHandler {
  /** A whole message arrived; `sendTimeMs` is NaN when its body is too short to carry one. */
  onDelivery(deliveryTag: number, sendTimeMs: number): void;
  /** A publisher confirm (basic.ack) or a nack arrived. */
  onConfirm(deliveryTag: number, isMultiple: boolean, isNack: boolean): void;
}

/** Woken when a backpressured socket drains. */
export interface DrainListener {
  onDrain(): void;
}

/** Our frame_max when the server sets none (0); Warren's and RabbitMQ's default. */
const FRAME_MAX_BYTES_DEFAULT = 131_072;
/** Above this many bytes queued in the socket, producers stop writing until it drains. */
const SOCKET_BUFFER_HIGH_BYTES = 1 << 20;
const WRITER_INITIAL_BYTES = 1 << 20;
const CLOSE_TIMEOUT_MS = 2000;
const CONNECT_TIMEOUT_MS = 10_000;

const CONTENT_IDLE = 0;
const CONTENT_AWAITING_HEADER = 1;
const CONTENT_AWAITING_BODY = 2;

const TWO_TO_THE_32 = 0x1_0000_0000;

interface PendingCall {
  replyKey: number;
  request: AmqpMethodName;
  /** A 404 channel.close answers this call with null instead of failing the connection. */
  isNotFoundTolerated: boolean;
  resolve(method: AmqpMethod | null): void;
  reject(error: Error): void;
}

type ConnectionState = 'connecting' | 'open' | 'closing' | 'closed';

/**
 * One AMQP connection with channels 1..channelCount. Create it, await {@link open}, open channels,
 * then set a handler per channel. Failures (socket errors, connection.close or channel.close from
 * the broker, missed heartbeats) go to `onFailure` once, and reject pending calls.
 */
export class AmqpConnection implements FrameSink {
  /** Producers write whole frames here; call {@link flush} or {@link scheduleFlush} after. */
  readonly writer: ByteWriter;
  /** Negotiated at tune; valid after {@link open}. */
  frameMaxBytes: number;
  heartbeatSeconds: number;
  serverProduct: string;
  serverVersion: string;

  private readonly address: AmqpAddress;
  private readonly channelCount: number;
  private readonly connectionName: string;
  private socket: Socket | null;
  private readonly frameReader: FrameReader;
  private readonly byteReader: ByteReader;
  private state: ConnectionState;
  private isHandshakeDone: boolean;
  private isFlushScheduled: boolean;
  private readonly flushCallback: () => void;
  private readonly handlers: (ChannelHandler | null)[];
  private readonly pendingCalls: PendingCall[][];
  private readonly contentStage: Uint8Array;
  private readonly contentBytesLeft: Float64Array;
  private readonly contentBytesTotal: Float64Array;
  private readonly contentDeliveryTag: Float64Array;
  private readonly contentSendTimeMs: Float64Array;
  /** 1 while the content in progress is a delivery, 0 for content we only skip (returns). */
  private readonly contentIsDelivery: Uint8Array;
  private readonly contentHeader: ContentHeader;
  private lastReceivedMs: number;
  private lastSentMs: number;
  private heartbeatTimer: NodeJS.Timeout | null;
  private handshake: { resolve(): void; reject(error: Error): void } | null;
  private closing: { resolve(): void } | null;
  private failure: BrokerError | null;
  private drainListener: DrainListener | null;
  /** Told once about the failure that ended this connection. */
  onFailure: ((error: BrokerError) => void) | null;

  constructor(address: AmqpAddress, channelCount: number, connectionName: string) {
    this.address = address;
    this.channelCount = channelCount;
    this.connectionName = connectionName;
    this.writer = new ByteWriter(WRITER_INITIAL_BYTES);
    this.frameMaxBytes = FRAME_MAX_BYTES_DEFAULT;
    this.heartbeatSeconds = 0;
    this.serverProduct = '';
    this.serverVersion = '';
    this.socket = null;
    // Until tune, accept what any server sends before it (connection.start is well under this).
    this.frameReader = new FrameReader(FRAME_MAX_BYTES_DEFAULT);
    this.byteReader = new ByteReader();
    this.state = 'connecting';
    this.isHandshakeDone = false;
    this.isFlushScheduled = false;
    this.flushCallback = () => {
      this.isFlushScheduled = false;
      this.flush();
    };
    this.handlers = new Array<ChannelHandler | null>(channelCount + 1).fill(null);
    this.pendingCalls = [];
    for (let channel = 0; channel <= channelCount; channel++) this.pendingCalls.push([]);
    this.contentStage = new Uint8Array(channelCount + 1);
    this.contentBytesLeft = new Float64Array(channelCount + 1);
    this.contentBytesTotal = new Float64Array(channelCount + 1);
    this.contentDeliveryTag = new Float64Array(channelCount + 1);
    this.contentSendTimeMs = new Float64Array(channelCount + 1);
    this.contentIsDelivery = new Uint8Array(channelCount + 1);
    this.contentHeader = { classId: 0, bodySize: 0, propertiesStart: 0 };
    this.lastReceivedMs = 0;
    this.lastSentMs = 0;
    this.heartbeatTimer = null;
    this.handshake = null;
    this.closing = null;
    this.failure = null;
    this.drainListener = null;
    this.onFailure = null;
  }

  /** Connects, authenticates with PLAIN and opens the vhost. Control plane. */
  open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.handshake = { resolve, reject };
      const socket = connectSocket({ host: this.address.host, port: this.address.port });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.setTimeout(CONNECT_TIMEOUT_MS);
      socket.on('timeout', () => {
        if (!this.isHandshakeDone) {
          this.fail(
            new BrokerError(
              'connect-failed',
              `${this.where()}: no answer within ${CONNECT_TIMEOUT_MS} ms`,
            ),
          );
        }
      });
      socket.on('connect', () => {
        this.lastReceivedMs = performance.now();
        socket.write(PROTOCOL_HEADER);
      });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('drain', () => this.drainListener?.onDrain());
      socket.on('error', (error: NodeJS.ErrnoException) => {
        const code = this.isHandshakeDone ? 'connection-lost' : 'connect-failed';
        this.fail(new BrokerError(code, `${this.where()}: ${error.message}`));
      });
      socket.on('close', () => {
        if (this.state === 'closing' || this.state === 'closed') {
          this.finishClose();
          return;
        }
        const text = this.isHandshakeDone
          ? 'the broker closed the TCP connection'
          : 'the broker closed the TCP connection during the handshake (wrong user, password or ' +
            'vhost? RabbitMQ drops such clients unless they ask for authentication_failure_close)';
        this.fail(
          new BrokerError(
            this.isHandshakeDone ? 'connection-lost' : 'handshake-failed',
            `${this.where()}: ${text}`,
          ),
        );
      });
    });
  }

  /** Sets who is woken when the socket drains after {@link isBackpressured}. */
  setDrainListener(listener: DrainListener): void {
    this.drainListener = listener;
  }

  /** Sets the hot-path handler of `channel`. */
  setHandler(channel: number, handler: ChannelHandler): void {
    this.checkChannel(channel);
    this.handlers[channel] = handler;
  }

  /** True while the socket holds more unsent bytes than producers should add to. */
  get isBackpressured(): boolean {
    return this.socket === null || this.socket.writableLength > SOCKET_BUFFER_HIGH_BYTES;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Sends what the writer holds at the end of this event-loop turn. */
  scheduleFlush(): void {
    if (this.isFlushScheduled) return;
    this.isFlushScheduled = true;
    setImmediate(this.flushCallback);
  }

  /** Sends what the writer holds now, as one socket write. */
  flush(): void {
    if (this.writer.position === 0) return;
    const socket = this.socket;
    if (socket === null || this.state === 'closed' || socket.destroyed) {
      this.writer.reset();
      return;
    }
    socket.write(this.writer.take());
    this.lastSentMs = performance.now();
  }

  /** Writes a basic.ack for a delivery; the caller schedules the flush. Hot path. */
  writeBasicAck(channel: number, deliveryTag: number, isMultiple: boolean): void {
    encodeBasicAckFrame(this.writer, channel, deliveryTag, isMultiple);
  }

  // -------------------------------------------------------------------------------------------
  // Control methods (awaited; never on the per-message path)

  async openChannel(channel: number): Promise<void> {
    this.checkChannel(channel);
    await this.call(channel, { method: 'channel.open' }, 'channel.open-ok');
  }

  async confirmSelect(channel: number): Promise<void> {
    await this.call(channel, { method: 'confirm.select', nowait: false }, 'confirm.select-ok');
  }

  async basicQos(channel: number, prefetchCount: number): Promise<void> {
    await this.call(
      channel,
      { method: 'basic.qos', prefetchSize: 0, prefetchCount, global: false },
      'basic.qos-ok',
    );
  }

  async basicConsume(channel: number, queue: string, isNoAck: boolean): Promise<string> {
    const reply = await this.call(
      channel,
      {
        method: 'basic.consume',
        queue,
        consumerTag: '',
        noLocal: false,
        noAck: isNoAck,
        exclusive: false,
        noWait: false,
        arguments: {},
      },
      'basic.consume-ok',
    );
    return reply.consumerTag;
  }

  async exchangeDeclare(
    channel: number,
    exchange: string,
    type: string,
    flags: { isPassive: boolean; isDurable: boolean },
  ): Promise<void> {
    await this.call(
      channel,
      {
        method: 'exchange.declare',
        exchange,
        type,
        passive: flags.isPassive,
        durable: flags.isDurable,
        autoDelete: false,
        internal: false,
        noWait: false,
        arguments: {},
      },
      'exchange.declare-ok',
    );
  }

  async exchangeDelete(channel: number, exchange: string): Promise<void> {
    await this.call(
      channel,
      { method: 'exchange.delete', exchange, ifUnused: false, noWait: false },
      'exchange.delete-ok',
    );
  }

  async queueDeclare(
    channel: number,
    queue: string,
    flags: { isDurable: boolean; isExclusive: boolean; isAutoDelete: boolean },
    queueArguments: FieldTable,
  ): Promise<void> {
    await this.call(
      channel,
      {
        method: 'queue.declare',
        queue,
        passive: false,
        durable: flags.isDurable,
        exclusive: flags.isExclusive,
        autoDelete: flags.isAutoDelete,
        noWait: false,
        arguments: queueArguments,
      },
      'queue.declare-ok',
    );
  }

  async queueBind(
    channel: number,
    queue: string,
    exchange: string,
    routingKey: string,
    bindingArguments: FieldTable,
  ): Promise<void> {
    await this.call(
      channel,
      {
        method: 'queue.bind',
        queue,
        exchange,
        routingKey,
        noWait: false,
        arguments: bindingArguments,
      },
      'queue.bind-ok',
    );
  }

  /** Whether the queue exists (a passive declare). The channel must be reopened after false. */
  async queueExists(channel: number, queue: string): Promise<boolean> {
    const reply = await this.callToleratingNotFound(
      channel,
      {
        method: 'queue.declare',
        queue,
        passive: true,
        durable: false,
        exclusive: false,
        autoDelete: false,
        noWait: false,
        arguments: {},
      },
      'queue.declare-ok',
    );
    return reply !== null;
  }

  /** Whether the exchange exists (a passive declare). The channel must be reopened after false. */
  async exchangeExists(channel: number, exchange: string): Promise<boolean> {
    const reply = await this.callToleratingNotFound(
      channel,
      {
        method: 'exchange.declare',
        exchange,
        type: 'direct',
        passive: true,
        durable: false,
        autoDelete: false,
        internal: false,
        noWait: false,
        arguments: {},
      },
      'exchange.declare-ok',
    );
    return reply !== null;
  }

  async queueDelete(channel: number, queue: string): Promise<void> {
    await this.call(
      channel,
      { method: 'queue.delete', queue, ifUnused: false, ifEmpty: false, noWait: false },
      'queue.delete-ok',
    );
  }

  /**
   * Closes with connection.close 200 and waits for close-ok (at most 2 s), then ends the socket.
   * Safe to call in any state; a failed connection just goes away.
   */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    if (this.state === 'connecting') {
      this.state = 'closed';
      this.socket?.destroy();
      this.stopHeartbeats();
      return;
    }
    this.state = 'closing';
    const closed = new Promise<void>((resolve) => {
      this.closing = { resolve };
    });
    encodeMethodFrame(this.writer, 0, {
      method: 'connection.close',
      replyCode: REPLY_SUCCESS,
      replyText: 'warren-perf done',
      classId: 0,
      methodId: 0,
    });
    this.flush();
    const timer = setTimeout(() => this.finishClose(), CLOSE_TIMEOUT_MS);
    await closed;
    clearTimeout(timer);
  }

  /** Sends a control method and resolves with its reply. */
  private call<N extends AmqpMethodName>(
    channel: number,
    method: AmqpMethod,
    replyName: N,
  ): Promise<AmqpMethodOf<N>> {
    return this.send(channel, method, replyName, false) as Promise<AmqpMethodOf<N>>;
  }

  /**
   * Sends a control method and resolves with its reply, or with null when the broker closes the
   * channel with 404 NOT_FOUND (a passive declare of something missing); the channel is then
   * closed and must be opened again.
   */
  private callToleratingNotFound<N extends AmqpMethodName>(
    channel: number,
    method: AmqpMethod,
    replyName: N,
  ): Promise<AmqpMethodOf<N> | null> {
    return this.send(channel, method, replyName, true) as Promise<AmqpMethodOf<N> | null>;
  }

  private send(
    channel: number,
    method: AmqpMethod,
    replyName: AmqpMethodName,
    isNotFoundTolerated: boolean,
  ): Promise<AmqpMethod | null> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.state !== 'open') {
      return Promise.reject(new BrokerError('connection-lost', `${this.where()}: not open`));
    }
    const replyKey = methodKeyOf(replyName);
    return new Promise<AmqpMethod | null>((resolve, reject) => {
      this.pendingCalls[channel]!.push({
        replyKey,
        request: method.method,
        isNotFoundTolerated,
        resolve,
        reject,
      });
      encodeMethodFrame(this.writer, channel, method);
      this.scheduleFlush();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Input

  private onData(chunk: Buffer): void {
    this.lastReceivedMs = performance.now();
    if (!this.isHandshakeDone && chunk.length >= 4 && chunk.toString('latin1', 0, 4) === 'AMQP') {
      const version = [...chunk.subarray(4, 8)].join('-');
      this.fail(
        new BrokerError(
          'handshake-failed',
          `${this.where()}: the server does not speak AMQP 0-9-1 (it answered with protocol header ${version})`,
        ),
      );
      return;
    }
    try {
      this.frameReader.push(chunk, this);
    } catch (error) {
      this.fail(
        error instanceof BrokerError
          ? error
          : new BrokerError('protocol-violation', `${this.where()}: ${(error as Error).message}`),
      );
    }
  }

  /** FrameSink: one frame, valid only during the call. Hot path for deliveries and confirms. */
  onFrame(type: number, channel: number, buf: Buffer, start: number, end: number): void {
    if (this.state === 'closed') return;
    if (channel > this.channelCount) {
      throw new BrokerError(
        'protocol-violation',
        `${this.where()}: frame on unopened channel ${channel}`,
      );
    }
    switch (type) {
      case FRAME_METHOD: {
        const key = readMethodKey(buf, start, end);
        if (key === METHOD_BASIC_DELIVER) this.onBasicDeliver(channel, buf, start, end);
        else if (key === METHOD_BASIC_ACK || key === METHOD_BASIC_NACK) {
          this.onPublisherConfirm(channel, key, buf, start, end);
        } else this.onControlMethod(channel, decodeMethod(buf, start, end, this.byteReader));
        return;
      }
      case FRAME_HEADER:
        this.onContentHeader(channel, buf, start, end);
        return;
      case FRAME_BODY:
        this.onContentBody(channel, buf, start, end);
        return;
      case FRAME_HEARTBEAT:
        return;
    }
  }

  /** basic.deliver, read in place: consumer tag (skipped), delivery tag, then the rest ignored. */
  private onBasicDeliver(channel: number, buf: Buffer, start: number, end: number): void {
    const tagAt = start + 5 + buf[start + 4]!;
    if (start + 5 > end || tagAt + 9 > end) {
      throw new BrokerError('protocol-violation', `${this.where()}: truncated basic.deliver`);
    }
    if (this.contentStage[channel] !== CONTENT_IDLE) this.unexpected(channel, 'basic.deliver');
    this.contentDeliveryTag[channel] =
      readU32(buf, tagAt) * TWO_TO_THE_32 + readU32(buf, tagAt + 4);
    this.contentIsDelivery[channel] = 1;
    this.contentStage[channel] = CONTENT_AWAITING_HEADER;
  }

  private onPublisherConfirm(
    channel: number,
    key: number,
    buf: Buffer,
    start: number,
    end: number,
  ): void {
    if (end - start !== 13) {
      throw new BrokerError(
        'protocol-violation',
        `${this.where()}: basic.ack/nack of ${end - start} bytes`,
      );
    }
    const deliveryTag = readU32(buf, start + 4) * TWO_TO_THE_32 + readU32(buf, start + 8);
    const isMultiple = (buf[start + 12]! & 1) !== 0;
    const handler = this.handlers[channel];
    if (handler === null || handler === undefined) this.unexpected(channel, 'publisher confirm');
    handler.onConfirm(deliveryTag, isMultiple, key === METHOD_BASIC_NACK);
  }

  private onContentHeader(channel: number, buf: Buffer, start: number, end: number): void {
    if (this.contentStage[channel] !== CONTENT_AWAITING_HEADER)
      this.unexpected(channel, 'content header');
    const header = decodeContentHeader(buf, start, end, this.contentHeader);
    this.contentBytesTotal[channel] = header.bodySize;
    this.contentBytesLeft[channel] = header.bodySize;
    this.contentSendTimeMs[channel] = NaN;
    if (header.bodySize === 0) this.finishContent(channel);
    else this.contentStage[channel] = CONTENT_AWAITING_BODY;
  }

  private onContentBody(channel: number, buf: Buffer, start: number, end: number): void {
    if (this.contentStage[channel] !== CONTENT_AWAITING_BODY)
      this.unexpected(channel, 'content body');
    const left = this.contentBytesLeft[channel]!;
    // The send time is the body's first 8 bytes, which always sit in its first frame.
    if (left === this.contentBytesTotal[channel] && end - start >= 8) {
      this.contentSendTimeMs[channel] = buf.readDoubleBE(start);
    }
    const remaining = left - (end - start);
    if (remaining < 0) {
      throw new BrokerError(
        'protocol-violation',
        `${this.where()}: body longer than its header said`,
      );
    }
    this.contentBytesLeft[channel] = remaining;
    if (remaining === 0) this.finishContent(channel);
  }

  private finishContent(channel: number): void {
    this.contentStage[channel] = CONTENT_IDLE;
    if (this.contentIsDelivery[channel] === 0) return;
    const handler = this.handlers[channel];
    if (handler === null || handler === undefined) this.unexpected(channel, 'delivery');
    handler.onDelivery(this.contentDeliveryTag[channel]!, this.contentSendTimeMs[channel]!);
  }

  private onControlMethod(channel: number, method: AmqpMethod): void {
    switch (method.method) {
      case 'connection.start':
        this.onConnectionStart(method);
        return;
      case 'connection.secure':
        throw new BrokerError(
          'handshake-failed',
          `${this.where()}: the broker asked for a SASL challenge; warren-perf speaks PLAIN only`,
        );
      case 'connection.tune':
        this.onConnectionTune(method);
        return;
      case 'connection.open-ok':
        this.isHandshakeDone = true;
        this.state = 'open';
        this.socket?.setTimeout(0);
        this.startHeartbeats();
        this.handshake?.resolve();
        this.handshake = null;
        return;
      case 'connection.close': {
        encodeMethodFrame(this.writer, 0, { method: 'connection.close-ok' });
        this.flush();
        const code = this.isHandshakeDone ? 'connection-closed' : 'handshake-failed';
        this.fail(
          new BrokerError(
            code,
            `${this.where()}: the broker closed the connection: ${method.replyCode} ${method.replyText}` +
              failedMethodSuffix(method.classId, method.methodId),
          ),
        );
        return;
      }
      case 'connection.close-ok':
        this.finishClose();
        return;
      case 'connection.blocked':
      case 'connection.unblocked':
        return;
      case 'channel.close': {
        encodeMethodFrame(this.writer, channel, { method: 'channel.close-ok' });
        this.flush();
        const pending = this.pendingCalls[channel]![0];
        if (method.replyCode === NOT_FOUND && pending?.isNotFoundTolerated === true) {
          this.pendingCalls[channel]!.shift();
          pending.resolve(null);
          return;
        }
        this.fail(
          new BrokerError(
            'channel-closed',
            `${this.where()}: the broker closed channel ${channel}: ${method.replyCode} ${method.replyText}` +
              failedMethodSuffix(method.classId, method.methodId),
          ),
        );
        return;
      }
      case 'channel.flow':
        encodeMethodFrame(this.writer, channel, {
          method: 'channel.flow-ok',
          active: method.active,
        });
        this.scheduleFlush();
        return;
      case 'basic.cancel':
        this.fail(
          new BrokerError(
            'consumer-cancelled',
            `${this.where()}: the broker cancelled consumer ${method.consumerTag} on channel ${channel} (queue deleted?)`,
          ),
        );
        return;
      case 'basic.return':
        // Content we did not ask for (we never publish mandatory): skip its header and body.
        this.contentIsDelivery[channel] = 0;
        this.contentStage[channel] = CONTENT_AWAITING_HEADER;
        return;
      default: {
        const pending = this.pendingCalls[channel]!.shift();
        const key = methodKeyOf(method.method);
        if (pending === undefined || pending.replyKey !== key) {
          throw new BrokerError(
            'protocol-violation',
            `${this.where()}: unexpected ${method.method} on channel ${channel}` +
              (pending === undefined ? '' : ` (waiting for the reply to ${pending.request})`),
          );
        }
        pending.resolve(method);
      }
    }
  }

  private onConnectionStart(method: AmqpMethodOf<'connection.start'>): void {
    const properties = method.serverProperties;
    this.serverProduct = String(properties['product'] ?? '');
    this.serverVersion = String(properties['version'] ?? '');
    const mechanisms = method.mechanisms.toString('utf8').split(' ');
    if (!mechanisms.includes('PLAIN')) {
      throw new BrokerError(
        'handshake-failed',
        `${this.where()}: the broker offers ${mechanisms.join(', ')}; warren-perf speaks PLAIN only`,
      );
    }
    const response = Buffer.from(`\0${this.address.username}\0${this.address.password}`, 'utf8');
    encodeMethodFrame(this.writer, 0, {
      method: 'connection.start-ok',
      clientProperties: {
        product: 'warren-perf',
        platform: `Node.js ${process.version}`,
        connection_name: this.connectionName,
        capabilities: {
          publisher_confirms: true,
          'basic.nack': true,
          consumer_cancel_notify: true,
          authentication_failure_close: true,
        },
      },
      mechanism: 'PLAIN',
      response,
      locale: 'en_US',
    });
    this.flush();
  }

  private onConnectionTune(method: AmqpMethodOf<'connection.tune'>): void {
    const channelMax = method.channelMax === 0 ? 0xffff : method.channelMax;
    if (this.channelCount > channelMax) {
      throw new BrokerError(
        'handshake-failed',
        `${this.where()}: the broker allows ${channelMax} channels per connection, ` +
          `${this.channelCount} needed (lower --channels-per-connection)`,
      );
    }
    this.frameMaxBytes = method.frameMax === 0 ? FRAME_MAX_BYTES_DEFAULT : method.frameMax;
    if (this.frameMaxBytes < FRAME_MIN_SIZE) {
      throw new BrokerError(
        'handshake-failed',
        `${this.where()}: frame_max ${method.frameMax} is below 4096`,
      );
    }
    this.heartbeatSeconds = method.heartbeat;
    this.frameReader.setFrameMax(this.frameMaxBytes);
    encodeMethodFrame(this.writer, 0, {
      method: 'connection.tune-ok',
      channelMax,
      frameMax: this.frameMaxBytes,
      heartbeat: this.heartbeatSeconds,
    });
    encodeMethodFrame(this.writer, 0, {
      method: 'connection.open',
      virtualHost: this.address.vhost,
    });
    this.flush();
  }

  // -------------------------------------------------------------------------------------------
  // Heartbeats, failure and close

  /** Sends a heartbeat when idle for half the interval; fails after two silent intervals. */
  private startHeartbeats(): void {
    if (this.heartbeatSeconds === 0) return;
    const intervalMs = this.heartbeatSeconds * 1000;
    this.heartbeatTimer = setInterval(() => {
      const nowMs = performance.now();
      if (nowMs - this.lastReceivedMs > 2 * intervalMs) {
        this.fail(
          new BrokerError(
            'heartbeat-timeout',
            `${this.where()}: nothing from the broker for ${Math.round((nowMs - this.lastReceivedMs) / 1000)} s (heartbeat ${this.heartbeatSeconds} s)`,
          ),
        );
        return;
      }
      if (nowMs - this.lastSentMs >= intervalMs / 2) {
        encodeHeartbeatFrame(this.writer);
        this.flush();
      }
    }, intervalMs / 2);
    this.heartbeatTimer.unref();
  }

  private stopHeartbeats(): void {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private fail(error: BrokerError): void {
    if (this.state === 'closed') return;
    const wasClosing = this.state === 'closing';
    this.state = 'closed';
    this.failure = error;
    this.stopHeartbeats();
    this.frameReader.halt();
    this.socket?.destroy();
    for (const calls of this.pendingCalls) {
      for (const call of calls.splice(0)) call.reject(error);
    }
    this.handshake?.reject(error);
    this.handshake = null;
    this.closing?.resolve();
    this.closing = null;
    // A socket error while we close on purpose is not a failure of the run.
    if (!wasClosing) this.onFailure?.(error);
  }

  private finishClose(): void {
    this.state = 'closed';
    this.stopHeartbeats();
    this.socket?.destroy();
    this.closing?.resolve();
    this.closing = null;
  }

  private unexpected(channel: number, what: string): never {
    throw new BrokerError(
      'protocol-violation',
      `${this.where()}: unexpected ${what} on channel ${channel}`,
    );
  }

  private checkChannel(channel: number): void {
    if (!(Number.isInteger(channel) && channel >= 1 && channel <= this.channelCount)) {
      throw new RangeError(`channel ${channel} is outside 1..${this.channelCount}`);
    }
  }

  private where(): string {
    return `${this.connectionName} (${this.address.host}:${this.address.port})`;
  }
}

function readU32(buf: Buffer, offset: number): number {
  return (
    buf[offset]! * 0x100_0000 +
    ((buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!)
  );
}

/** The method key of a method name, e.g. 'queue.declare-ok' → 0x0032000b. */
function methodKeyOf(name: AmqpMethodName): number {
  const info = METHOD_IDS[name];
  return methodKey(info.classId, info.methodId);
}

function failedMethodSuffix(classId: number, methodId: number): string {
  if (classId === 0) return '';
  const name = methodName(classId, methodId);
  return ` (after ${name ?? `method ${classId}.${methodId}`})`;
}
