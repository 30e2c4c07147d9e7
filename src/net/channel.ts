// One AMQP channel on the network thread: it takes the frames of its channel number and hands
// each method to the part that owns it: publishing (assembly, routing, confirms), consuming
// (qos, consume, get, settle), the transaction, direct reply-to, or the exchange and queue
// methods. Protocol errors thrown anywhere below its frame handlers are caught by the
// connection's channel dispatcher, which closes this channel (or the connection).

import { type AmqpError, type AmqpMethod, ByteReader, decodeMethod } from '../codec/index.js';
import { type MessageBlockView, SETTLE_ACK, SETTLE_DISCARD, SETTLE_REQUEUE } from '../shard/api.js';
import type { ChannelConnection, ChannelContext, ClosableChannel } from './channel-context.js';
import { ChannelConsuming } from './channel-consuming.js';
import { ChannelPublishing } from './channel-publishing.js';
import { ChannelTopology } from './channel-topology.js';
import { ChannelTransaction } from './channel-transaction.js';
import type { ChannelConsumer, ConsumerChannel } from './consumer.js';
import { writeAccessRequestOk } from './content-frames.js';
import { DeliveryTagTable } from './delivery-tags.js';
import { DirectReplyTo } from './direct-reply-to.js';
import type { NetServices } from './net-services.js';
import { channelError, connectionError } from './protocol-errors.js';
import type { VirtualHost } from './vhost.js';

const CLASS_BASIC = 60;
const METHOD_BASIC_PUBLISH = 40;
const METHOD_BASIC_ACK = 80;
const ACCESS_REQUEST = (30 << 16) | 10;

const PRECONDITION_FAILED = 406;

/**
 * Decodes the methods that reach the generic path (not publish or ack), remembering the wire
 * type of each argument, so 406 texts name the type the client sent (byte, short, long, ...),
 * as RabbitMQ's do. One reader serves every channel: decoding never re-enters.
 */
const typeRecordingReader = new ByteReader();
typeRecordingReader.isRecordingTypes = true;
const COMMAND_INVALID = 503;
const CHANNEL_ERROR = 504;
const NOT_IMPLEMENTED = 540;

export class Channel implements ChannelContext, ConsumerChannel, ClosableChannel {
  readonly channelId: number;
  readonly connection: ChannelConnection;
  readonly vhost: VirtualHost;
  readonly services: NetServices;
  readonly deliveryTags = new DeliveryTagTable();
  /** Class id << 16 | method id of the method being handled, to stamp errors with. */
  methodKey = 0;
  /** Set when either side has sent channel.close; frames are then dropped until close-ok. */
  isClosing = false;
  isClosed = false;
  lastDeclaredQueue = '';
  readonly replies: DirectReplyTo;
  readonly publishing: ChannelPublishing;
  readonly consuming: ChannelConsuming;
  readonly topology: ChannelTopology;
  /** Set by tx.select. */
  private transaction: ChannelTransaction | null = null;

  constructor(
    connection: ChannelConnection,
    channelId: number,
    vhost: VirtualHost,
    services: NetServices,
  ) {
    this.connection = connection;
    this.channelId = channelId;
    this.vhost = vhost;
    this.services = services;
    this.replies = new DirectReplyTo(this);
    this.publishing = new ChannelPublishing(this, this.replies);
    this.consuming = new ChannelConsuming(this, this.replies);
    this.topology = new ChannelTopology(this);
  }

  // ---------------------------------------------------------------- for management listings

  get consumers(): ReadonlyMap<string, ChannelConsumer> {
    return this.consuming.consumers;
  }

  /** The per-consumer prefetch (basic.qos global=false). */
  get prefetchCount(): number {
    return this.consuming.prefetchCount;
  }

  /** The channel-wide prefetch (basic.qos global=true). */
  get globalPrefetchCount(): number {
    return this.consuming.globalPrefetchCount;
  }

  get isInConfirmMode(): boolean {
    return this.publishing.isConfirmMode;
  }

  get isInTransaction(): boolean {
    return this.transaction !== null;
  }

  /** Publishes in confirm mode not yet confirmed. */
  get unconfirmedCount(): number {
    return this.publishing.unconfirmedCount;
  }

  /** Publishes held until tx.commit. */
  get uncommittedCount(): number {
    return this.transaction?.uncommittedCount ?? 0;
  }

  get publishedCount(): number {
    return this.publishing.publishedCount;
  }

  get confirmedCount(): number {
    return this.publishing.confirmedCount;
  }

  get deliveredCount(): number {
    return this.consuming.deliveredCount;
  }

  get ackedCount(): number {
    return this.consuming.ackedCount;
  }

  // ---------------------------------------------------------------- frames

  /** A method frame for this channel. Hot path for basic.publish and basic.ack. */
  onMethodFrame(bytes: Buffer, start: number, end: number): void {
    this.publishing.checkMethodExpected();
    if (end - start >= 4) {
      // Remembered so errors name the method that failed, as RabbitMQ's do.
      this.methodKey = bytes.readUInt32BE(start);
      if (this.methodKey >>> 16 === CLASS_BASIC) {
        const methodId = this.methodKey & 0xffff;
        if (methodId === METHOD_BASIC_PUBLISH) {
          const gate = this.services.publishGate;
          if (gate.isBlocked) this.connection.blockForAlarm(gate.reasonText);
          if (this.publishing.beginPublish(bytes, start + 4, end)) return;
        }
        if (methodId === METHOD_BASIC_ACK && end - start === 13) {
          const deliveryTag =
            bytes.readUInt32BE(start + 4) * 0x1_0000_0000 + bytes.readUInt32BE(start + 8);
          this.settle(deliveryTag, (bytes[start + 12]! & 1) === 1, SETTLE_ACK, 'basic.ack');
          return;
        }
      } else if (this.methodKey === ACCESS_REQUEST) {
        // access.request, gone from 0-9-1 but still sent by old clients: RabbitMQ grants ticket 1.
        writeAccessRequestOk(this.connection.out, this.channelId);
        this.connection.markDirty();
        return;
      }
    }
    this.onMethod(decodeMethod(bytes, start, end, typeRecordingReader));
  }

  onHeaderFrame(bytes: Buffer, start: number, end: number): void {
    this.publishing.onHeaderFrame(bytes, start, end);
  }

  onBodyFrame(bytes: Buffer, start: number, end: number): void {
    this.publishing.onBodyFrame(bytes, start, end);
  }

  // ---------------------------------------------------------------- shard events

  /** ConsumerChannel: a shard delivered to one of this channel's consumers. Hot path. */
  deliver(
    consumer: ChannelConsumer,
    shardIndex: number,
    deliveryId: number,
    flags: number,
    block: Buffer,
    view: MessageBlockView,
  ): void {
    this.consuming.deliver(consumer, shardIndex, deliveryId, flags, block, view);
  }

  /** ConsumerChannel: the consumer's queue is gone. */
  cancelFromServer(consumer: ChannelConsumer): void {
    this.consuming.cancelFromServer(consumer);
  }

  /** ConsumerChannel: tell the client (consumer_cancel_notify). */
  sendServerCancel(consumer: ChannelConsumer): void {
    this.consuming.sendServerCancel(consumer);
  }

  /** ChannelContext: closes this channel (or, for a connection error, the connection). */
  fail(error: AmqpError): void {
    this.connection.failChannel(this, error);
  }

  // ---------------------------------------------------------------- methods

  private onMethod(method: AmqpMethod): void {
    const connection = this.connection;
    switch (method.method) {
      case 'channel.close':
        connection.closeChannelFromClient(this);
        return;
      case 'channel.close-ok':
        // Nobody asked for it: RabbitMQ treats it as a method the server does not take.
        throw connectionError(COMMAND_INVALID, 'unimplemented method', 20, 41);
      case 'channel.flow':
        if (!method.active) {
          // RabbitMQ refuses client-initiated flow control (rabbit_channel, channel.flow).
          throw connectionError(NOT_IMPLEMENTED, 'active=false', 20, 20);
        }
        connection.sendMethod(this.channelId, { method: 'channel.flow-ok', active: true });
        return;
      case 'channel.flow-ok':
        return;
      case 'channel.open':
        throw connectionError(CHANNEL_ERROR, `second 'channel.open' seen`, 20, 10);
      case 'exchange.declare':
        return this.topology.exchangeDeclare(method);
      case 'exchange.delete':
        return this.topology.exchangeDelete(method);
      case 'exchange.bind':
      case 'exchange.unbind':
        return this.topology.exchangeBind(method);
      case 'queue.declare':
        return this.topology.queueDeclare(method);
      case 'queue.bind':
      case 'queue.unbind':
        return this.topology.queueBind(method);
      case 'queue.purge':
        return this.topology.queuePurge(method);
      case 'queue.delete':
        return this.topology.queueDelete(method);
      case 'basic.qos':
        return this.consuming.basicQos(method);
      case 'basic.consume':
        return this.consuming.basicConsume(method);
      case 'basic.cancel':
        return this.consuming.basicCancel(method.consumerTag, method.noWait);
      case 'basic.get':
        return this.consuming.basicGet(method.queue, method.noAck);
      case 'basic.ack':
        return this.settle(method.deliveryTag, method.multiple, SETTLE_ACK, 'basic.ack');
      case 'basic.nack':
        return this.settle(
          method.deliveryTag,
          method.multiple,
          method.requeue ? SETTLE_REQUEUE : SETTLE_DISCARD,
          'basic.nack',
        );
      case 'basic.reject':
        return this.settle(
          method.deliveryTag,
          false,
          method.requeue ? SETTLE_REQUEUE : SETTLE_DISCARD,
          'basic.reject',
        );
      case 'basic.recover':
      case 'basic.recover-async':
        if (!method.requeue) {
          throw connectionError(
            NOT_IMPLEMENTED,
            'requeue=false',
            CLASS_BASIC,
            method.method === 'basic.recover' ? 110 : 100,
          );
        }
        this.consuming.requeueAll();
        if (method.method === 'basic.recover')
          connection.sendMethod(this.channelId, { method: 'basic.recover-ok' });
        return;
      case 'confirm.select':
        if (this.transaction !== null) {
          throw channelError(PRECONDITION_FAILED, 'cannot switch from tx to confirm mode', 85, 10);
        }
        this.publishing.selectConfirms();
        if (!method.nowait) connection.sendMethod(this.channelId, { method: 'confirm.select-ok' });
        return;
      case 'tx.select':
        if (this.publishing.isConfirmMode) {
          throw channelError(PRECONDITION_FAILED, 'cannot switch from confirm to tx mode', 90, 10);
        }
        this.transaction ??= new ChannelTransaction(this);
        this.publishing.transaction = this.transaction;
        connection.sendMethod(this.channelId, { method: 'tx.select-ok' });
        return;
      case 'tx.commit':
        if (this.transaction === null)
          throw channelError(PRECONDITION_FAILED, 'channel is not transactional', 90, 20);
        this.transaction.commit(this.consuming);
        return;
      case 'tx.rollback':
        if (this.transaction === null)
          throw channelError(PRECONDITION_FAILED, 'channel is not transactional', 90, 30);
        this.transaction.rollback();
        connection.sendMethod(this.channelId, { method: 'tx.rollback-ok' });
        return;
      case 'basic.publish':
        // Reached only when the fast path could not parse it; decodeMethod has validated it.
        throw connectionError(
          COMMAND_INVALID,
          'malformed basic.publish',
          CLASS_BASIC,
          METHOD_BASIC_PUBLISH,
        );
      default:
        throw connectionError(COMMAND_INVALID, `unimplemented method`);
    }
  }

  /** basic.ack, nack and reject: settled at once, or held until tx.commit. */
  private settle(
    deliveryTag: number,
    isMultiple: boolean,
    action: number,
    methodName: string,
  ): void {
    this.consuming.checkUnacked(deliveryTag, isMultiple, methodName);
    if (this.transaction !== null) this.transaction.holdSettles(deliveryTag, isMultiple, action);
    else this.consuming.settle(deliveryTag, isMultiple, action);
  }

  // ---------------------------------------------------------------- teardown

  /**
   * Releases everything the channel holds: consumers leave their queues, unacked deliveries go
   * back (the shards requeue them in order), held transaction work is dropped.
   */
  release(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.isClosing = true;
    this.replies.stop();
    this.transaction?.release();
    this.consuming.release();
  }
}
