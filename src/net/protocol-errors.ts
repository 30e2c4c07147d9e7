// Builders for the protocol errors the network thread raises, with RabbitMQ's reply texts
// ("NOT_FOUND - no queue 'q' in vhost '/'"), so clients and their logs read the same as with
// RabbitMQ. Each names the method that failed, as channel.close and connection.close carry it.

import {
  ChannelError,
  type ChannelReplyCode,
  ConnectionError,
  formatReplyText,
  type ReplyCode,
} from '../codec/index.js';

export function channelError(
  replyCode: ChannelReplyCode,
  text: string,
  classId = 0,
  methodId = 0,
): ChannelError {
  return new ChannelError(replyCode, formatReplyText(replyCode, text), classId, methodId);
}

export function connectionError(
  replyCode: ReplyCode,
  text: string,
  classId = 0,
  methodId = 0,
): ConnectionError {
  return new ConnectionError(replyCode, formatReplyText(replyCode, text), classId, methodId);
}

/** "queue 'q' in vhost '/'", RabbitMQ's way of naming a resource. */
export function resourceName(kind: 'queue' | 'exchange', name: string, vhost: string): string {
  return `${kind} '${name}' in vhost '${vhost}'`;
}
