// The channels of one connection: opening them, handing each frame to its channel, and closing
// them either way. This is one of the two places protocol errors are caught in the network
// thread: a channel error closes that channel (channel.close, then its frames are dropped until
// close-ok); a connection error goes on up to the connection. Network thread only.

import {
  type AmqpError,
  AmqpError as AmqpErrorClass,
  ChannelError,
  type ChannelReplyCode,
  ConnectionError,
  decodeMethod,
  FRAME_BODY,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
} from '../codec/index.js';
import { Channel } from './channel.js';
import type { ChannelConnection, ClosableChannel } from './channel-context.js';
import type { NetServices } from './net-services.js';
import { channelError, connectionError } from './protocol-errors.js';
import type { VirtualHost } from './vhost.js';

const PRECONDITION_FAILED = 406;
const FRAME_ERROR = 501;
const CHANNEL_ERROR = 504;
const UNEXPECTED_FRAME = 505;
const NOT_ALLOWED = 530;

/** What the channel table needs of its connection, besides what its channels need. */
export interface ChannelOwner extends ChannelConnection {
  readonly services: NetServices;
  /** For log lines. */
  readonly name: string;
  /** Set by connection.open, before any channel opens. */
  readonly vhost: VirtualHost | null;
  /** The negotiated channel_max. */
  readonly channelMax: number;
}

export class ConnectionChannels {
  readonly byId = new Map<number, Channel>();
  private readonly owner: ChannelOwner;

  constructor(owner: ChannelOwner) {
    this.owner = owner;
  }

  /** A frame on a non-zero channel of an open connection. Hot path. */
  onFrame(type: number, channelId: number, bytes: Buffer, start: number, end: number): void {
    const channel = this.byId.get(channelId);
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
      this.open(channelId);
      return;
    }
    if (channel.isClosing) {
      this.onFrameWhileClosing(channel, type, bytes, start, end);
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
      this.fail(channel, stamped);
    }
  }

  private open(channelId: number): void {
    const owner = this.owner;
    if (this.byId.size >= owner.channelMax) {
      throw connectionError(
        NOT_ALLOWED,
        `number of channels opened (${this.byId.size}) has reached the negotiated channel_max (${owner.channelMax})`,
      );
    }
    this.byId.set(channelId, new Channel(owner, channelId, owner.vhost!, owner.services));
    owner.sendMethod(channelId, { method: 'channel.open-ok' });
  }

  /** After channel.close either way, only close and close-ok matter (RabbitMQ drops the rest). */
  private onFrameWhileClosing(
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
      this.byId.delete(channel.channelId);
    } else if (method.method === 'channel.close') {
      this.owner.sendMethod(channel.channelId, { method: 'channel.close-ok' });
    }
  }

  /** The client sent channel.close: release the channel and confirm. */
  closeFromClient(channel: ClosableChannel): void {
    channel.release();
    this.byId.delete(channel.channelId);
    this.owner.sendMethod(channel.channelId, { method: 'channel.close-ok' });
  }

  /** A channel error: release the channel and send channel.close; wait for close-ok. */
  fail(channel: ClosableChannel, error: AmqpError): void {
    if (channel.isClosing) return;
    const owner = this.owner;
    channel.release();
    owner.sendMethod(channel.channelId, {
      method: 'channel.close',
      replyCode: error.replyCode,
      replyText: error.replyText,
      classId: error.classId,
      methodId: error.methodId,
    });
    owner.services.log('debug', 'channel closed by the server', {
      connection: owner.name,
      channel: channel.channelId,
      replyCode: error.replyCode,
      replyText: error.replyText,
    });
  }

  /** The connection ends: every channel releases what it holds. */
  releaseAll(): void {
    for (const channel of this.byId.values()) channel.release();
    this.byId.clear();
  }

  /**
   * RabbitMQ's consumer timeout, checked about once a second: a channel whose oldest unacked
   * delivery waited `timeoutMs` is closed with 406 and RabbitMQ's text.
   */
  closeOverdue(nowMs: number, timeoutMs: number): void {
    for (const channel of this.byId.values()) {
      if (channel.isClosing || !channel.consuming.isAckOverdue(nowMs, timeoutMs)) continue;
      // Class and method 0: no method caused it.
      this.fail(
        channel,
        channelError(
          PRECONDITION_FAILED,
          `delivery acknowledgement on channel ${channel.channelId} timed out. Timeout value used: ${timeoutMs} ms. This timeout value can be configured, see consumers doc guide to learn more`,
        ),
      );
    }
  }
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
