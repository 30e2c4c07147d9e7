// The raw AMQP 0-9-1 client for protocol and end-to-end tests: one plain TCP socket, frames built
// by hand, and exact reads with timeouts. It sends what no real client would (bad frame-end
// octets, unknown frame types, truncated methods) and reads the server's answer byte for byte.
// Methods go out through Warren's codec or, where a test checks the codec itself, as raw ids and
// argument bytes built with the independent wire codec in wire.ts. Incoming frames are split here
// by hand, not by the codec's FrameReader, so a reader bug in Warren cannot hide the very bytes a
// test is checking. Test process only.

import { connect, type Socket } from 'node:net';
import {
  type AmqpMethod,
  type AmqpMethodName,
  type AmqpMethodOf,
  type BasicProperties,
  ByteWriter,
  decodeMethod,
  encodeContentHeaderFrameWithProperties,
  encodeMethodFrame,
  encodeMethodPayload,
  type FieldTable,
  FRAME_BODY,
  FRAME_END,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  PROTOCOL_HEADER,
} from '../../src/codec/index.js';
import {
  asMethod,
  Decoder,
  FieldTableBuilder,
  type MethodFrame,
  type RawFrame,
  type TypedValue,
  decodeClose,
} from './wire.js';

export type { MethodFrame, RawFrame };

/**
 * How long a read waits by default before failing the test (see RawClient.readTimeoutMs): a
 * guard against a hung test, not a speed target, so it leaves room for a busy machine (a read
 * returns as soon as its bytes arrive). A test that expects silence passes its own timeout.
 */
export const READ_TIMEOUT_MS = 10_000;

export interface ReceivedMethod<M extends AmqpMethod = AmqpMethod> {
  channel: number;
  method: M;
}

export interface HandshakeOptions {
  mechanism?: 'PLAIN' | 'AMQPLAIN';
  user?: string;
  password?: string;
  vhost?: string;
  /**
   * The capabilities table sent in client-properties; defaults to what amqplib sends; null
   * sends no capabilities table at all.
   */
  capabilities?: FieldTable | null;
  /** Values for tune-ok; each defaults to the server's value from connection.tune. */
  channelMax?: number;
  frameMax?: number;
  heartbeat?: number;
}

export interface TuneValues {
  channelMax: number;
  frameMax: number;
  heartbeat: number;
}

/** connection.start as the wire codec reads it: server properties keep their type tags. */
export interface ConnectionStart {
  versionMajor: number;
  versionMinor: number;
  serverProperties: Record<string, TypedValue>;
  mechanisms: string;
  locales: string;
}

/** A content header and its body, as they arrived. */
export interface Content {
  bodySize: number;
  body: Buffer;
  /** The property flags and values, byte for byte. */
  properties: Buffer;
  /** The header frame and the body frames. */
  frames: RawFrame[];
}

const DEFAULT_CAPABILITIES: FieldTable = {
  publisher_confirms: true,
  exchange_exchange_bindings: true,
  'basic.nack': true,
  consumer_cancel_notify: true,
  'connection.blocked': true,
  authentication_failure_close: true,
};

/** Thrown when the server closed the socket while a read still needed bytes. */
export class SocketClosedError extends Error {
  override readonly name = 'SocketClosedError';
}

export class RawClient {
  readonly socket: Socket;
  /** Bytes received and not yet consumed by a read. */
  private pending: Buffer = Buffer.alloc(0);
  private wakeups: (() => void)[] = [];
  private closedAtMs: number | null = null;
  /** The socket error, if any (ECONNRESET when the server destroys the socket). */
  socketError: Error | null = null;
  /** What the last handshake negotiated (the values sent in tune-ok). */
  tuned: TuneValues = { channelMax: 0, frameMax: 4096, heartbeat: 0 };
  /**
   * How long this client's reads wait when not told otherwise (the handshake's among them). A
   * test that loads the machine on purpose raises it to its own budget, so that only the
   * server's answer, not the speed of a busy machine, decides what the test sees.
   */
  readTimeoutMs = READ_TIMEOUT_MS;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      this.wake();
    });
    socket.on('error', (error) => {
      this.socketError = error;
    });
    socket.on('close', () => {
      this.closedAtMs = Date.now();
      this.wake();
    });
  }

  /** Opens a TCP connection and sends nothing yet. */
  static connect(
    port: number,
    host = '127.0.0.1',
    timeoutMs = READ_TIMEOUT_MS,
  ): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new RawClient(socket));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** Connects and completes the whole handshake up to connection.open-ok. */
  static async open(port: number, options: HandshakeOptions = {}): Promise<RawClient> {
    const client = await RawClient.connect(port);
    await client.handshake(options);
    return client;
  }

  get isClosed(): boolean {
    return this.closedAtMs !== null;
  }

  /** Unread bytes received so far. */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  // ---------------------------------------------------------------- sending

  /** Writes raw bytes; a write to a socket the server already closed is ignored. */
  write(bytes: Buffer | Uint8Array | string): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(bytes);
  }

  /** Writes one frame around `payload`; `frameEnd` may be set to a wrong octet on purpose. */
  sendFrame(type: number, channel: number, payload: Buffer, frameEnd = FRAME_END): void {
    this.write(buildFrame(type, channel, payload, frameEnd));
  }

  sendMethod(channel: number, method: AmqpMethod): void {
    this.write(methodFrame(channel, method));
  }

  /** A method frame from class and method ids and argument bytes, bypassing Warren's codec. */
  sendRawMethod(
    channel: number,
    classId: number,
    methodId: number,
    args: Buffer = Buffer.alloc(0),
  ): void {
    this.sendFrame(FRAME_METHOD, channel, rawMethodPayload(classId, methodId, args));
  }

  /** Sends a method frame whose payload is cut to `payloadBytes` (class and method ids included). */
  sendTruncatedMethod(channel: number, method: AmqpMethod, payloadBytes: number): void {
    const payload = methodPayload(method);
    this.sendFrame(FRAME_METHOD, channel, payload.subarray(0, payloadBytes));
  }

  /** Sends a content header frame announcing `bodySize` bytes. */
  sendContentHeader(
    channel: number,
    bodySize: number,
    properties: BasicProperties = {},
    classId = 60,
  ): void {
    const writer = new ByteWriter(256);
    encodeContentHeaderFrameWithProperties(writer, channel, classId, bodySize, properties);
    this.write(writer.take());
  }

  sendBody(channel: number, body: Buffer): void {
    this.sendFrame(FRAME_BODY, channel, body);
  }

  /**
   * basic.publish, the content header and the body: in one frame (or none when empty), or split
   * at `frameMax`. `rawProperties` are property flags and values sent byte for byte.
   */
  publish(
    channel: number,
    exchange: string,
    routingKey: string,
    body: Buffer,
    options: {
      mandatory?: boolean;
      immediate?: boolean;
      rawProperties?: Buffer;
      frameMax?: number;
    } = {},
  ): void {
    this.sendMethod(channel, {
      method: 'basic.publish',
      exchange,
      routingKey,
      mandatory: options.mandatory ?? false,
      immediate: options.immediate ?? false,
    });
    if (options.rawProperties === undefined) {
      this.sendContentHeader(channel, body.length);
    } else {
      const header = Buffer.alloc(12 + options.rawProperties.length);
      header.writeUInt16BE(60, 0);
      header.writeBigUInt64BE(BigInt(body.length), 4);
      options.rawProperties.copy(header, 12);
      this.sendFrame(FRAME_HEADER, channel, header);
    }
    const chunkBytes = options.frameMax === undefined ? body.length : options.frameMax - 8;
    for (let at = 0; at < body.length; at += chunkBytes) {
      this.sendBody(channel, body.subarray(at, Math.min(body.length, at + chunkBytes)));
    }
  }

  sendHeartbeat(channel = 0): void {
    this.sendFrame(FRAME_HEARTBEAT, channel, Buffer.alloc(0));
  }

  // ---------------------------------------------------------------- receiving

  /** Resolves once `condition()` holds; throws on timeout or when the socket closes first. */
  private async waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (this.isClosed) {
        throw new SocketClosedError(
          `socket closed while waiting for ${what} (${this.pending.length} unread bytes)`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what} (${this.pending.length} unread bytes)`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wakeups.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const wakeups = this.wakeups;
    this.wakeups = [];
    for (const wakeup of wakeups) wakeup();
  }

  /** Reads exactly `bytes` bytes. */
  async readBytes(bytes: number, timeoutMs = this.readTimeoutMs): Promise<Buffer> {
    await this.waitFor(() => this.pending.length >= bytes, timeoutMs, `${bytes} bytes`);
    const taken = this.pending.subarray(0, bytes);
    this.pending = this.pending.subarray(bytes);
    return taken;
  }

  /** Reads one frame; throws if its frame-end octet is wrong. */
  async readFrame(timeoutMs = this.readTimeoutMs): Promise<RawFrame> {
    const deadline = Date.now() + timeoutMs;
    await this.waitFor(() => this.pending.length >= 7, timeoutMs, 'a frame header');
    const size = this.pending.readUInt32BE(3);
    await this.waitFor(
      () => this.pending.length >= size + 8,
      Math.max(0, deadline - Date.now()),
      `a frame of ${size} payload bytes`,
    );
    const bytes = await this.readBytes(size + 8);
    if (bytes[size + 7] !== FRAME_END) {
      throw new Error(`server sent a frame ending in ${bytes[size + 7]}, not ${FRAME_END}`);
    }
    return {
      type: bytes[0]!,
      channel: bytes.readUInt16BE(1),
      payload: Buffer.from(bytes.subarray(7, 7 + size)),
    };
  }

  /** Reads frames until a method frame, skipping heartbeats; content frames are an error. */
  async readMethod(timeoutMs = this.readTimeoutMs): Promise<ReceivedMethod> {
    const frame = await this.readMethodFrame(timeoutMs);
    return { channel: frame.channel, method: decodeMethod(frame.payload, 0, frame.payload.length) };
  }

  /** Reads the next method and checks its name. */
  async expectMethod<N extends AmqpMethodName>(
    name: N,
    timeoutMs = this.readTimeoutMs,
  ): Promise<ReceivedMethod<AmqpMethodOf<N>>> {
    const received = await this.readMethod(timeoutMs);
    if (received.method.method !== name) {
      throw new Error(
        `expected ${name}, got ${JSON.stringify(received.method)} on channel ${received.channel}`,
      );
    }
    return received as ReceivedMethod<AmqpMethodOf<N>>;
  }

  /**
   * Reads the content header and body frames that follow basic.deliver, get-ok or return, on
   * `channel` when given.
   */
  async readContent(channel?: number, timeoutMs = this.readTimeoutMs): Promise<Content> {
    const deadline = Date.now() + timeoutMs;
    const onChannel = channel === undefined ? '' : ` on channel ${channel}`;
    const header = await this.readFrame(timeoutMs);
    if (header.type !== FRAME_HEADER || (channel !== undefined && header.channel !== channel)) {
      throw new Error(
        `expected a content header${onChannel}, got type ${header.type} on ${header.channel}`,
      );
    }
    const bodySize = Number(header.payload.readBigUInt64BE(4));
    const frames = [header];
    const parts: Buffer[] = [];
    let received = 0;
    while (received < bodySize) {
      const frame = await this.readFrame(Math.max(0, deadline - Date.now()));
      if (frame.type !== FRAME_BODY || (channel !== undefined && frame.channel !== channel)) {
        throw new Error(
          `expected a body frame${onChannel}, got type ${frame.type} on ${frame.channel}`,
        );
      }
      frames.push(frame);
      parts.push(frame.payload);
      received += frame.payload.length;
    }
    return {
      bodySize,
      body: Buffer.concat(parts),
      properties: header.payload.subarray(12),
      frames,
    };
  }

  /** Reads frames until a method frame, skipping heartbeats, and splits it into ids and args. */
  async readMethodFrame(timeoutMs = this.readTimeoutMs): Promise<MethodFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = await this.readFrame(Math.max(0, deadline - Date.now()));
      if (frame.type === FRAME_HEARTBEAT) continue;
      if (frame.type !== FRAME_METHOD) {
        throw new Error(`expected a method frame, got type ${frame.type} on ${frame.channel}`);
      }
      return asMethod(frame);
    }
  }

  /** The next method frame, which must be classId/methodId on `channel`; not decoded. */
  async expectMethodFrame(
    channel: number,
    classId: number,
    methodId: number,
    timeoutMs = READ_TIMEOUT_MS,
  ): Promise<MethodFrame> {
    const frame = await this.readMethodFrame(timeoutMs);
    if (frame.channel !== channel || frame.classId !== classId || frame.methodId !== methodId) {
      const isClose =
        (frame.classId === 10 && frame.methodId === 50) ||
        (frame.classId === 20 && frame.methodId === 40);
      throw new Error(
        `expected ${classId}/${methodId} on channel ${channel}, got ${frame.classId}/${frame.methodId} on channel ${frame.channel}${isClose ? ` ${JSON.stringify(decodeClose(frame))}` : ''}`,
      );
    }
    return frame;
  }

  /**
   * Reads until the server's connection.close, skipping everything before it (heartbeats,
   * content frames, other methods). Throws if the socket closes without one.
   */
  async expectConnectionClose(
    timeoutMs = this.readTimeoutMs,
  ): Promise<AmqpMethodOf<'connection.close'>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = await this.readFrame(Math.max(0, deadline - Date.now()));
      if (frame.type !== FRAME_METHOD || frame.channel !== 0) continue;
      const method = decodeMethod(frame.payload, 0, frame.payload.length);
      if (method.method === 'connection.close') return method;
    }
  }

  /** Reads methods until a channel.close for `channel`, which it returns. */
  async expectChannelClose(
    channel: number,
    timeoutMs = this.readTimeoutMs,
  ): Promise<AmqpMethodOf<'channel.close'>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = await this.readFrame(Math.max(0, deadline - Date.now()));
      if (frame.type !== FRAME_METHOD) continue;
      const method = decodeMethod(frame.payload, 0, frame.payload.length);
      if (method.method === 'connection.close') {
        throw new Error(`expected channel.close, got connection.close ${JSON.stringify(method)}`);
      }
      if (method.method === 'channel.close' && frame.channel === channel) return method;
    }
  }

  /**
   * Waits for the server to close the socket, discarding whatever it still sends, and returns
   * how many milliseconds that took. Throws on timeout.
   */
  async waitForClose(timeoutMs: number): Promise<number> {
    const startedMs = Date.now();
    await this.waitFor(
      () => {
        this.pending = Buffer.alloc(0);
        return this.isClosed;
      },
      timeoutMs,
      'the server to close the socket',
    );
    return Math.max(0, this.closedAtMs! - startedMs);
  }

  /** Resolves true once the server has closed the socket, false on timeout; keeps what arrived. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    try {
      await this.waitFor(() => false, timeoutMs, 'the server to close the socket');
    } catch (error) {
      if (error instanceof SocketClosedError) return true;
      if (error instanceof Error && error.message.startsWith('timed out')) return false;
      throw error;
    }
    return false;
  }

  /** Every whole frame received and not yet read, in order. */
  drainFrames(): RawFrame[] {
    const frames: RawFrame[] = [];
    for (;;) {
      if (this.pending.length < 7) return frames;
      const size = this.pending.readUInt32BE(3);
      if (this.pending.length < size + 8) return frames;
      frames.push({
        type: this.pending[0]!,
        channel: this.pending.readUInt16BE(1),
        payload: Buffer.from(this.pending.subarray(7, 7 + size)),
      });
      this.pending = this.pending.subarray(size + 8);
    }
  }

  /** Every byte the server sends until it closes the socket (throws on timeout). */
  async readUntilClose(timeoutMs: number): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isClosed) {
      if (Date.now() >= deadline) {
        throw new Error(`server did not close the socket within ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.wakeups.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }

  /** Resolves true if the socket stays open for `ms` (the reads in between are discarded). */
  async staysOpenFor(ms: number): Promise<boolean> {
    try {
      await this.waitForClose(ms);
      return false;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('timed out')) return true;
      throw error;
    }
  }

  // ---------------------------------------------------------------- handshake

  /** Sends the protocol header (or any other bytes in its place). */
  sendProtocolHeader(header: Buffer = PROTOCOL_HEADER): void {
    this.write(header);
  }

  /** Sends the protocol header and reads connection.start. */
  async start(): Promise<AmqpMethodOf<'connection.start'>> {
    this.sendProtocolHeader();
    return (await this.expectMethod('connection.start')).method;
  }

  /** Reads connection.start with the wire codec (after sendProtocolHeader), type tags kept. */
  async readStart(): Promise<ConnectionStart> {
    const decoder = new Decoder((await this.expectMethodFrame(0, 10, 10)).args);
    return {
      versionMajor: decoder.u8(),
      versionMinor: decoder.u8(),
      serverProperties: decoder.table(),
      mechanisms: decoder.longstr(),
      locales: decoder.longstr(),
    };
  }

  /** Sends connection.start-ok with PLAIN (default) or AMQPLAIN credentials. */
  sendStartOk(options: HandshakeOptions = {}): void {
    const user = options.user ?? 'guest';
    const password = options.password ?? 'guest';
    const capabilities =
      options.capabilities === undefined ? DEFAULT_CAPABILITIES : options.capabilities;
    const mechanism = options.mechanism ?? 'PLAIN';
    this.sendMethod(0, {
      method: 'connection.start-ok',
      clientProperties: {
        product: 'warren raw test client',
        ...(capabilities === null ? {} : { capabilities }),
      },
      mechanism,
      response:
        mechanism === 'PLAIN'
          ? Buffer.from(`\u0000${user}\u0000${password}`, 'utf8')
          : // AMQPLAIN: a field table without its 4-byte length prefix.
            new FieldTableBuilder().longstr('LOGIN', user).longstr('PASSWORD', password).toBuffer(),
      locale: 'en_US',
    });
  }

  /** Answers connection.tune with tune-ok; returns the values sent. */
  sendTuneOk(tune: TuneValues, options: HandshakeOptions = {}): TuneValues {
    const values: TuneValues = {
      channelMax: options.channelMax ?? tune.channelMax,
      frameMax: options.frameMax ?? tune.frameMax,
      heartbeat: options.heartbeat ?? 0,
    };
    this.sendMethod(0, { method: 'connection.tune-ok', ...values });
    this.tuned = values;
    return values;
  }

  /**
   * The whole handshake: header, start-ok, tune-ok, open; resolves on connection.open-ok with the
   * server's connection.tune values and the values sent back in tune-ok.
   */
  async handshake(
    options: HandshakeOptions = {},
  ): Promise<{ tune: TuneValues; tuned: TuneValues }> {
    await this.start();
    this.sendStartOk(options);
    const tune = await this.readTune();
    const tuned = this.sendTuneOk(tune, options);
    this.sendOpen(options.vhost ?? '/');
    await this.expectMethod('connection.open-ok');
    return { tune, tuned };
  }

  /** Reads connection.tune: the server's proposal. */
  async readTune(): Promise<TuneValues> {
    const { channelMax, frameMax, heartbeat } = (await this.expectMethod('connection.tune')).method;
    return { channelMax, frameMax, heartbeat };
  }

  sendOpen(vhost: string): void {
    this.sendMethod(0, { method: 'connection.open', virtualHost: vhost });
  }

  async openChannel(channel: number): Promise<void> {
    this.sendMethod(channel, { method: 'channel.open' });
    const reply = await this.expectMethod('channel.open-ok');
    if (reply.channel !== channel) {
      throw new Error(`channel.open-ok came on channel ${reply.channel}, not ${channel}`);
    }
  }

  /** queue.declare; returns the queue name from declare-ok. */
  async declareQueue(
    channel: number,
    name: string,
    flags: { exclusive?: boolean; autoDelete?: boolean } = {},
  ): Promise<string> {
    this.sendMethod(channel, {
      method: 'queue.declare',
      queue: name,
      passive: false,
      durable: false,
      exclusive: flags.exclusive ?? false,
      autoDelete: flags.autoDelete ?? false,
      noWait: false,
      arguments: {},
    });
    return (await this.expectMethod('queue.declare-ok')).method.queue;
  }

  /** connection.close, then waits for close-ok and drops the socket. */
  async close(): Promise<void> {
    this.sendMethod(0, {
      method: 'connection.close',
      replyCode: 200,
      replyText: 'bye',
      classId: 0,
      methodId: 0,
    });
    await this.expectMethod('connection.close-ok');
    this.destroy();
  }

  /** Drops the socket at once. */
  destroy(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------- frame builders

/** One frame: type, channel, size, payload and the frame-end octet. */
export function buildFrame(
  type: number,
  channel: number,
  payload: Buffer,
  frameEnd = FRAME_END,
): Buffer {
  const frame = Buffer.allocUnsafe(payload.length + 8);
  frame[0] = type;
  frame.writeUInt16BE(channel, 1);
  frame.writeUInt32BE(payload.length, 3);
  payload.copy(frame, 7);
  frame[payload.length + 7] = frameEnd;
  return frame;
}

export function methodFrame(channel: number, method: AmqpMethod): Buffer {
  const writer = new ByteWriter(256);
  encodeMethodFrame(writer, channel, method);
  return Buffer.from(writer.take());
}

/** A method payload: class id, method id and the arguments. */
export function methodPayload(method: AmqpMethod): Buffer {
  const writer = new ByteWriter(256);
  encodeMethodPayload(writer, method);
  return Buffer.from(writer.take());
}

/** A method payload for any class and method id with raw argument bytes. */
export function rawMethodPayload(
  classId: number,
  methodId: number,
  args: Buffer = Buffer.alloc(0),
): Buffer {
  const payload = Buffer.allocUnsafe(4 + args.length);
  payload.writeUInt16BE(classId, 0);
  payload.writeUInt16BE(methodId, 2);
  args.copy(payload, 4);
  return payload;
}
