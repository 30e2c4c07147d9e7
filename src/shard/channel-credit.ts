// Channel-wide prefetch (basic.qos global=true) as this shard sees it: the network thread owns
// the limit and hands each shard credit, one unit per delivery in ack mode to the channel's
// consumers. Shard thread only. Invariant: a shard never sits on credit it cannot use; it asks
// (amount 0) only when a consumer waits for credit alone, and at most once until some arrives.

import type { ActiveQueues } from './active-queues.js';
import type { Queue, ShardChannel } from './queue.js';
import type { ShardEvents } from './shard-events.js';

export class ChannelCredit {
  /** Channels under a channel-wide prefetch, whose credit this shard must not sit on. */
  private readonly limitedChannels = new Set<ShardChannel>();
  private readonly events: ShardEvents;
  private readonly active: ActiveQueues;

  constructor(events: ShardEvents, active: ActiveQueues) {
    this.events = events;
    this.active = active;
  }

  /** Whether any channel here is credit-limited (else nothing in this module has work). */
  get hasLimitedChannels(): boolean {
    return this.limitedChannels.size > 0;
  }

  /** The channel has (or no longer has) a channel-wide prefetch. */
  setLimited(channel: ShardChannel, isCreditLimited: boolean): void {
    channel.isCreditLimited = isCreditLimited;
    if (isCreditLimited) {
      this.limitedChannels.add(channel);
      return;
    }
    channel.credit = 0;
    channel.isCreditRequested = false;
    this.limitedChannels.delete(channel);
  }

  /** The channel closed: its credit is forgotten on both sides. */
  forget(channel: ShardChannel): void {
    this.limitedChannels.delete(channel);
  }

  /** A queue has messages but no consumer may take one: ask for credit where that is why. */
  requestFor(queue: Queue): void {
    if (queue.readyCount === 0) return;
    for (const consumer of queue.consumers) {
      const channel = consumer.channel;
      if (channel.isCreditRequested || !consumer.isWaitingForChannelCredit()) continue;
      if (!queue.isConsumerActive(consumer)) continue;
      channel.isCreditRequested = true;
      this.events.credit(channel.connectionId, channel.channelId, 0);
    }
  }

  /** The network thread gave `channel` credit (undefined: a channel closed meanwhile). */
  add(channel: ShardChannel | undefined, amount: number): void {
    // Credit for a channel closed meanwhile: the network thread forgot it too.
    if (channel === undefined || !channel.isCreditLimited) return;
    channel.credit += amount;
    channel.isCreditRequested = false;
    for (const consumer of channel.consumers) this.active.activate(consumer.queue);
  }

  /** Gives back credit a channel holds here while none of its consumers' queues has work. */
  returnIdle(): void {
    for (const channel of this.limitedChannels) {
      if (channel.credit === 0) continue;
      let hasWork = false;
      for (const consumer of channel.consumers) {
        if (consumer.queue.readyCount > 0 && consumer.queue.isConsumerActive(consumer)) {
          hasWork = true;
          break;
        }
      }
      if (hasWork) continue;
      this.events.credit(channel.connectionId, channel.channelId, channel.credit);
      channel.credit = 0;
    }
  }
}
