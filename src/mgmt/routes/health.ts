// Health checks that follow the shards' liveness: RabbitMQ's /api/health/checks/virtual-hosts
// (what probes written for RabbitMQ already hit) and Warren's /api/health/checks/shards with
// each shard's state. A shard that died or left a ping unanswered past --shard-ping-timeout-ms
// fails both with 503 and a reason. Network thread only.

import type { ShardHealth } from '../../net/index.js';
import { type ApiContext, ok, type Route } from '../api-types.js';

function unhealthy(context: ApiContext): ShardHealth[] {
  return context.broker.shardHealth().filter((shard) => shard.state !== 'running');
}

export const healthRoutes: Route[] = [
  {
    // Every vhost's queues are spread over all shards, so one shard down puts every vhost down
    // (RabbitMQ's body: status, reason and the vhosts that are down).
    method: 'GET',
    path: '/api/health/checks/virtual-hosts',
    access: 'management',
    handle(context) {
      const down = unhealthy(context);
      if (down.length === 0) return ok({ status: 'ok' });
      return {
        status: 503,
        json: {
          status: 'failed',
          reason: `Some virtual hosts are down: ${down.map((shard) => shard.reason).join('; ')}`,
          'virtual-hosts': [...context.broker.vhosts.keys()],
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/api/health/checks/shards',
    access: 'management',
    handle(context) {
      const shards = context.broker.shardHealth().map((shard) => ({
        shard: shard.shardIndex,
        state: shard.state,
        ...(shard.reason === '' ? {} : { reason: shard.reason }),
      }));
      const down = unhealthy(context);
      if (down.length === 0) return ok({ status: 'ok', shards });
      return {
        status: 503,
        json: {
          status: 'failed',
          reason: down.map((shard) => shard.reason).join('; '),
          shards,
        },
      };
    },
  },
];
