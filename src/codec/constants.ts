// generated, do not edit; run npm run gen:methods
// Source: src/codec/spec/amqp0-9-1.rabbit.xml,
// plus NO_ROUTE (312) from RabbitMQ's codegen JSON (see scripts/gen-methods.mjs).
// AMQP 0-9-1 protocol constants: frame types and sizes, class ids and reply codes. Pure data,
// safe on every thread. The channel and connection reply-code types follow the spec classes
// soft-error and hard-error; crossing that line needs a comment citing RabbitMQ.

export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
export const FRAME_MIN_SIZE = 4096;
export const FRAME_END = 0xce;

/** Bytes before a frame payload: type (1), channel (2) and payload size (4). */
export const FRAME_HEADER_BYTES = 7;
/** Bytes a frame adds around its payload: the header plus the frame-end octet. */
export const FRAME_OVERHEAD_BYTES = 8;

export const PROTOCOL_VERSION_MAJOR = 0;
export const PROTOCOL_VERSION_MINOR = 9;
export const PROTOCOL_VERSION_REVISION = 1;
export const AMQP_PORT = 5672;

/** The 8 octets a client sends first: 'AMQP', 0, then the version 0-9-1. */
export const PROTOCOL_HEADER: Buffer = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

export const CLASS_CONNECTION = 10;
export const CLASS_CHANNEL = 20;
export const CLASS_EXCHANGE = 40;
export const CLASS_QUEUE = 50;
export const CLASS_BASIC = 60;
export const CLASS_CONFIRM = 85;
export const CLASS_TX = 90;

export const REPLY_SUCCESS = 200;
export const CONTENT_TOO_LARGE = 311;
export const NO_ROUTE = 312;
export const NO_CONSUMERS = 313;
export const CONNECTION_FORCED = 320;
export const INVALID_PATH = 402;
export const ACCESS_REFUSED = 403;
export const NOT_FOUND = 404;
export const RESOURCE_LOCKED = 405;
export const PRECONDITION_FAILED = 406;
export const FRAME_ERROR = 501;
export const SYNTAX_ERROR = 502;
export const COMMAND_INVALID = 503;
export const CHANNEL_ERROR = 504;
export const UNEXPECTED_FRAME = 505;
export const RESOURCE_ERROR = 506;
export const NOT_ALLOWED = 530;
export const NOT_IMPLEMENTED = 540;
export const INTERNAL_ERROR = 541;

/** Soft errors: the spec closes only the channel with these (channel.close). */
export type ChannelReplyCode =
  | typeof CONTENT_TOO_LARGE
  | typeof NO_ROUTE
  | typeof NO_CONSUMERS
  | typeof ACCESS_REFUSED
  | typeof NOT_FOUND
  | typeof RESOURCE_LOCKED
  | typeof PRECONDITION_FAILED;
/** Hard errors: the spec closes the whole connection with these (connection.close). */
export type ConnectionReplyCode =
  | typeof CONNECTION_FORCED
  | typeof INVALID_PATH
  | typeof FRAME_ERROR
  | typeof SYNTAX_ERROR
  | typeof COMMAND_INVALID
  | typeof CHANNEL_ERROR
  | typeof UNEXPECTED_FRAME
  | typeof RESOURCE_ERROR
  | typeof NOT_ALLOWED
  | typeof NOT_IMPLEMENTED
  | typeof INTERNAL_ERROR;
/** Every reply code the spec and RabbitMQ define. */
export type ReplyCode = typeof REPLY_SUCCESS | ChannelReplyCode | ConnectionReplyCode;

export const CHANNEL_REPLY_CODES: readonly ChannelReplyCode[] = [
  CONTENT_TOO_LARGE,
  NO_ROUTE,
  NO_CONSUMERS,
  ACCESS_REFUSED,
  NOT_FOUND,
  RESOURCE_LOCKED,
  PRECONDITION_FAILED,
];
export const CONNECTION_REPLY_CODES: readonly ConnectionReplyCode[] = [
  CONNECTION_FORCED,
  INVALID_PATH,
  FRAME_ERROR,
  SYNTAX_ERROR,
  COMMAND_INVALID,
  CHANNEL_ERROR,
  UNEXPECTED_FRAME,
  RESOURCE_ERROR,
  NOT_ALLOWED,
  NOT_IMPLEMENTED,
  INTERNAL_ERROR,
];

/** True for the spec soft errors, which close only a channel. */
export function isChannelReplyCode(code: number): code is ChannelReplyCode {
  switch (code) {
    case CONTENT_TOO_LARGE:
    case NO_ROUTE:
    case NO_CONSUMERS:
    case ACCESS_REFUSED:
    case NOT_FOUND:
    case RESOURCE_LOCKED:
    case PRECONDITION_FAILED:
      return true;
    default:
      return false;
  }
}

/** True for the spec hard errors, which close the connection. */
export function isConnectionReplyCode(code: number): code is ConnectionReplyCode {
  switch (code) {
    case CONNECTION_FORCED:
    case INVALID_PATH:
    case FRAME_ERROR:
    case SYNTAX_ERROR:
    case COMMAND_INVALID:
    case CHANNEL_ERROR:
    case UNEXPECTED_FRAME:
    case RESOURCE_ERROR:
    case NOT_ALLOWED:
    case NOT_IMPLEMENTED:
    case INTERNAL_ERROR:
      return true;
    default:
      return false;
  }
}

/** True for every reply code in {@link ReplyCode}. */
export function isReplyCode(code: number): code is ReplyCode {
  return replyCodeName(code) !== undefined;
}

/** The spec's name of a reply code in UPPER_SNAKE, as RabbitMQ prefixes reply texts. */
export function replyCodeName(code: number): string | undefined {
  switch (code) {
    case REPLY_SUCCESS:
      return 'REPLY_SUCCESS';
    case CONTENT_TOO_LARGE:
      return 'CONTENT_TOO_LARGE';
    case NO_ROUTE:
      return 'NO_ROUTE';
    case NO_CONSUMERS:
      return 'NO_CONSUMERS';
    case CONNECTION_FORCED:
      return 'CONNECTION_FORCED';
    case INVALID_PATH:
      return 'INVALID_PATH';
    case ACCESS_REFUSED:
      return 'ACCESS_REFUSED';
    case NOT_FOUND:
      return 'NOT_FOUND';
    case RESOURCE_LOCKED:
      return 'RESOURCE_LOCKED';
    case PRECONDITION_FAILED:
      return 'PRECONDITION_FAILED';
    case FRAME_ERROR:
      return 'FRAME_ERROR';
    case SYNTAX_ERROR:
      return 'SYNTAX_ERROR';
    case COMMAND_INVALID:
      return 'COMMAND_INVALID';
    case CHANNEL_ERROR:
      return 'CHANNEL_ERROR';
    case UNEXPECTED_FRAME:
      return 'UNEXPECTED_FRAME';
    case RESOURCE_ERROR:
      return 'RESOURCE_ERROR';
    case NOT_ALLOWED:
      return 'NOT_ALLOWED';
    case NOT_IMPLEMENTED:
      return 'NOT_IMPLEMENTED';
    case INTERNAL_ERROR:
      return 'INTERNAL_ERROR';
    default:
      return undefined;
  }
}
