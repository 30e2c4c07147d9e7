// The network thread's end of one shard: it encodes commands into the shard's command ring,
// drains the shard's event ring, and pairs control replies with the requests that asked for
// them. Network thread only. Requests are answered in the order they were sent, because the
// shard applies its ring in order; that is what lets a channel pipeline publishes behind a
// queue.declare without reordering anything.

import { pack } from 'msgpackr';
import {
  CMD_CONNECTION_FLOW,
  CMD_CONTROL,
  CMD_CREDIT,
  CMD_PUBLISH,
  CMD_SETTLE,
  CMD_TRANSACTION,
  CONNECTION_FLOW_BYTES,
  CONTROL_HEADER_BYTES,
  type ControlRequest,
  type OutgoingPublish,
  CREDIT_BYTES,
  EVT_CONFIRM,
  EVT_CREDIT,
  EVT_DEAD_LETTER,
  EVT_DELIVER,
  EVT_GET_OK,
  EVT_REJECT,
  EVT_REPLY,
  getOkBlockStart,
  publishRecordBytes,
  readChannelId,
  readConfirmSeq,
  readConnectionId,
  readCreditAmount,
  readGetOkDeliveryId,
  readGetOkIsRedelivered,
  readGetOkMessageCount,
  readGetOkRequestId,
  readReplyCode,
  readReplyRequestId,
  readReplyText,
  readReplyValue,
  settleRecordBytes,
  type ShardThread,
  TRANSACTION_HEADER_BYTES,
  writeConnectionFlowRecord,
  writeControlHeader,
  writeCreditRecord,
  writePublishRecord,
  writeSettleRecord,
  writeTransactionHeader,
} from '../shard/api.js';
import { assert } from '../util/index.js';
import { RingOutbox } from '../util/index.js';
import { RingReader, type RingSink, RingWriter } from '../util/index.js';

/** What a control request's answer is handed to. */
export interface ReplyHandler {
  onReply(replyCode: number, value: number, replyText: string): void;
  /** Only basic.get asks for a message: bytes[start..end) is the message block. */
  onGetOk?(
    deliveryId: number,
    isRedelivered: boolean,
    messageCount: number,
    bytes: Buffer,
    start: number,
    end: number,
  ): void;
}

/** Where the network thread handles shard events (implemented by the broker). */
export interface ShardEventSink {
  /** Runs before each batch of events (the broker reads its batch clock there). */
  beforeEvents(): void;
  onDeliver(link: ShardLink, bytes: Buffer, start: number, end: number): void;
  onConfirm(link: ShardLink, connectionId: number, channelId: number, confirmSeq: number): void;
  onCredit(link: ShardLink, connectionId: number, channelId: number, amount: number): void;
  /** A shard dead-lettered a message: route it through its dead-letter exchange. */
  onDeadLetter(link: ShardLink, bytes: Buffer, start: number, end: number): void;
  /** A queue refused a confirmed publish (x-overflow reject-publish): it gets a basic.nack. */
  onReject(link: ShardLink, connectionId: number, channelId: number, confirmSeq: number): void;
}

/** Events taken per turn before the network thread returns to its sockets. */
const EVENTS_PER_BATCH = 4096;
/** Commands a shard may have left to take while heavy publishers read on (some pipelining). */
const COMMANDS_IN_FLIGHT_BYTES_MAX = 256 * 1024;

export class ShardLink implements RingSink {
  readonly shardIndex: number;
  readonly outbox: RingOutbox;
  private readonly events: RingReader;
  private readonly sink: ShardEventSink;
  private readonly pending = new Map<number, ReplyHandler>();
  private nextRequestId = 1;
  private isScheduled = false;
  private isSleeping = false;
  private isStopped = false;
  private readonly afterEvents: () => void;

  /**
   * `onUnblocked` runs when a full command ring has room again; `afterEvents` runs after each
   * batch of events (the broker flushes sockets there).
   */
  constructor(
    thread: ShardThread,
    sink: ShardEventSink,
    onUnblocked: () => void,
    afterEvents: () => void,
  ) {
    this.shardIndex = thread.shardIndex;
    this.outbox = new RingOutbox(new RingWriter(thread.commandRing), onUnblocked);
    this.events = new RingReader(thread.eventRing);
    this.sink = sink;
    this.afterEvents = afterEvents;
    this.schedule();
  }

  get pendingRequests(): number {
    return this.pending.size;
  }

  get eventRingUsedBytes(): number {
    return this.events.usedBytes();
  }

  stop(): void {
    this.isStopped = true;
  }

  /** Writes `publish` for the queues `queueIds[0..queueCount)` of this shard. */
  publish(publish: OutgoingPublish, queueIds: Uint32Array, queueCount: number): void {
    const outbox = this.outbox;
    const size = publishRecordBytes(publish, queueCount);
    const start = outbox.begin(size);
    const end = writePublishRecord(outbox.target, start, publish, queueIds, queueCount);
    assert(end === start + size, 'publish record size');
    outbox.end(CMD_PUBLISH, start, end);
  }

  /**
   * Sends a committed transaction's records for this shard (nested CMD_PUBLISH and CMD_SETTLE
   * payloads, each prefixed by u8 type and u32 bytes) as one CMD_TRANSACTION: the shard applies
   * and logs them together and answers once they are durable.
   */
  transaction(records: readonly Buffer[], handler: ReplyHandler): void {
    const requestId = this.nextRequestId++;
    if (this.nextRequestId > 0xffff_ffff) this.nextRequestId = 1;
    this.pending.set(requestId, handler);
    let size = TRANSACTION_HEADER_BYTES;
    for (const record of records) size += record.length;
    const outbox = this.outbox;
    const start = outbox.begin(size);
    const target = outbox.target;
    let at = writeTransactionHeader(target, start, requestId, records.length);
    for (const record of records) at += record.copy(target, at);
    outbox.end(CMD_TRANSACTION, start, at);
  }

  /** Writes one settle command for `deliveryIds[0..count)`. */
  settle(
    connectionId: number,
    channelId: number,
    action: number,
    deliveryIds: Float64Array,
    count: number,
  ): void {
    const outbox = this.outbox;
    const start = outbox.begin(settleRecordBytes(count));
    const end = writeSettleRecord(
      outbox.target,
      start,
      connectionId,
      channelId,
      action,
      deliveryIds,
      count,
    );
    outbox.end(CMD_SETTLE, start, end);
  }

  /** Sends a control request; `handler` (if any) gets the shard's answer. */
  control(request: ControlRequest, handler: ReplyHandler | null): void {
    let requestId = 0;
    if (handler !== null) {
      requestId = this.nextRequestId++;
      if (this.nextRequestId > 0xffff_ffff) this.nextRequestId = 1;
      this.pending.set(requestId, handler);
    }
    const payload = pack(request);
    const outbox = this.outbox;
    const start = outbox.begin(CONTROL_HEADER_BYTES + payload.length);
    const target = outbox.target;
    const payloadStart = writeControlHeader(target, start, requestId);
    outbox.end(CMD_CONTROL, start, payloadStart + payload.copy(target, payloadStart));
  }

  /** Sends a control request and resolves with its reply (control path only). */
  request(
    request: ControlRequest,
  ): Promise<{ replyCode: number; value: number; replyText: string }> {
    return new Promise((resolve) => {
      this.control(request, {
        onReply: (replyCode, value, replyText) => resolve({ replyCode, value, replyText }),
      });
    });
  }

  /** Gives a channel credit for its channel-wide prefetch. */
  credit(connectionId: number, channelId: number, amount: number): void {
    const outbox = this.outbox;
    const start = outbox.begin(CREDIT_BYTES);
    const end = writeCreditRecord(outbox.target, start, connectionId, channelId, amount);
    outbox.end(CMD_CREDIT, start, end);
  }

  connectionFlow(connectionId: number, isPaused: boolean): void {
    const outbox = this.outbox;
    const start = outbox.begin(CONNECTION_FLOW_BYTES);
    const end = writeConnectionFlowRecord(outbox.target, start, connectionId, isPaused);
    outbox.end(CMD_CONNECTION_FLOW, start, end);
  }

  /** Wakes the shard if commands were written since the last wake. */
  flush(): void {
    this.outbox.flush();
  }

  onRecord(type: number, bytes: Buffer, start: number, end: number): void {
    switch (type) {
      case EVT_DELIVER:
        this.sink.onDeliver(this, bytes, start, end);
        return;
      case EVT_CONFIRM:
        this.sink.onConfirm(
          this,
          readConnectionId(bytes, start),
          readChannelId(bytes, start),
          readConfirmSeq(bytes, start),
        );
        return;
      case EVT_DEAD_LETTER:
        this.sink.onDeadLetter(this, bytes, start, end);
        return;
      case EVT_REJECT:
        this.sink.onReject(
          this,
          readConnectionId(bytes, start),
          readChannelId(bytes, start),
          readConfirmSeq(bytes, start),
        );
        return;
      case EVT_CREDIT:
        this.sink.onCredit(
          this,
          readConnectionId(bytes, start),
          readChannelId(bytes, start),
          readCreditAmount(bytes, start),
        );
        return;
      case EVT_REPLY: {
        const handler = this.takeHandler(readReplyRequestId(bytes, start));
        handler.onReply(
          readReplyCode(bytes, start),
          readReplyValue(bytes, start),
          readReplyText(bytes, start, end),
        );
        return;
      }
      case EVT_GET_OK: {
        const handler = this.takeHandler(readGetOkRequestId(bytes, start));
        assert(handler.onGetOk !== undefined, 'get-ok for a request that is not a get');
        handler.onGetOk(
          readGetOkDeliveryId(bytes, start),
          readGetOkIsRedelivered(bytes, start),
          readGetOkMessageCount(bytes, start),
          bytes,
          getOkBlockStart(start),
          end,
        );
        return;
      }
      default:
        assert(false, `unknown event record ${type}`);
    }
  }

  private takeHandler(requestId: number): ReplyHandler {
    const handler = this.pending.get(requestId);
    assert(handler !== undefined, `reply to unknown request ${requestId}`);
    this.pending.delete(requestId);
    return handler;
  }

  /** Events wait in the shard's ring: this thread is behind on deliveries and replies. */
  get hasPendingEvents(): boolean {
    return !this.isStopped && this.events.hasRecords();
  }

  /** More commands than a turn's worth wait for the shard (their deliveries are yet to come). */
  get hasPendingCommands(): boolean {
    if (this.isStopped) return false;
    return this.outbox.ringUsedBytes > COMMANDS_IN_FLIGHT_BYTES_MAX || this.outbox.isBlocked;
  }

  private schedule(): void {
    if (this.isScheduled || this.isStopped) return;
    this.isScheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.isScheduled = false;
    if (this.isStopped) return;
    this.sink.beforeEvents();
    const taken = this.events.poll(this, EVENTS_PER_BATCH);
    this.afterEvents();
    if (taken === EVENTS_PER_BATCH || this.events.hasRecords()) {
      this.schedule();
      return;
    }
    if (this.isSleeping) return;
    this.isSleeping = true;
    void this.events.waitForRecords().then(() => {
      this.isSleeping = false;
      this.schedule();
    });
  }
}
