// Dead-lettered messages on their way back in: a shard hands over a message that died (already
// carrying its new x-death headers, with the dead-letter exchange and routing key in its block)
// and it is routed like a publish without confirms. Network thread only. As in RabbitMQ, a
// missing dead-letter exchange or no matching binding drops it, and so does a cycle that no
// rejection broke (rabbit_dead_letter:detect_cycles).

import { decodeProperties } from '../codec/index.js';
import {
  DEAD_LETTER_REJECTED,
  deadLetterBlockStart,
  deadLetterVhostStart,
  MessageBlockView,
  OutgoingPublish,
  readDeadLetterFlags,
  readDeadLetterReason,
} from '../shard/api.js';
import type { QueueRecord } from './exchange.js';
import type { Router } from './router.js';
import { senderSelectedRoutes } from './sender-selected.js';
import type { ShardLink } from './shard-link.js';
import type { VirtualHost } from './vhost.js';

export class DeadLetterRouting {
  private readonly vhosts: ReadonlyMap<string, VirtualHost>;
  private readonly router: Router;
  private readonly links: readonly ShardLink[];
  private readonly view = new MessageBlockView();
  private readonly queueIds = new Uint32Array(1024);
  private readonly outgoing = new OutgoingPublish();

  constructor(
    vhosts: ReadonlyMap<string, VirtualHost>,
    router: Router,
    links: readonly ShardLink[],
  ) {
    this.vhosts = vhosts;
    this.router = router;
    this.links = links;
  }

  /** Routes the EVT_DEAD_LETTER record at bytes[start, end). */
  route(bytes: Buffer, start: number, end: number): void {
    const reason = readDeadLetterReason(bytes, start);
    const flags = readDeadLetterFlags(bytes, start);
    const blockStart = deadLetterBlockStart(bytes, start);
    const vhost = this.vhosts.get(bytes.toString('utf8', deadLetterVhostStart(start), blockStart));
    if (vhost === undefined) return;
    const view = this.view.read(bytes, blockStart, end);
    const exchange = vhost.exchanges.get(
      bytes.toString('utf8', view.exchangeStart, view.exchangeEnd),
    );
    if (exchange === undefined) return;
    // Without a dead-letter routing key the message keeps its CC header, and its keys route it
    // again (the shard removed CC otherwise; BCC never reaches a stored message).
    const ccKeys =
      senderSelectedRoutes(bytes, view.propertiesStart, view.propertiesEnd, true)?.keys ?? null;
    const routed = this.router.route(
      vhost,
      exchange,
      bytes.toString('utf8', view.routingKeyStart, view.routingKeyEnd),
      bytes,
      view.propertiesStart,
      view.propertiesEnd,
      ccKeys,
    );
    if (routed.length === 0) return;
    let queues: QueueRecord[] = routed;
    if (reason !== DEAD_LETTER_REJECTED) {
      const deaths = decodeProperties(bytes, view.propertiesStart, view.propertiesEnd).headers?.[
        'x-death'
      ];
      if (Array.isArray(deaths))
        queues = routed.filter((queue) => !isDeathCycle(queue.name, deaths));
    }
    // Connection 0 is nobody: no confirm or credit event can come back to it.
    const outgoing = this.outgoing.setMessage(
      bytes.subarray(blockStart, view.routingKeyEnd),
      view.routingKeyEnd - blockStart,
      bytes.subarray(view.propertiesStart, view.propertiesEnd),
      view.propertiesEnd - view.propertiesStart,
      bytes,
      view.bodyStart,
      view.bodyEnd,
    );
    outgoing.flags = flags;
    const ids = this.queueIds;
    for (let shardIndex = 0; shardIndex < this.links.length; shardIndex++) {
      let count = 0;
      for (let i = 0; i < queues.length && count < ids.length; i++) {
        if (queues[i]!.shardIndex === shardIndex) ids[count++] = queues[i]!.queueId;
      }
      if (count > 0) this.links[shardIndex]!.publish(outgoing, ids, count);
    }
  }
}

/**
 * Whether dead-lettering to `queueName` closes a cycle with no rejection in it: the x-death
 * entries up to and including the newest one for that queue all have reasons other than
 * "rejected" (rabbit_dead_letter:is_cycle). Anything unexpected in the list means a client put
 * it there, so the cycle is not fully automatic.
 */
function isDeathCycle(queueName: string, deaths: unknown[]): boolean {
  for (const death of deaths) {
    if (death === null || typeof death !== 'object' || Array.isArray(death)) return false;
    const table = death as Record<string, unknown>;
    if (table['reason'] === 'rejected') return false;
    if (table['queue'] === queueName) return true;
  }
  return false;
}
