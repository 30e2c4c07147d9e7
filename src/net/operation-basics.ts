// What every management operation shares: the error that carries an AMQP reply code to the
// HTTP layer, the conversion of the protocol errors the shared code paths throw, and the two
// lookups and the durability wait most operations start or end with. Network thread only.

import { AmqpError } from '../codec/index.js';
import type { Broker } from './broker.js';
import type { VirtualHost } from './vhost.js';

const NOT_FOUND = 404;

/** Not an AMQP code: the request itself is malformed (HTTP 400 in RabbitMQ's API). */
export const BAD_REQUEST = 400;

/** A management operation refused, with the AMQP reply code and RabbitMQ's reply text. */
export class OperationError extends Error {
  readonly replyCode: number;

  constructor(replyCode: number, text: string) {
    super(text);
    this.name = 'OperationError';
    this.replyCode = replyCode;
  }
}

/** Runs `action`, turning the protocol errors the shared code paths throw into OperationErrors. */
export function asOperation<T>(action: () => T): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof AmqpError) throw new OperationError(error.replyCode, error.replyText);
    throw error;
  }
}

/** Resolves once every definition change made so far is durable (shards woken first). */
export function whenDurable(broker: Broker): Promise<void> {
  broker.wakeShards();
  return new Promise((resolve) => broker.whenDefinitionsDurable(resolve));
}

export function vhostOrThrow(broker: Broker, name: string): VirtualHost {
  const vhost = broker.vhosts.get(name);
  if (vhost === undefined) throw new OperationError(NOT_FOUND, `no vhost '${name}'`);
  return vhost;
}
