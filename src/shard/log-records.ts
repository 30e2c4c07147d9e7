// The shard's record types in its log and their payload layouts (little-endian). The log itself
// sees only a type byte and opaque bytes; the meanings live here. A queue copy of a message is
// named by (queueId, seq): seq is the copy's place in its queue, so recovery can restore queue
// order whatever order records come back in (compaction moves records to the head).

/** f64 messageId, u16 refCount, refCount × (u32 queueId, f64 seq), message block */
export const LOG_MESSAGE = 1;
/** u32 count, count × (u32 queueId, f64 seq): those copies were acked or dropped */
export const LOG_SETTLED = 2;
/** u32 count, count × (u32 queueId, f64 seq, u32 deliveryCount): back in the queue, delivered that often */
export const LOG_REQUEUED = 3;
/** u32 count, count × (u32 queueId, f64 seq): delivered once more (a hint: a lost one only loses a redelivered flag) */
export const LOG_DELIVERED = 4;
/** u32 queueId: every copy in the queue is gone */
export const LOG_QUEUE_DELETED = 5;
/** u32 count, count × (u8 type, u32 bytes, payload): records that apply all together or not at all */
export const LOG_TRANSACTION = 6;
/** msgpackr { kind, key, value | null }: a durable definition put (value) or deleted (null) */
export const LOG_DEFINITION = 7;

/**
 * f64 messageId, u16 refCount, refCount × (u32 queueId, f64 seq, f64 expiresAtMs), message block:
 * LOG_MESSAGE for copies that expire (absolute times, so an expiry survives a restart and a
 * message that expired while the broker was down is dropped or dead-lettered when it starts).
 */
export const LOG_MESSAGE_TIMED = 8;

/**
 * f64 messageId, u16 0, message block: a transient message (or a persistent one in no durable
 * queue) written out because queued bodies are over the memory budget. Read back on delivery,
 * never recovered: what was transient does not survive a restart.
 */
export const LOG_PAGED = 9;

export const REF_BYTES = 12;
export const TIMED_REF_BYTES = 20;
export const REQUEUE_REF_BYTES = 16;
export const MESSAGE_HEADER_BYTES = 10;
export const NESTED_HEADER_BYTES = 5;
