// Unit tests for the protocol exceptions: reply-text cutting, plain-data round trips across
// threads, and the soft/hard reply-code line from the spec.

import { describe, expect, it } from 'vitest';
import {
  ACCESS_REFUSED,
  CHANNEL_REPLY_CODES,
  CONNECTION_REPLY_CODES,
  FRAME_ERROR,
  isChannelReplyCode,
  isConnectionReplyCode,
  isReplyCode,
  NO_ROUTE,
  NOT_FOUND,
  PROTOCOL_HEADER,
  REPLY_SUCCESS,
  replyCodeName,
  type ReplyCode,
} from './constants.js';
import {
  AmqpError,
  ChannelError,
  ConnectionError,
  formatReplyText,
  fromPlainError,
  toPlainError,
  truncateReplyText,
} from './errors.js';

describe('AmqpError', () => {
  it('carries the reply code, text and failing method', () => {
    const error = new ChannelError(NOT_FOUND, "NOT_FOUND - no queue 'q' in vhost '/'", 50, 10);
    expect(error).toBeInstanceOf(AmqpError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: 'ChannelError',
      kind: 'channel',
      replyCode: 404,
      replyText: "NOT_FOUND - no queue 'q' in vhost '/'",
      message: "NOT_FOUND - no queue 'q' in vhost '/'",
      classId: 50,
      methodId: 10,
    });
    expect(new ConnectionError(ACCESS_REFUSED, 'denied')).toMatchObject({
      name: 'ConnectionError',
      kind: 'connection',
      classId: 0,
      methodId: 0,
    });
  });

  it('cuts reply texts to 252 bytes plus "..." without splitting a character', () => {
    expect(truncateReplyText('short')).toBe('short');
    const exact = 'a'.repeat(255);
    expect(truncateReplyText(exact)).toBe(exact);
    expect(truncateReplyText('a'.repeat(256))).toBe('a'.repeat(252) + '...');
    // '€' is 3 bytes: 84 of them fill 252 bytes exactly, and 85 fill 255.
    expect(truncateReplyText('€'.repeat(85))).toBe('€'.repeat(85));
    expect(truncateReplyText('€'.repeat(86))).toBe('€'.repeat(84) + '...');
    // 'x' then '€'s: the cut at 252 would fall inside a character, so it backs off.
    const cut = truncateReplyText('x' + '€'.repeat(100));
    expect(cut).toBe('x' + '€'.repeat(83) + '...');
    expect(Buffer.byteLength(cut)).toBe(253);
    const error = new ConnectionError(FRAME_ERROR, 'y'.repeat(1000));
    expect(Buffer.byteLength(error.replyText)).toBe(255);
  });

  it('crosses threads as plain data', () => {
    const errors: AmqpError[] = [
      new ChannelError(NOT_FOUND, 'NOT_FOUND - gone', 50, 10),
      new ConnectionError(FRAME_ERROR, 'FRAME_ERROR - bad', 60, 40),
    ];
    for (const error of errors) {
      const plain = structuredClone(toPlainError(error));
      const rebuilt = fromPlainError(plain);
      expect(rebuilt.constructor).toBe(error.constructor);
      expect(toPlainError(rebuilt)).toEqual(toPlainError(error));
    }
  });

  it('turns a channel error with a hard code into a connection error', () => {
    const rebuilt = fromPlainError({
      kind: 'channel',
      replyCode: FRAME_ERROR,
      replyText: 'FRAME_ERROR - x',
      classId: 0,
      methodId: 0,
    });
    expect(rebuilt).toBeInstanceOf(ConnectionError);
  });

  it('formats texts the way RabbitMQ does', () => {
    expect(formatReplyText(NOT_FOUND, "no queue 'q'")).toBe("NOT_FOUND - no queue 'q'");
  });
});

describe('reply codes and constants', () => {
  it('split the reply codes along the spec soft-error and hard-error classes', () => {
    expect([...CHANNEL_REPLY_CODES].sort()).toEqual([311, 312, 313, 403, 404, 405, 406]);
    expect([...CONNECTION_REPLY_CODES].sort()).toEqual([
      320, 402, 501, 502, 503, 504, 505, 506, 530, 540, 541,
    ]);
    for (const code of CHANNEL_REPLY_CODES) expect(isConnectionReplyCode(code)).toBe(false);
    for (const code of CONNECTION_REPLY_CODES) expect(isChannelReplyCode(code)).toBe(false);
    expect(isReplyCode(REPLY_SUCCESS)).toBe(true);
    expect(isReplyCode(999)).toBe(false);
    expect(replyCodeName(NO_ROUTE)).toBe('NO_ROUTE');
    expect(replyCodeName(541)).toBe('INTERNAL_ERROR');
    const success: ReplyCode = REPLY_SUCCESS;
    expect(success).toBe(200);
  });

  it('has the 0-9-1 protocol header', () => {
    expect(PROTOCOL_HEADER).toEqual(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
  });
});
