// Hand-written encoders for the frames on the delivery path: basic.deliver, basic.get-ok and
// basic.return method frames, and the content header and body frames that follow them. They
// copy the exchange and routing key straight from a message block, as shortstrs, without
// turning them into strings. Network thread only.

import {
  beginFrame,
  type ByteWriter,
  encodeBodyFrames,
  endFrame,
  FRAME_HEADER,
  FRAME_METHOD,
} from '../codec/index.js';
import type { MessageBlockView } from '../shard/api.js';

const CLASS_BASIC = 60;
const METHOD_BASIC_RETURN = 50;
const METHOD_BASIC_DELIVER = 60;
const METHOD_BASIC_GET_OK = 71;
const NO_ROUTE = 312;

/** The exchange and routing key shortstrs of a block, copied as they are. */
function exchangeAndRoutingKey(out: ByteWriter, block: Buffer, view: MessageBlockView): void {
  out.bytes(block, view.exchangeStart - 1, view.routingKeyEnd);
}

export function writeBasicDeliver(
  out: ByteWriter,
  channelId: number,
  consumerTag: Buffer,
  deliveryTag: number,
  isRedelivered: boolean,
  block: Buffer,
  view: MessageBlockView,
): void {
  const sizeAt = beginFrame(out, FRAME_METHOD, channelId);
  out.u16(CLASS_BASIC);
  out.u16(METHOD_BASIC_DELIVER);
  out.u8(consumerTag.length);
  out.bytes(consumerTag);
  out.u64(deliveryTag);
  out.u8(isRedelivered ? 1 : 0);
  exchangeAndRoutingKey(out, block, view);
  endFrame(out, sizeAt);
}

export function writeBasicGetOk(
  out: ByteWriter,
  channelId: number,
  deliveryTag: number,
  isRedelivered: boolean,
  messageCount: number,
  block: Buffer,
  view: MessageBlockView,
): void {
  const sizeAt = beginFrame(out, FRAME_METHOD, channelId);
  out.u16(CLASS_BASIC);
  out.u16(METHOD_BASIC_GET_OK);
  out.u64(deliveryTag);
  out.u8(isRedelivered ? 1 : 0);
  exchangeAndRoutingKey(out, block, view);
  out.u32(messageCount);
  endFrame(out, sizeAt);
}

export function writeBasicReturn(
  out: ByteWriter,
  channelId: number,
  replyCode: number,
  replyText: string,
  exchangeAndKey: Buffer,
  exchangeAndKeyBytes: number,
): void {
  const sizeAt = beginFrame(out, FRAME_METHOD, channelId);
  out.u16(CLASS_BASIC);
  out.u16(METHOD_BASIC_RETURN);
  out.u16(replyCode);
  out.shortString(replyText);
  out.bytes(exchangeAndKey, 0, exchangeAndKeyBytes);
  endFrame(out, sizeAt);
}

/** access.request-ok with ticket 1 (class 30, method 11). */
export function writeAccessRequestOk(out: ByteWriter, channelId: number): void {
  const sizeAt = beginFrame(out, FRAME_METHOD, channelId);
  out.u16(30);
  out.u16(11);
  out.u16(1);
  endFrame(out, sizeAt);
}

/** The content header frame and the body split into frames of at most frameMax bytes. */
export function writeContent(
  out: ByteWriter,
  channelId: number,
  frameMaxBytes: number,
  properties: Buffer,
  propertiesStart: number,
  propertiesEnd: number,
  body: Buffer,
  bodyStart: number,
  bodyEnd: number,
): void {
  const bodyBytes = bodyEnd - bodyStart;
  out.ensure(
    32 +
      (propertiesEnd - propertiesStart) +
      bodyBytes +
      8 * Math.ceil(bodyBytes / (frameMaxBytes - 8)),
  );
  const headerSizeAt = beginFrame(out, FRAME_HEADER, channelId);
  out.u16(CLASS_BASIC);
  out.u16(0);
  out.u64(bodyBytes);
  out.bytes(properties, propertiesStart, propertiesEnd);
  endFrame(out, headerSizeAt);
  encodeBodyFrames(out, channelId, body, bodyStart, bodyEnd, frameMaxBytes);
}

/** basic.return (NO_ROUTE) and the returned message's content: an unroutable mandatory publish. */
export function writeReturnedMessage(
  out: ByteWriter,
  channelId: number,
  frameMaxBytes: number,
  head: Buffer,
  headBytes: number,
  properties: Buffer,
  propertiesBytes: number,
  body: Buffer,
  bodyStart: number,
  bodyEnd: number,
): void {
  writeBasicReturn(out, channelId, NO_ROUTE, 'NO_ROUTE', head, headBytes);
  writeContent(
    out,
    channelId,
    frameMaxBytes,
    properties,
    0,
    propertiesBytes,
    body,
    bodyStart,
    bodyEnd,
  );
}
