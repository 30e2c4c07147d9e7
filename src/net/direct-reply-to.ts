// Direct reply-to (RabbitMQ's amq.rabbitmq.reply-to) for one channel: the pseudo-consumer that
// receives replies with no queue in between, the reply-to name it gives the channel's
// requests, and the delivery of replies published to that name. Network thread only. A reply
// needs no ack and is lost if the channel is gone, as in RabbitMQ.

import { randomBytes } from 'node:crypto';
import type { AmqpMethod } from '../codec/index.js';
import { MessageBlockView } from '../shard/api.js';
import type { ChannelContext } from './channel-context.js';
import { writeBasicDeliver, writeContent } from './content-frames.js';
import { serverGeneratedName, type ReplyTarget } from './net-services.js';
import { channelError, connectionError } from './protocol-errors.js';

/** The direct reply-to pseudo-queue, and the prefix of the names it gives reply-to. */
export const REPLY_QUEUE = 'amq.rabbitmq.reply-to';
export const REPLY_PREFIX = 'amq.rabbitmq.reply-to.';

const PRECONDITION_FAILED = 406;
const NOT_ALLOWED = 530;

export class DirectReplyTo implements ReplyTarget {
  private readonly channel: ChannelContext;
  /** The amq.rabbitmq.reply-to consumer's tag, or null. */
  private consumerTag: Buffer | null = null;
  /** The key in this channel's reply-to names (services.replyTargets), '' until it consumes. */
  private key = '';
  private readonly view = new MessageBlockView();

  constructor(channel: ChannelContext) {
    this.channel = channel;
  }

  get isConsuming(): boolean {
    return this.consumerTag !== null;
  }

  /** The reply-to name requests from this channel carry instead of amq.rabbitmq.reply-to. */
  get replyName(): string {
    return REPLY_PREFIX + this.key;
  }

  isConsumerTag(tag: string): boolean {
    return this.consumerTag !== null && this.consumerTag.toString('utf8') === tag;
  }

  /** basic.consume on amq.rabbitmq.reply-to: no queue, replies come straight to this channel. */
  consume(
    method: Extract<AmqpMethod, { method: 'basic.consume' }>,
    isTagInUse: (tag: string) => boolean,
  ): void {
    if (!method.noAck)
      throw channelError(PRECONDITION_FAILED, 'reply consumer cannot acknowledge', 60, 20);
    if (this.consumerTag !== null)
      throw channelError(PRECONDITION_FAILED, 'reply consumer already set', 60, 20);
    let tag = method.consumerTag;
    if (tag === '') tag = serverGeneratedName('amq.ctag-');
    else if (isTagInUse(tag))
      throw connectionError(NOT_ALLOWED, `attempt to reuse consumer tag '${tag}'`, 60, 20);
    this.consumerTag = Buffer.from(tag, 'utf8');
    this.key = randomBytes(18).toString('base64url');
    this.channel.services.replyTargets.set(this.key, this);
    if (!method.noWait) {
      this.channel.connection.sendMethod(this.channel.channelId, {
        method: 'basic.consume-ok',
        consumerTag: tag,
      });
    }
  }

  /** Stops direct reply-to on this channel; replies to its old name become unroutable. */
  stop(): void {
    if (this.consumerTag === null) return;
    this.consumerTag = null;
    this.channel.services.replyTargets.delete(this.key);
    this.key = '';
  }

  /** ReplyTarget: a reply for this channel's amq.rabbitmq.reply-to consumer (no ack). */
  deliverReply(block: Buffer): void {
    const tag = this.consumerTag;
    const channel = this.channel;
    if (tag === null || channel.isClosing) return;
    const view = this.view.read(block, 0, block.length);
    const connection = channel.connection;
    const deliveryTag = channel.deliveryTags.assign(false, 0, 0);
    writeBasicDeliver(connection.out, channel.channelId, tag, deliveryTag, false, block, view);
    writeContent(
      connection.out,
      channel.channelId,
      connection.frameMaxBytes,
      block,
      view.propertiesStart,
      view.propertiesEnd,
      block,
      view.bodyStart,
      view.bodyEnd,
    );
    connection.markDirty();
  }
}
