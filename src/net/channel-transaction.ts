// A channel's transaction (tx.select): publishes and settles are held until tx.commit, which
// sends each shard its part as one transaction record that the shard applies and logs
// atomically; commit-ok follows once every involved shard made its part durable. Atomic per
// shard, not across shards (docs/durability.md). Network thread only.

import {
  CMD_PUBLISH,
  CMD_SETTLE,
  OutgoingPublish,
  publishRecordBytes,
  settleRecordBytes,
  TRANSACTION_NESTED_HEADER_BYTES,
  writeNestedHeader,
  writePublishRecord,
  writeSettleRecord,
} from '../shard/api.js';
import type { ChannelContext } from './channel-context.js';
import { writeReturnedMessage } from './content-frames.js';
import type { SettledDeliverySink } from './delivery-tags.js';
import { type QueueRecord, shardMaskOf } from './exchange.js';
import type { ReplyTarget } from './net-services.js';
import { channelError } from './protocol-errors.js';
import type { ReplyHandler } from './shard-link.js';

const PRECONDITION_FAILED = 406;
const CLASS_BASIC = 60;
const METHOD_BASIC_PUBLISH = 40;

/** A publish held by an open transaction until tx.commit. */
interface HeldPublish {
  queues: QueueRecord[];
  isMandatory: boolean;
  /** PUBLISH_FLAG_PERSISTENT and PUBLISH_FLAG_EXPIRATION as they apply. */
  flags: number;
  head: Buffer;
  properties: Buffer;
  body: Buffer;
}

/** A settle held by an open transaction until tx.commit. */
interface HeldSettle {
  action: number;
  shardIndex: number;
  deliveryId: number;
  tag: number;
  isLimited: boolean;
}

/** Where committed settles return the channel-wide prefetch credit they free. */
export interface CreditReturn {
  /** A delivery counted by the channel-wide prefetch is settled. */
  releaseLimited(): void;
  /** Hands out credit the settles freed. */
  grantCredit(): void;
}

export class ChannelTransaction implements SettledDeliverySink {
  private readonly channel: ChannelContext;
  private heldPublishes: HeldPublish[] = [];
  private heldSettles: HeldSettle[] = [];
  /** Direct replies (amq.rabbitmq.reply-to) published in the transaction. */
  private heldReplies: { target: ReplyTarget; block: Buffer }[] = [];
  private heldBytes = 0;
  /** The SETTLE_* action of the settle being held. */
  private heldAction = 0;

  constructor(channel: ChannelContext) {
    this.channel = channel;
  }

  /** Publishes held until tx.commit. */
  get uncommittedCount(): number {
    return this.heldPublishes.length;
  }

  /** Keeps a routed publish (copied: the bytes given are reused) until commit. */
  holdPublish(
    queues: readonly QueueRecord[],
    isMandatory: boolean,
    flags: number,
    head: Buffer,
    headBytes: number,
    properties: Buffer,
    propertiesBytes: number,
    body: Buffer,
    bodyStart: number,
    bodyEnd: number,
  ): void {
    const held: HeldPublish = {
      queues: [...queues],
      isMandatory,
      flags,
      head: Buffer.from(head.subarray(0, headBytes)),
      properties: Buffer.from(properties.subarray(0, propertiesBytes)),
      body: Buffer.from(body.subarray(bodyStart, bodyEnd)),
    };
    this.heldBytes += held.body.length + held.properties.length;
    this.checkHeldBytes();
    this.heldPublishes.push(held);
  }

  private checkHeldBytes(): void {
    const limit = this.channel.services.options.messageMaxBytes * 4;
    if (this.heldBytes > limit) {
      throw channelError(
        PRECONDITION_FAILED,
        `transaction holds more than ${limit} bytes`,
        CLASS_BASIC,
        METHOD_BASIC_PUBLISH,
      );
    }
  }

  /** Keeps a direct reply (a message block the caller gives up) until commit. */
  holdReply(target: ReplyTarget, block: Buffer): void {
    this.heldBytes += block.length;
    this.checkHeldBytes();
    this.heldReplies.push({ target, block });
  }

  /** Holds the settles of deliveries up to (or exactly) `deliveryTag` until commit. */
  holdSettles(deliveryTag: number, isMultiple: boolean, action: number): void {
    this.heldAction = action;
    const tags = this.channel.deliveryTags;
    if (isMultiple) tags.settleUpTo(deliveryTag, this);
    else tags.settleOne(deliveryTag, this);
  }

  /** SettledDeliverySink: one delivery the held settle covers. */
  collect(shardIndex: number, deliveryId: number, tag: number, isLimited: boolean): void {
    this.heldSettles.push({ action: this.heldAction, shardIndex, deliveryId, tag, isLimited });
  }

  /** tx.rollback: held publishes are dropped; held settles are forgotten (RabbitMQ's rule). */
  rollback(): void {
    this.heldPublishes = [];
    this.heldReplies = [];
    this.heldBytes = 0;
    // RabbitMQ's rollback forgets held acks; the deliveries stay unacknowledged.
    const settles = this.heldSettles;
    this.heldSettles = [];
    for (const settle of settles) {
      this.channel.deliveryTags.restore(
        settle.tag,
        settle.shardIndex,
        settle.deliveryId,
        settle.isLimited,
      );
    }
  }

  /** The channel closed: held work is dropped. */
  release(): void {
    this.heldPublishes = [];
    this.heldSettles = [];
    this.heldReplies = [];
    this.heldBytes = 0;
  }

  /**
   * tx.commit: every held publish and settle goes to its shards as one transaction record per
   * shard; commit-ok follows once every involved shard has made its part durable. Unroutable
   * mandatory publishes are returned before commit-ok, as RabbitMQ does.
   */
  commit(credit: CreditReturn): void {
    const channel = this.channel;
    const connection = channel.connection;
    const publishes = this.heldPublishes;
    const settles = this.heldSettles;
    const replies = this.heldReplies;
    this.release();
    // Direct replies are not stored: they go at commit (to a requester gone since, nowhere).
    for (const { target, block } of replies) target.deliverReply(block);
    const links = channel.services.links;
    const connectionId = connection.connectionId;
    const records: Buffer[][] = links.map(() => []);
    for (const held of publishes) {
      const queues = held.queues.filter((queue) => !queue.isDeleted);
      if (queues.length === 0) {
        if (held.isMandatory) {
          writeReturnedMessage(
            connection.out,
            channel.channelId,
            connection.frameMaxBytes,
            held.head,
            held.head.length,
            held.properties,
            held.properties.length,
            held.body,
            0,
            held.body.length,
          );
          connection.markDirty();
        }
        continue;
      }
      const outgoing = new OutgoingPublish().setMessage(
        held.head,
        held.head.length,
        held.properties,
        held.properties.length,
        held.body,
        0,
        held.body.length,
      );
      outgoing.connectionId = connectionId;
      outgoing.channelId = channel.channelId;
      outgoing.flags = held.flags;
      const ids = new Uint32Array(queues.length);
      for (let remaining = shardMaskOf(queues); remaining !== 0;) {
        const shardIndex = 31 - Math.clz32(remaining);
        remaining &= ~(1 << shardIndex);
        let count = 0;
        for (const queue of queues)
          if (queue.shardIndex === shardIndex) ids[count++] = queue.queueId;
        const bytes = publishRecordBytes(outgoing, count);
        const record = nestedRecord(CMD_PUBLISH, bytes);
        writePublishRecord(record, TRANSACTION_NESTED_HEADER_BYTES, outgoing, ids, count);
        records[shardIndex]!.push(record);
      }
    }
    for (const settle of settles) {
      const record = nestedRecord(CMD_SETTLE, settleRecordBytes(1));
      writeSettleRecord(
        record,
        TRANSACTION_NESTED_HEADER_BYTES,
        connectionId,
        channel.channelId,
        settle.action,
        new Float64Array([settle.deliveryId]),
        1,
      );
      records[settle.shardIndex]!.push(record);
      if (settle.isLimited) credit.releaseLimited();
    }
    credit.grantCredit();
    let waiting = 0;
    let failure: string | null = null;
    const onCommitted: ReplyHandler = {
      onReply: (replyCode, _value, replyText) => {
        waiting--;
        // A shard that could not store its part (disk full, I/O error) fails the commit.
        if (replyCode !== 0) failure ??= replyText;
        if (waiting > 0 || channel.isClosing) return;
        if (failure === null) {
          connection.sendMethod(channel.channelId, { method: 'tx.commit-ok' });
          return;
        }
        channel.fail(channelError(PRECONDITION_FAILED, failure, 90, 20));
      },
    };
    for (let shardIndex = 0; shardIndex < links.length; shardIndex++) {
      if (records[shardIndex]!.length === 0) continue;
      waiting++;
      links[shardIndex]!.transaction(records[shardIndex]!, onCommitted);
    }
    if (waiting === 0) connection.sendMethod(channel.channelId, { method: 'tx.commit-ok' });
  }
}

/** A record to nest in a transaction: its header, then `bytes` to fill after it. */
function nestedRecord(type: number, bytes: number): Buffer {
  const record = Buffer.allocUnsafe(TRANSACTION_NESTED_HEADER_BYTES + bytes);
  writeNestedHeader(record, 0, type, bytes);
  return record;
}
