// A test-side AMQP 0-9-1 wire codec that shares no code with the broker: values and field tables
// written with explicit type tags, read back with their tags, so tests can check the broker's
// bytes against the spec rather than against its own codec. Test process only.

export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;

/** A frame as it came off the wire. */
export interface RawFrame {
  type: number;
  channel: number;
  payload: Buffer;
}

/** A method frame split into its ids and the argument bytes after them. */
export interface MethodFrame extends RawFrame {
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

/** Splits a method frame payload into class id, method id and argument bytes. */
export function asMethod(frame: RawFrame): MethodFrame {
  return {
    ...frame,
    classId: frame.payload.readUInt16BE(0),
    methodId: frame.payload.readUInt16BE(2),
    args: frame.payload.subarray(4),
  };
}
