// Protocol exceptions: AmqpError and its two kinds, ChannelError (closes one channel) and
// ConnectionError (closes the connection). Any thread may throw them; net catches them in exactly
// two places. They cross threads as PlainAmqpError, because structured cloning drops subclasses.
// Invariant: replyText always fits a shortstr (255 UTF-8 bytes), cut the way RabbitMQ cuts it.

import {
  isChannelReplyCode,
  replyCodeName,
  type ChannelReplyCode,
  type ReplyCode,
} from './constants.js';

/** The most UTF-8 bytes a reply text may have: it travels as a shortstr. */
export const REPLY_TEXT_BYTES_MAX = 255;

/**
 * A protocol exception. `replyText` is sent verbatim in channel.close or connection.close; build
 * it with {@link formatReplyText} to match RabbitMQ's "NOT_FOUND - no queue 'q'" form.
 */
export abstract class AmqpError extends Error {
  abstract readonly kind: 'channel' | 'connection';
  readonly replyCode: ReplyCode;
  readonly replyText: string;
  /** Class id of the method that failed, or 0 when no method did. */
  readonly classId: number;
  /** Method id of the method that failed, or 0 when no method did. */
  readonly methodId: number;

  constructor(replyCode: ReplyCode, replyText: string, classId = 0, methodId = 0) {
    const text = truncateReplyText(replyText);
    super(text);
    this.replyCode = replyCode;
    this.replyText = text;
    this.classId = classId;
    this.methodId = methodId;
  }
}

/** A soft error: the channel is closed with channel.close, the connection lives on. */
export class ChannelError extends AmqpError {
  override readonly name = 'ChannelError';
  readonly kind = 'channel';

  constructor(replyCode: ChannelReplyCode, replyText: string, classId = 0, methodId = 0) {
    super(replyCode, replyText, classId, methodId);
  }
}

/**
 * A hard error: the connection is closed with connection.close. It accepts every reply code, not
 * only the spec's hard errors, because RabbitMQ closes the connection with soft codes too: 403
 * ACCESS_REFUSED when authentication fails and 530 NOT_ALLOWED or 404 NOT_FOUND for vhost
 * problems (rabbit_reader handle_exception), and any error raised on channel 0.
 */
export class ConnectionError extends AmqpError {
  override readonly name = 'ConnectionError';
  readonly kind = 'connection';

  constructor(replyCode: ReplyCode, replyText: string, classId = 0, methodId = 0) {
    super(replyCode, replyText, classId, methodId);
  }
}

/** An AmqpError as plain data, for postMessage and the rings. */
export interface PlainAmqpError {
  kind: 'channel' | 'connection';
  replyCode: ReplyCode;
  replyText: string;
  classId: number;
  methodId: number;
}

export function toPlainError(error: AmqpError): PlainAmqpError {
  return {
    kind: error.kind,
    replyCode: error.replyCode,
    replyText: error.replyText,
    classId: error.classId,
    methodId: error.methodId,
  };
}

/**
 * Rebuilds the error class from plain data. A channel error carrying a hard reply code becomes a
 * ConnectionError, since RabbitMQ closes the connection for hard errors whatever channel raised
 * them (rabbit_binary_generator map_exception).
 */
export function fromPlainError(plain: PlainAmqpError): AmqpError {
  if (plain.kind === 'channel' && isChannelReplyCode(plain.replyCode)) {
    return new ChannelError(plain.replyCode, plain.replyText, plain.classId, plain.methodId);
  }
  return new ConnectionError(plain.replyCode, plain.replyText, plain.classId, plain.methodId);
}

/** RabbitMQ's reply text form: the code's spec name, " - ", then the explanation. */
export function formatReplyText(replyCode: ReplyCode, explanation: string): string {
  return `${replyCodeName(replyCode) ?? String(replyCode)} - ${explanation}`;
}

/**
 * Cuts a reply text to at most 255 UTF-8 bytes. Like RabbitMQ (amqp_exception_explanation) a
 * longer text keeps its first 252 bytes and gains "..."; the cut never splits a character.
 */
export function truncateReplyText(text: string): string {
  // Each UTF-16 code unit takes at most 3 UTF-8 bytes, so short strings need no measuring.
  if (text.length * 3 <= REPLY_TEXT_BYTES_MAX) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= REPLY_TEXT_BYTES_MAX) return text;
  let cut = REPLY_TEXT_BYTES_MAX - 3;
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--;
  return bytes.toString('utf8', 0, cut) + '...';
}
