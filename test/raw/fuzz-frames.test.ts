// Frame fuzzer (issue 7, "Proof"): each fast-check run opens 20 to 40 raw connections to an
// in-process broker at once. Most complete the handshake, some fuzz the handshake itself; all then
// send valid frames (channel.open, queue.declare, basic.publish with its content, basic.ack,
// heartbeats...) with mutations (flipped bytes, truncations, wrong sizes, wrong frame-end octets,
// unknown class and method ids, sizes over frame_max, bad channel numbers, content out of order)
// and random bytes, split at random points into several socket writes. Throughout, an amqplib
// client publishes with confirms and consumes on its own connection and must see every message.
// Random inputs have no single right answer, so the test asserts invariants rather than exact
// codes (docs/rabbitmq-behaviour.md 1.1, 1.5, 2.1, 2.6): every server frame is well-formed; a
// connection.close carries a hard code RabbitMQ uses and "NAME - " text, and nothing follows it
// but close-ok; a channel.close carries a soft code; the socket is dropped without a close only
// where RabbitMQ drops it too (a bad protocol header, which gets our header back first; before
// connection.open-ok; a client's own connection.close; missed heartbeats). WARREN_FUZZ_RUNS and
// WARREN_FUZZ_SEED set the runs and the seed; WARREN_FUZZ_SUMMARY names a file for a JSON summary
// (scripts/fuzz.mjs); WARREN_FUZZ_SHRINK=1 shrinks a failure. fast-check prints the seed and path
// of a failing run for replay.

import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import amqp from 'amqplib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AmqpMethod,
  ByteWriter,
  decodeMethod,
  encodeContentHeaderFrameWithProperties,
  FRAME_BODY,
  FRAME_END,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  PROTOCOL_HEADER,
  replyCodeName,
} from '../../src/codec/index.js';
import { startTestBroker, useCheapPasswordHash, type TestBroker } from '../helpers/broker.js';
import { pollUntil } from '../helpers/poll.js';
import { buildFrame, methodFrame } from '../helpers/raw-client.js';

const RUNS = Number(process.env['WARREN_FUZZ_RUNS'] ?? 10);
/** A fixed seed in `npm test`, so a failure there is the same failure on every machine. */
const SEED = Number(process.env['WARREN_FUZZ_SEED'] ?? 20_261_125);
const IS_SHRINKING = process.env['WARREN_FUZZ_SHRINK'] === '1';
const SUMMARY_FILE = process.env['WARREN_FUZZ_SUMMARY'];
const CONNECTIONS_MIN = 20;
const CONNECTIONS_MAX = 40;
/** A fuzzed connection the server has not answered for this long is taken as still open. */
const QUIET_MS = 300;
const HANDSHAKE_TIMEOUT_MS = 3000;
/** The most bytes a server frame may announce before the test calls it malformed. */
const SERVER_FRAME_BYTES_MAX = 1 << 20;
const SERVER_FRAME_TYPES: readonly number[] = [
  FRAME_METHOD,
  FRAME_HEADER,
  FRAME_BODY,
  FRAME_HEARTBEAT,
];
const PROTOCOL_HEADER_0_9 = Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9]);
/** Hard codes RabbitMQ closes connections with (1.1); 403 only for a refused login. */
const CONNECTION_CLOSE_CODES = new Set([501, 502, 503, 504, 505, 506, 530, 540]);
/** Soft codes RabbitMQ closes channels with (1.1). */
const CHANNEL_CLOSE_CODES = new Set([403, 404, 405, 406]);

// ---------------------------------------------------------------- what a connection sends

const TEMPLATES = [
  'channel.open',
  'queue.declare',
  'basic.publish',
  'basic.ack',
  'heartbeat',
  'confirm.select',
  'basic.qos',
  'basic.consume',
  'channel.close',
  'channel.close-ok',
  'random',
] as const;
type TemplateName = (typeof TEMPLATES)[number];

type Mutation =
  | { kind: 'none' }
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'size'; delta: number }
  | { kind: 'size-random'; size: number }
  | { kind: 'frame-end'; octet: number }
  | { kind: 'ids'; classId: number; methodId: number }
  | { kind: 'over-frame-max'; excess: number }
  | { kind: 'channel'; channel: number }
  | { kind: 'type'; type: number }
  | { kind: 'drop' };

interface FrameGroup {
  template: TemplateName;
  channel: number;
  /** Varies names, sizes and tags within a template. */
  variant: number;
  randomBytes: Uint8Array;
  /** Which frame of the group the mutation hits (modulo its length). */
  target: number;
  mutation: Mutation;
}

interface Scenario {
  /** The handshake piece to mutate (0 header, 1 start-ok, 2 tune-ok, 3 open), or null. */
  handshakeTarget: number | null;
  handshakeMutation: Mutation;
  frameMaxBytes: number;
  isChannelOpenedFirst: boolean;
  groups: FrameGroup[];
  /** Pairs of frame positions to swap: content frames out of order. */
  swaps: [number, number][];
  /** Cut points (modulo the byte count) between socket writes. */
  cuts: number[];
  pauseMs: number;
}

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('flip' as const),
      at: fc.nat(400),
      xor: fc.integer({ min: 1, max: 255 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat(400) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('size' as const),
      delta: fc.integer({ min: -16, max: 16 }).filter((delta) => delta !== 0),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('size-random' as const),
      size: fc.nat({ max: 0xffff_ffff }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('frame-end' as const),
      octet: fc.nat(255).filter((octet) => octet !== FRAME_END),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('ids' as const),
      classId: fc.oneof(fc.constantFrom(0, 10, 20, 40, 50, 60, 85, 90), fc.nat(0xffff)),
      methodId: fc.oneof(fc.nat(130), fc.nat(0xffff)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('over-frame-max' as const),
      excess: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.nat({ max: 0xffff_0000 })),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('channel' as const),
      channel: fc.oneof(fc.nat(5), fc.nat(0xffff)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('type' as const), type: fc.nat(255) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'drop' as const }) },
);

const groupArb: fc.Arbitrary<FrameGroup> = fc.record({
  template: fc.constantFrom(...TEMPLATES),
  channel: fc.oneof(
    { weight: 6, arbitrary: fc.constant(1) },
    { weight: 3, arbitrary: fc.integer({ min: 2, max: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom(0, 4, 2047, 2048, 65535) },
  ),
  variant: fc.nat(10_000),
  randomBytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  target: fc.nat(2),
  mutation: mutationArb,
});

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  handshakeTarget: fc.oneof(
    { weight: 6, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.nat(3) },
  ),
  handshakeMutation: mutationArb,
  frameMaxBytes: fc.constantFrom(0, 4096, 131072),
  isChannelOpenedFirst: fc.oneof(
    { weight: 4, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
  groups: fc.array(groupArb, { maxLength: 12 }),
  swaps: fc.array(fc.tuple(fc.nat(40), fc.nat(40)), { maxLength: 2 }),
  cuts: fc.array(fc.nat(4000), { maxLength: 8 }),
  pauseMs: fc.constantFrom(0, 0, 1, 5),
});

function method(channel: number, value: AmqpMethod): Buffer {
  return methodFrame(channel, value);
}

function contentHeader(channel: number, bodySize: number): Buffer {
  const writer = new ByteWriter(64);
  encodeContentHeaderFrameWithProperties(writer, channel, 60, bodySize, { deliveryMode: 1 });
  return Buffer.from(writer.take());
}

/** The frames of one template, before any mutation. */
function templateFrames(group: FrameGroup): Buffer[] {
  const { channel, variant } = group;
  const queue = `fuzz.${variant % 8}`;
  switch (group.template) {
    case 'channel.open':
      return [method(channel, { method: 'channel.open' } as AmqpMethod)];
    case 'queue.declare':
      return [
        method(channel, {
          method: 'queue.declare',
          queue,
          passive: variant % 11 === 0,
          durable: false,
          exclusive: variant % 2 === 0,
          autoDelete: true,
          noWait: variant % 3 === 0,
          arguments: variant % 5 === 0 ? { 'x-max-length': variant % 7 } : {},
        }),
      ];
    case 'basic.publish': {
      const body = Buffer.alloc(variant % 300, 0x66);
      const frames = [
        method(channel, {
          method: 'basic.publish',
          exchange: ['', 'amq.direct', 'amq.fanout', 'fuzz.none'][variant % 4]!,
          routingKey: queue,
          mandatory: variant % 2 === 1,
          immediate: false,
        }),
        contentHeader(channel, body.length),
      ];
      if (body.length > 0) frames.push(buildFrame(FRAME_BODY, channel, body));
      return frames;
    }
    case 'basic.ack':
      return [
        method(channel, {
          method: 'basic.ack',
          deliveryTag: variant % 5,
          multiple: variant > 5000,
        }),
      ];
    case 'heartbeat':
      return [buildFrame(FRAME_HEARTBEAT, 0, Buffer.alloc(0))];
    case 'confirm.select':
      return [method(channel, { method: 'confirm.select', nowait: false })];
    case 'basic.qos':
      return [
        method(channel, {
          method: 'basic.qos',
          prefetchSize: 0,
          prefetchCount: variant % 10,
          global: false,
        }),
      ];
    case 'basic.consume':
      return [
        method(channel, {
          method: 'basic.consume',
          queue,
          consumerTag: '',
          noLocal: false,
          noAck: variant % 2 === 0,
          exclusive: false,
          noWait: false,
          arguments: {},
        }),
      ];
    case 'channel.close':
      return [
        method(channel, {
          method: 'channel.close',
          replyCode: 200,
          replyText: 'bye',
          classId: 0,
          methodId: 0,
        }),
      ];
    case 'channel.close-ok':
      return [method(channel, { method: 'channel.close-ok' } as AmqpMethod)];
    case 'random':
      return [Buffer.from(group.randomBytes)];
  }
}

/** Applies one mutation to one frame; null drops the frame. */
function mutate(frame: Buffer, mutation: Mutation, frameMaxBytes: number): Buffer | null {
  const bytes = Buffer.from(frame);
  switch (mutation.kind) {
    case 'none':
      return bytes;
    case 'flip': {
      const at = mutation.at % bytes.length;
      bytes[at] = bytes[at]! ^ mutation.xor;
      return bytes;
    }
    case 'truncate':
      return bytes.subarray(0, mutation.keep % bytes.length);
    case 'drop':
      return null;
    default:
      break;
  }
  if (bytes.length < 8) return bytes;
  const size = bytes.readUInt32BE(3);
  switch (mutation.kind) {
    case 'size':
      bytes.writeUInt32BE(Math.max(0, size + mutation.delta), 3);
      return bytes;
    case 'size-random':
      bytes.writeUInt32BE(mutation.size, 3);
      return bytes;
    case 'frame-end':
      bytes[bytes.length - 1] = mutation.octet;
      return bytes;
    case 'ids':
      if (size >= 4 && bytes.length >= 12) {
        bytes.writeUInt16BE(mutation.classId, 7);
        bytes.writeUInt16BE(mutation.methodId, 9);
      }
      return bytes;
    case 'over-frame-max': {
      // Only the frame header: the server must object before waiting for the payload.
      const limit = frameMaxBytes === 0 ? 131072 : frameMaxBytes;
      bytes.writeUInt32BE(Math.min(0xffff_ffff, limit + mutation.excess), 3);
      return bytes.subarray(0, 7);
    }
    case 'channel':
      bytes.writeUInt16BE(mutation.channel, 1);
      return bytes;
    case 'type':
      bytes[0] = mutation.type;
      return bytes;
  }
}

/** The frames a scenario sends after the handshake, mutated and reordered. */
function fuzzFrames(scenario: Scenario): Buffer[] {
  const frames: Buffer[] = [];
  if (scenario.isChannelOpenedFirst)
    frames.push(method(1, { method: 'channel.open' } as AmqpMethod));
  for (const group of scenario.groups) {
    const groupFrames = templateFrames(group);
    const target = group.target % groupFrames.length;
    groupFrames.forEach((frame, index) => {
      const mutated =
        index === target ? mutate(frame, group.mutation, scenario.frameMaxBytes) : frame;
      if (mutated !== null) frames.push(mutated);
    });
  }
  for (const [a, b] of scenario.swaps) {
    if (frames.length < 2) break;
    const i = a % frames.length;
    const j = b % frames.length;
    [frames[i], frames[j]] = [frames[j]!, frames[i]!];
  }
  return frames;
}

function handshakePieces(frameMaxBytes: number): Buffer[] {
  return [
    PROTOCOL_HEADER,
    startOkFrame(),
    method(0, {
      method: 'connection.tune-ok',
      channelMax: 0,
      frameMax: frameMaxBytes,
      heartbeat: 0,
    }),
    method(0, { method: 'connection.open', virtualHost: '/' } as AmqpMethod),
  ];
}

function startOkFrame(): Buffer {
  return method(0, {
    method: 'connection.start-ok',
    clientProperties: { product: 'warren frame fuzzer' },
    mechanism: 'PLAIN',
    response: Buffer.from('\u0000guest\u0000guest'),
    locale: 'en_US',
  });
}

/** Splits `bytes` at the scenario's cut points. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  if (bytes.length === 0) return [];
  const points = [...new Set(cuts.map((cut) => cut % bytes.length))]
    .filter((point) => point > 0)
    .sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    parts.push(bytes.subarray(from, point));
    from = point;
  }
  parts.push(bytes.subarray(from));
  return parts;
}

// ---------------------------------------------------------------- what the server answers

interface ServerFrame {
  type: number;
  channel: number;
  method: AmqpMethod | null;
}

/** One fuzzed connection's socket: splits the server's bytes into frames as they arrive. */
class FuzzPeer {
  readonly socket: Socket;
  readonly frames: ServerFrame[] = [];
  isClosed = false;
  isHeaderReturned = false;
  /** Why the server's output could not be parsed, if it could not. */
  malformed: string | null = null;
  private pending = Buffer.alloc(0);
  private wakeups: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      this.parse();
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.isClosed = true;
      this.wake();
    });
  }

  static connect(port: number): Promise<FuzzPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => resolve(new FuzzPeer(socket)));
      socket.once('error', reject);
    });
  }

  private parse(): void {
    while (this.malformed === null) {
      const pending = this.pending;
      if (this.frames.length === 0 && !this.isHeaderReturned && pending[0] === 0x41) {
        if (pending.length < 8) return;
        if (!pending.subarray(0, 8).equals(PROTOCOL_HEADER)) {
          this.malformed = `server sent ${pending.subarray(0, 8).toString('hex')}`;
          return;
        }
        this.isHeaderReturned = true;
        this.pending = pending.subarray(8);
        continue;
      }
      if (pending.length < 7) return;
      const size = pending.readUInt32BE(3);
      if (size > SERVER_FRAME_BYTES_MAX) {
        this.malformed = `server frame announces ${size} bytes`;
        return;
      }
      if (pending.length < size + 8) return;
      const type = pending[0]!;
      if (pending[size + 7] !== FRAME_END) {
        this.malformed = `server frame ends in ${pending[size + 7]}`;
        return;
      }
      if (!SERVER_FRAME_TYPES.includes(type)) {
        this.malformed = `server frame of type ${type}`;
        return;
      }
      let decoded: AmqpMethod | null = null;
      if (type === FRAME_METHOD) {
        try {
          decoded = decodeMethod(pending, 7, 7 + size);
        } catch (error) {
          this.malformed = `server method does not decode: ${String(error)}`;
          return;
        }
      }
      this.frames.push({ type, channel: pending.readUInt16BE(1), method: decoded });
      this.pending = pending.subarray(size + 8);
    }
  }

  private wake(): void {
    const wakeups = this.wakeups;
    this.wakeups = [];
    for (const wakeup of wakeups) wakeup();
  }

  /** Waits until `condition()` holds, the socket closes, or `timeoutMs` passes. */
  async waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (this.isClosed || this.malformed !== null || left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wakeups.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  hasMethod(name: string): boolean {
    return this.frames.some((frame) => frame.method?.method === name);
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(bytes);
  }
}

interface ConnectionReport {
  outcome: string;
  closeCodes: string[];
  violations: string[];
}

/** Runs one scenario on its own connection and judges the server's answers. */
async function runScenario(
  port: number,
  scenario: Scenario,
  counters: Counters,
): Promise<ConnectionReport> {
  const peer = await FuzzPeer.connect(port);
  const violations: string[] = [];
  let bytesSent: Buffer = Buffer.alloc(0);
  let mayDropAfterOpen = false;
  let isClosedByServer = false;
  try {
    const pieces = handshakePieces(scenario.frameMaxBytes);
    const frames = fuzzFrames(scenario);
    counters.framesSent += frames.length;
    let stream: Buffer;
    if (scenario.handshakeTarget === null) {
      peer.write(pieces[0]!);
      await peer.waitUntil(() => peer.hasMethod('connection.start'), HANDSHAKE_TIMEOUT_MS);
      peer.write(pieces[1]!);
      await peer.waitUntil(() => peer.hasMethod('connection.tune'), HANDSHAKE_TIMEOUT_MS);
      peer.write(Buffer.concat([pieces[2]!, pieces[3]!]));
      if (!(await peer.waitUntil(() => peer.hasMethod('connection.open-ok'), HANDSHAKE_TIMEOUT_MS)))
        violations.push('a clean handshake was not answered with connection.open-ok');
      bytesSent = Buffer.concat(pieces);
      stream = Buffer.concat(frames);
    } else {
      const target = scenario.handshakeTarget;
      counters.handshakesFuzzed++;
      const mutated = pieces.map((piece, index) =>
        index === target
          ? (mutate(piece, scenario.handshakeMutation, 131072) ?? Buffer.alloc(0))
          : piece,
      );
      // A mutated tune-ok may have negotiated a short heartbeat, after which RabbitMQ drops a
      // silent peer without a close.
      mayDropAfterOpen = target === 2 && scenario.handshakeMutation.kind !== 'none';
      stream = Buffer.concat([...mutated, ...frames]);
      bytesSent = stream;
    }
    for (const part of split(stream, scenario.cuts)) {
      peer.write(part);
      counters.socketWrites++;
      counters.bytesSent += part.length;
      if (scenario.pauseMs > 0)
        await new Promise((resolve) => setTimeout(resolve, scenario.pauseMs));
    }
    const header = bytesSent.subarray(0, 8);
    if (header.length === 8 && !isAcceptedHeader(header)) {
      // The server answers with its own header and closes (2.1); give it time to, under load.
      await peer.waitUntil(() => false, HANDSHAKE_TIMEOUT_MS);
    }
    // Read until the server closes, answers with connection.close, or falls quiet.
    for (;;) {
      const seen = peer.frames.length;
      const isNews = await peer.waitUntil(
        () => peer.frames.length > seen || peer.hasMethod('connection.close'),
        QUIET_MS,
      );
      if (!isNews || peer.hasMethod('connection.close')) break;
    }
    if (peer.hasMethod('connection.close') && !peer.isClosed) {
      peer.write(method(0, { method: 'connection.close-ok' } as AmqpMethod));
      // Anything the server still sends after its close is a violation; give it a moment.
      await peer.waitUntil(() => false, 50);
    }
  } finally {
    // Judged before our own destroy, which closes the socket too.
    isClosedByServer = peer.isClosed;
    peer.socket.destroy();
  }
  return judge(peer, bytesSent, isClosedByServer, mayDropAfterOpen, violations);
}

function isAcceptedHeader(header: Buffer): boolean {
  return header.equals(PROTOCOL_HEADER) || header.equals(PROTOCOL_HEADER_0_9);
}

function judge(
  peer: FuzzPeer,
  bytesSent: Buffer,
  isClosedByServer: boolean,
  mayDropAfterOpen: boolean,
  violations: string[],
): ConnectionReport {
  if (peer.malformed !== null) violations.push(peer.malformed);
  const header = bytesSent.subarray(0, 8);
  const isHeaderRejected = header.length === 8 && !isAcceptedHeader(header);
  if (isHeaderRejected !== peer.isHeaderReturned) {
    violations.push(
      `protocol header ${header.toString('hex')}: returned ${peer.isHeaderReturned}, expected ${isHeaderRejected}`,
    );
  }
  if (isHeaderRejected && !isClosedByServer)
    violations.push('the server returned its header but kept the socket open');
  const methods = peer.frames.flatMap((frame) =>
    frame.method === null ? [] : [{ channel: frame.channel, method: frame.method }],
  );
  const isOpened = methods.some((entry) => entry.method.method === 'connection.open-ok');
  const closeCodes: string[] = [];
  let outcome = 'still-open';
  const closeAt = methods.findIndex((entry) => entry.method.method === 'connection.close');
  for (const [index, { method: answer }] of methods.entries()) {
    if (answer.method === 'channel.close') {
      closeCodes.push(`channel.close ${answer.replyCode}`);
      if (!CHANNEL_CLOSE_CODES.has(answer.replyCode))
        violations.push(`channel.close with ${answer.replyCode} ${answer.replyText}`);
      checkReplyText(answer.replyCode, answer.replyText, violations);
      outcome = 'channel.close';
    } else if (answer.method === 'connection.close' && index === closeAt) {
      closeCodes.push(`connection.close ${answer.replyCode}`);
      const isRefusedLogin = answer.replyCode === 403 && !isOpened;
      if (!CONNECTION_CLOSE_CODES.has(answer.replyCode) && !isRefusedLogin)
        violations.push(`connection.close with ${answer.replyCode} ${answer.replyText}`);
      checkReplyText(answer.replyCode, answer.replyText, violations);
    }
  }
  // After its connection.close the server sends nothing but a close-ok to a crossing close (1.3).
  const closeFrameAt = peer.frames.findIndex(
    (frame) => frame.method?.method === 'connection.close',
  );
  const extra =
    closeFrameAt < 0
      ? []
      : peer.frames
          .slice(closeFrameAt + 1)
          .filter((frame) => frame.method?.method !== 'connection.close-ok');
  if (extra.length > 0) violations.push(`${extra.length} frames after connection.close`);
  const isCloseOk = methods.some((entry) => entry.method.method === 'connection.close-ok');
  if (peer.isHeaderReturned) outcome = 'header-returned';
  else if (closeAt >= 0) outcome = 'connection.close';
  else if (isCloseOk) outcome = 'close-ok';
  else if (isClosedByServer) {
    // RabbitMQ closes silently before the connection is open (1.5), and on missed heartbeats.
    if (!isOpened) outcome = 'dropped-before-open';
    else if (mayDropAfterOpen) outcome = 'dropped-after-fuzzed-tune';
    else {
      outcome = 'unexplained-drop';
      violations.push('the server dropped an open connection without connection.close');
    }
  }
  return { outcome, closeCodes, violations };
}

function checkReplyText(code: number, text: string, violations: string[]): void {
  const name = replyCodeName(code);
  if (name === undefined || !text.startsWith(`${name} - `))
    violations.push(`reply text '${text}' does not start with the name of ${code}`);
}

// ---------------------------------------------------------------- the well-behaved client

interface Counters {
  runs: number;
  connections: number;
  handshakesFuzzed: number;
  framesSent: number;
  socketWrites: number;
  bytesSent: number;
  outcomes: Record<string, number>;
  closes: Record<string, number>;
}

/** Publishes with confirms and consumes on its own connection until stopped. */
class GoodClient {
  confirmed = 0;
  nacked = 0;
  received: number[] = [];
  /** Why publishing stopped early, if it did. */
  failure: unknown = null;
  private sent = 0;
  private isStopped = false;
  private pump: Promise<void> = Promise.resolve();

  private constructor(
    private readonly connection: amqp.ChannelModel,
    private readonly channel: amqp.ConfirmChannel,
    private readonly queue: string,
  ) {}

  static async open(url: string): Promise<GoodClient> {
    const connection = await amqp.connect(url);
    const channel = await connection.createConfirmChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    const client = new GoodClient(connection, channel, queue);
    await channel.consume(queue, (message) => {
      if (message === null) return;
      client.received.push(Number(message.content.toString()));
      channel.ack(message);
    });
    client.pump = client.publishUntilStopped().catch((error: unknown) => {
      client.failure = error;
    });
    return client;
  }

  private async publishUntilStopped(): Promise<void> {
    while (!this.isStopped) {
      for (let i = 0; i < 20; i++) {
        this.channel.sendToQueue(this.queue, Buffer.from(String(this.sent++)), {}, (error) => {
          if (error === null || error === undefined) this.confirmed++;
          else this.nacked++;
        });
      }
      await this.channel.waitForConfirms();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Stops publishing and waits for every confirm. */
  async stop(): Promise<number> {
    this.isStopped = true;
    await this.pump;
    return this.sent;
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

describe('raw: frame fuzzer', () => {
  let broker: TestBroker;
  let good: GoodClient;
  const counters: Counters = {
    runs: 0,
    connections: 0,
    handshakesFuzzed: 0,
    framesSent: 0,
    socketWrites: 0,
    bytesSent: 0,
    outcomes: {},
    closes: {},
  };

  beforeAll(async () => {
    broker = await startTestBroker({ shardCount: 2 });
    // Hundreds of logins at once: scrypt's cost is not what this test is about.
    useCheapPasswordHash(broker);
    good = await GoodClient.open(broker.url);
  });
  afterAll(async () => {
    await good?.close();
    await broker?.close();
    if (SUMMARY_FILE !== undefined) {
      const summary = {
        seed: SEED,
        ...counters,
        goodClient: {
          confirmed: good?.confirmed ?? 0,
          nacked: good?.nacked ?? 0,
          received: good?.received.length ?? 0,
        },
      };
      writeFileSync(SUMMARY_FILE, JSON.stringify(summary, null, 2));
    }
  });

  it(
    `answers ${RUNS} runs of ${CONNECTIONS_MIN}-${CONNECTIONS_MAX} fuzzed connections by the rules, serving a good client throughout`,
    { timeout: 30_000 + RUNS * 5000 },
    async () => {
      expect.hasAssertions();
      const baselineConnections = broker.broker.connections.size;
      await fc.assert(
        fc.asyncProperty(
          fc.array(scenarioArb, { minLength: CONNECTIONS_MIN, maxLength: CONNECTIONS_MAX }),
          async (scenarios) => {
            counters.runs++;
            const confirmedBefore = good.confirmed;
            const reports = await Promise.all(
              scenarios.map((scenario) => runScenario(broker.port, scenario, counters)),
            );
            const violations: string[] = [];
            reports.forEach((report, index) => {
              counters.connections++;
              counters.outcomes[report.outcome] = (counters.outcomes[report.outcome] ?? 0) + 1;
              for (const code of report.closeCodes)
                counters.closes[code] = (counters.closes[code] ?? 0) + 1;
              for (const violation of report.violations)
                violations.push(`connection ${index}: ${violation}`);
            });
            // The broker forgets every fuzzed connection once its socket is gone.
            if (
              !(await pollUntil(
                () => broker.broker.connections.size === baselineConnections,
                Boolean,
                { timeoutMs: 5000 },
              ))
            )
              violations.push(
                `${broker.broker.connections.size - baselineConnections} connections left`,
              );
            // The good client kept being served during the run.
            if (
              !(await pollUntil(() => good.confirmed > confirmedBefore, Boolean, {
                timeoutMs: 5000,
              }))
            )
              violations.push('the good client had nothing confirmed during the run');
            if (violations.length > 0) throw new Error(violations.join('\n'));
          },
        ),
        // Shrinking replays whole runs of connections; on request only (the seed and path replay).
        { numRuns: RUNS, seed: SEED, endOnFailure: !IS_SHRINKING },
      );
      const sent = await good.stop();
      expect(good.failure).toBe(null);
      expect(good.nacked).toBe(0);
      expect(good.confirmed).toBe(sent);
      expect(
        await pollUntil(() => good.received.length === sent, Boolean, { timeoutMs: 10_000 }),
      ).toBe(true);
      expect(good.received).toEqual(Array.from({ length: sent }, (_, n) => n));
    },
  );
});
