// A minimal hand-rolled AMQP 0-9-1 client for end-to-end tests that need to see or send exact
// bytes: the handshake fields, AMQPLAIN, close frames, heartbeats, content headers. It shares no
// code with the broker, so it checks the broker against the spec rather than against itself.
// Runs on the test's thread; every wait has a timeout and fails with what arrived instead.

import { connect, type Socket } from 'node:net';

export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
const FRAME_END = 0xce;

export const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

export interface Frame {
  type: number;
  channel: number;
  payload: Buffer;
}

export interface MethodFrame extends Frame {
  classId: number;
  methodId: number;
  /** The method's arguments: the payload after class and method ids. */
  args: Buffer;
}

/** A decoded field value with its wire type tag, so tests can check types as well as values. */
export interface TypedValue {
  type: string;
  value: unknown;
}

// ------------------------------------------------------------------ encoding

/** Appends AMQP wire values to a growing buffer. */
export class Encoder {
  private chunks: Buffer[] = [];

  u8(value: number): this {
    const b = Buffer.alloc(1);
    b.writeUInt8(value);
    return this.raw(b);
  }
  i8(value: number): this {
    const b = Buffer.alloc(1);
    b.writeInt8(value);
    return this.raw(b);
  }
  u16(value: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(value);
    return this.raw(b);
  }
  i16(value: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(value);
    return this.raw(b);
  }
  u32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value);
    return this.raw(b);
  }
  i32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value);
    return this.raw(b);
  }
  u64(value: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(value));
    return this.raw(b);
  }
  i64(value: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(value);
    return this.raw(b);
  }
  f32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeFloatBE(value);
    return this.raw(b);
  }
  f64(value: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(value);
    return this.raw(b);
  }
  shortstr(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > 255) throw new RangeError('shortstr longer than 255 bytes');
    return this.u8(bytes.length).raw(bytes);
  }
  longstr(value: string | Buffer): this {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    return this.u32(bytes.length).raw(bytes);
  }
  /** A field table from already-encoded entries (see `FieldTableBuilder`). */
  table(entries: Buffer): this {
    return this.u32(entries.length).raw(entries);
  }
  raw(bytes: Buffer): this {
    this.chunks.push(bytes);
    return this;
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Builds field-table (or field-array) contents entry by entry, with explicit type tags. */
export class FieldTableBuilder {
  private readonly out = new Encoder();
  constructor(private readonly isArray = false) {}

  private key(name: string): Encoder {
    if (!this.isArray) this.out.shortstr(name);
    return this.out;
  }
  bool(name: string, value: boolean): this {
    this.key(name)
      .raw(Buffer.from('t'))
      .u8(value ? 1 : 0);
    return this;
  }
  int8(name: string, value: number): this {
    this.key(name).raw(Buffer.from('b')).i8(value);
    return this;
  }
  uint8(name: string, value: number): this {
    this.key(name).raw(Buffer.from('B')).u8(value);
    return this;
  }
  int16(name: string, value: number): this {
    this.key(name).raw(Buffer.from('s')).i16(value);
    return this;
  }
  uint16(name: string, value: number): this {
    this.key(name).raw(Buffer.from('u')).u16(value);
    return this;
  }
  int32(name: string, value: number): this {
    this.key(name).raw(Buffer.from('I')).i32(value);
    return this;
  }
  uint32(name: string, value: number): this {
    this.key(name).raw(Buffer.from('i')).u32(value);
    return this;
  }
  int64(name: string, value: bigint): this {
    this.key(name).raw(Buffer.from('l')).i64(value);
    return this;
  }
  float(name: string, value: number): this {
    this.key(name).raw(Buffer.from('f')).f32(value);
    return this;
  }
  double(name: string, value: number): this {
    this.key(name).raw(Buffer.from('d')).f64(value);
    return this;
  }
  decimal(name: string, scale: number, digits: number): this {
    this.key(name).raw(Buffer.from('D')).u8(scale).u32(digits);
    return this;
  }
  longstr(name: string, value: string): this {
    this.key(name).raw(Buffer.from('S')).longstr(value);
    return this;
  }
  timestamp(name: string, seconds: number): this {
    this.key(name).raw(Buffer.from('T')).u64(seconds);
    return this;
  }
  table(name: string, inner: FieldTableBuilder): this {
    this.key(name).raw(Buffer.from('F')).table(inner.toBuffer());
    return this;
  }
  array(name: string, inner: FieldTableBuilder): this {
    this.key(name).raw(Buffer.from('A')).table(inner.toBuffer());
    return this;
  }
  void(name: string): this {
    this.key(name).raw(Buffer.from('V'));
    return this;
  }
  bytes(name: string, value: Buffer): this {
    this.key(name).raw(Buffer.from('x')).longstr(value);
    return this;
  }
  toBuffer(): Buffer {
    return this.out.toBuffer();
  }
}

// ------------------------------------------------------------------ decoding

/** Reads AMQP wire values from a buffer, front to back. */
export class Decoder {
  offset = 0;
  constructor(readonly bytes: Buffer) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }
  u8(): number {
    return this.bytes.readUInt8(this.offset++);
  }
  u16(): number {
    const v = this.bytes.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  u32(): number {
    const v = this.bytes.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  u64(): bigint {
    const v = this.bytes.readBigUInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
  shortstr(): string {
    const length = this.u8();
    const v = this.bytes.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return v;
  }
  longstrBytes(): Buffer {
    const length = this.u32();
    const v = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return v;
  }
  longstr(): string {
    return this.longstrBytes().toString('utf8');
  }
  table(): Record<string, TypedValue> {
    const end = this.u32() + this.offset;
    const result: Record<string, TypedValue> = {};
    while (this.offset < end) {
      const key = this.shortstr();
      result[key] = this.fieldValue();
    }
    return result;
  }
  fieldValue(): TypedValue {
    const type = String.fromCharCode(this.u8());
    const b = this.bytes;
    const at = this.offset;
    switch (type) {
      case 't':
        this.offset += 1;
        return { type, value: b[at] !== 0 };
      case 'b':
        this.offset += 1;
        return { type, value: b.readInt8(at) };
      case 'B':
        this.offset += 1;
        return { type, value: b.readUInt8(at) };
      case 's':
        this.offset += 2;
        return { type, value: b.readInt16BE(at) };
      case 'u':
        this.offset += 2;
        return { type, value: b.readUInt16BE(at) };
      case 'I':
        this.offset += 4;
        return { type, value: b.readInt32BE(at) };
      case 'i':
        this.offset += 4;
        return { type, value: b.readUInt32BE(at) };
      case 'l':
        this.offset += 8;
        return { type, value: b.readBigInt64BE(at) };
      case 'f':
        this.offset += 4;
        return { type, value: b.readFloatBE(at) };
      case 'd':
        this.offset += 8;
        return { type, value: b.readDoubleBE(at) };
      case 'D': {
        this.offset += 5;
        return { type, value: { scale: b[at], digits: b.readUInt32BE(at + 1) } };
      }
      case 'S':
        return { type, value: this.longstr() };
      case 'x':
        return { type, value: Buffer.from(this.longstrBytes()) };
      case 'T':
        return { type, value: this.u64() };
      case 'F':
        return { type, value: this.table() };
      case 'A': {
        const end = this.u32() + this.offset;
        const items: TypedValue[] = [];
        while (this.offset < end) items.push(this.fieldValue());
        return { type, value: items };
      }
      case 'V':
        return { type, value: null };
      default:
        throw new Error(`unknown field type '${type}' at offset ${at - 1}`);
    }
  }
}

// ------------------------------------------------------------------ the connection

export interface HandshakeOptions {
  mechanism?: 'PLAIN' | 'AMQPLAIN';
  user?: string;
  password?: string;
  /** Client capabilities to advertise; null sends no capabilities table at all. */
  capabilities?: Record<string, boolean> | null;
  vhost?: string;
  channelMax?: number;
  frameMax?: number;
  heartbeat?: number;
}

export interface ConnectionStart {
  versionMajor: number;
  versionMinor: number;
  serverProperties: Record<string, TypedValue>;
  mechanisms: string;
  locales: string;
}

export interface ConnectionTune {
  channelMax: number;
  frameMax: number;
  heartbeat: number;
}

export interface CloseFrame {
  replyCode: number;
  replyText: string;
  classId: number;
  methodId: number;
}

export function decodeClose(frame: MethodFrame): CloseFrame {
  const d = new Decoder(frame.args);
  return { replyCode: d.u16(), replyText: d.shortstr(), classId: d.u16(), methodId: d.u16() };
}

/** One TCP connection speaking raw frames. */
export class RawConnection {
  readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly frames: Frame[] = [];
  private waiter: (() => void) | null = null;
  private isClosedFlag = false;
  private readonly closedPromise: Promise<void>;
  /** Bytes received before the protocol header exchange completed (e.g. a header reply). */
  private isAwaitingFrames = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        this.isClosedFlag = true;
        this.wake();
        resolve();
      });
    });
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      if (this.isAwaitingFrames) this.parseFrames();
      this.wake();
    });
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.isClosedFlag;
  }

  /** Raw bytes received and not yet parsed as frames (only before `startFrames`). */
  get pendingBytes(): Buffer {
    return this.buffer;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  private parseFrames(): void {
    for (;;) {
      if (this.buffer.length < 7) return;
      const size = this.buffer.readUInt32BE(3);
      if (this.buffer.length < 8 + size) return;
      const type = this.buffer[0]!;
      const channel = this.buffer.readUInt16BE(1);
      const payload = Buffer.from(this.buffer.subarray(7, 7 + size));
      if (this.buffer[7 + size] !== FRAME_END) throw new Error('bad frame end from server');
      this.buffer = this.buffer.subarray(8 + size);
      this.frames.push({ type, channel, payload });
    }
  }

  /** Sends the 8-byte protocol header (or any other bytes) and starts parsing frames. */
  sendProtocolHeader(header: Buffer = PROTOCOL_HEADER): void {
    this.isAwaitingFrames = true;
    this.socket.write(header);
  }

  sendFrame(type: number, channel: number, payload: Buffer): void {
    const head = Buffer.alloc(7);
    head[0] = type;
    head.writeUInt16BE(channel, 1);
    head.writeUInt32BE(payload.length, 3);
    this.socket.write(Buffer.concat([head, payload, Buffer.from([FRAME_END])]));
  }

  sendMethod(
    channel: number,
    classId: number,
    methodId: number,
    args: Buffer = Buffer.alloc(0),
  ): void {
    this.sendFrame(
      FRAME_METHOD,
      channel,
      new Encoder().u16(classId).u16(methodId).raw(args).toBuffer(),
    );
  }

  sendHeartbeat(): void {
    this.sendFrame(FRAME_HEARTBEAT, 0, Buffer.alloc(0));
  }

  /** The next frame of any type; rejects on timeout or when the socket closes first. */
  async nextFrame(timeoutMs = 3000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.frames.shift();
      if (frame !== undefined) return frame;
      if (this.isClosedFlag) throw new Error('socket closed while waiting for a frame');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The next method frame, skipping heartbeats. */
  async nextMethod(timeoutMs = 3000): Promise<MethodFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = await this.nextFrame(Math.max(1, deadline - Date.now()));
      if (frame.type === FRAME_HEARTBEAT) continue;
      if (frame.type !== FRAME_METHOD) {
        throw new Error(
          `expected a method frame, got type ${frame.type} on channel ${frame.channel}`,
        );
      }
      return asMethod(frame);
    }
  }

  /** The next method frame, which must be class/method on `channel`. */
  async expectMethod(
    channel: number,
    classId: number,
    methodId: number,
    timeoutMs = 3000,
  ): Promise<MethodFrame> {
    const frame = await this.nextMethod(timeoutMs);
    if (frame.channel !== channel || frame.classId !== classId || frame.methodId !== methodId) {
      const detail =
        (frame.classId === 10 && frame.methodId === 50) ||
        (frame.classId === 20 && frame.methodId === 40)
          ? ` ${JSON.stringify(decodeClose(frame))}`
          : '';
      throw new Error(
        `expected ${classId}/${methodId} on channel ${channel}, got ${frame.classId}/${frame.methodId} on channel ${frame.channel}${detail}`,
      );
    }
    return frame;
  }

  /** Resolves true once the server has closed the socket, false on timeout. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.closedPromise.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Every frame received so far that was not consumed, in order. */
  drainFrames(): Frame[] {
    return this.frames.splice(0);
  }

  destroy(): void {
    this.socket.destroy();
  }

  // -------------------------------------------------------------- handshake

  /** Reads connection.start (after sending the protocol header). */
  async readStart(): Promise<ConnectionStart> {
    const frame = await this.expectMethod(0, 10, 10);
    const d = new Decoder(frame.args);
    return {
      versionMajor: d.u8(),
      versionMinor: d.u8(),
      serverProperties: d.table(),
      mechanisms: d.longstr(),
      locales: d.longstr(),
    };
  }

  sendStartOk(options: HandshakeOptions): void {
    const mechanism = options.mechanism ?? 'PLAIN';
    const user = options.user ?? 'guest';
    const password = options.password ?? 'guest';
    const properties = new FieldTableBuilder().longstr('product', 'warren-raw-test');
    const capabilities =
      options.capabilities === undefined
        ? { authentication_failure_close: true }
        : options.capabilities;
    if (capabilities !== null) {
      const table = new FieldTableBuilder();
      for (const [key, value] of Object.entries(capabilities)) table.bool(key, value);
      properties.table('capabilities', table);
    }
    let response: Buffer;
    if (mechanism === 'PLAIN') {
      response = Buffer.from(`\u0000${user}\u0000${password}`, 'utf8');
    } else {
      // AMQPLAIN: a field table without its 4-byte length prefix.
      response = new FieldTableBuilder()
        .longstr('LOGIN', user)
        .longstr('PASSWORD', password)
        .toBuffer();
    }
    const args = new Encoder()
      .table(properties.toBuffer())
      .shortstr(mechanism)
      .longstr(response)
      .shortstr('en_US')
      .toBuffer();
    this.sendMethod(0, 10, 11, args);
  }

  async readTune(): Promise<ConnectionTune> {
    const frame = await this.expectMethod(0, 10, 30);
    const d = new Decoder(frame.args);
    return { channelMax: d.u16(), frameMax: d.u32(), heartbeat: d.u16() };
  }

  sendTuneOk(tune: ConnectionTune): void {
    this.sendMethod(
      0,
      10,
      31,
      new Encoder().u16(tune.channelMax).u32(tune.frameMax).u16(tune.heartbeat).toBuffer(),
    );
  }

  sendOpen(vhost: string): void {
    this.sendMethod(0, 10, 40, new Encoder().shortstr(vhost).shortstr('').u8(0).toBuffer());
  }

  /** The whole handshake up to connection.open-ok. */
  async handshake(
    options: HandshakeOptions = {},
  ): Promise<{ start: ConnectionStart; tune: ConnectionTune }> {
    this.sendProtocolHeader();
    const start = await this.readStart();
    this.sendStartOk(options);
    const tune = await this.readTune();
    this.sendTuneOk({
      channelMax: options.channelMax ?? tune.channelMax,
      frameMax: options.frameMax ?? tune.frameMax,
      heartbeat: options.heartbeat ?? 0,
    });
    this.sendOpen(options.vhost ?? '/');
    await this.expectMethod(0, 10, 41);
    return { start, tune };
  }

  async openChannel(channel: number): Promise<void> {
    this.sendMethod(channel, 20, 10, new Encoder().shortstr('').toBuffer());
    await this.expectMethod(channel, 20, 11);
  }

  /** connection.close, then waits for close-ok. */
  async close(): Promise<void> {
    this.sendMethod(0, 10, 50, new Encoder().u16(200).shortstr('bye').u16(0).u16(0).toBuffer());
    await this.expectMethod(0, 10, 51);
    this.destroy();
  }

  // -------------------------------------------------------------- a few basic-class helpers

  /** queue.declare; returns the queue name from declare-ok. */
  async declareQueue(
    channel: number,
    name: string,
    flags: { exclusive?: boolean; autoDelete?: boolean } = {},
  ): Promise<string> {
    const bits = (flags.exclusive ? 4 : 0) | (flags.autoDelete ? 8 : 0);
    this.sendMethod(
      channel,
      50,
      10,
      new Encoder().u16(0).shortstr(name).u8(bits).table(Buffer.alloc(0)).toBuffer(),
    );
    const ok = await this.expectMethod(channel, 50, 11);
    return new Decoder(ok.args).shortstr();
  }

  /** basic.publish with a content header carrying `properties` (flags word included). */
  publish(
    channel: number,
    exchange: string,
    routingKey: string,
    properties: Buffer,
    body: Buffer,
    options: { mandatory?: boolean; immediate?: boolean; frameMax?: number } = {},
  ): void {
    this.sendMethod(
      channel,
      60,
      40,
      new Encoder()
        .u16(0)
        .shortstr(exchange)
        .shortstr(routingKey)
        .u8((options.mandatory ? 1 : 0) | (options.immediate ? 2 : 0))
        .toBuffer(),
    );
    this.sendFrame(
      FRAME_HEADER,
      channel,
      new Encoder().u16(60).u16(0).u64(body.length).raw(properties).toBuffer(),
    );
    const chunk = (options.frameMax ?? 131072) - 8;
    for (let at = 0; at < body.length; at += chunk) {
      this.sendFrame(FRAME_BODY, channel, body.subarray(at, Math.min(body.length, at + chunk)));
    }
  }

  /** Reads a content header and its body frames; returns the raw properties and the body. */
  async readContent(
    channel: number,
  ): Promise<{ properties: Buffer; body: Buffer; frames: Frame[] }> {
    const header = await this.nextFrame();
    if (header.type !== FRAME_HEADER || header.channel !== channel) {
      throw new Error(`expected a content header on channel ${channel}, got type ${header.type}`);
    }
    const d = new Decoder(header.payload);
    d.u16();
    d.u16();
    const size = Number(d.u64());
    const frames: Frame[] = [header];
    const parts: Buffer[] = [];
    let received = 0;
    while (received < size) {
      const body = await this.nextFrame();
      if (body.type !== FRAME_BODY || body.channel !== channel) {
        throw new Error(`expected a body frame on channel ${channel}, got type ${body.type}`);
      }
      frames.push(body);
      parts.push(body.payload);
      received += body.payload.length;
    }
    return { properties: header.payload.subarray(12), body: Buffer.concat(parts), frames };
  }
}

export function asMethod(frame: Frame): MethodFrame {
  return {
    ...frame,
    classId: frame.payload.readUInt16BE(0),
    methodId: frame.payload.readUInt16BE(2),
    args: frame.payload.subarray(4),
  };
}
