// Shard liveness in the health checks: a shard thread that stops answering the network thread's
// pings fails /api/health/checks/virtual-hosts (RabbitMQ's check, which existing probes hit)
// and /api/health/checks/shards with 503 and a reason, and both pass again once it answers.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, STATS_POLL, startTestBroker, type TestBroker } from '../helpers/mgmt.js';
import { pollUntil } from '../helpers/poll.js';

describe('health checks: shard liveness', () => {
  let broker: TestBroker;

  beforeAll(async () => {
    broker = await startTestBroker({ shardCount: 2, shardPingTimeoutMs: 300 });
  });

  afterAll(async () => {
    await broker?.close();
  });

  it('passes while every shard answers', { timeout: 10_000 }, async () => {
    expect.hasAssertions();
    expect(await api(broker, 'GET', '/api/health/checks/virtual-hosts')).toMatchObject({
      status: 200,
      body: { status: 'ok' },
    });
    expect(await api(broker, 'GET', '/api/health/checks/shards')).toMatchObject({
      status: 200,
      body: {
        status: 'ok',
        shards: [
          { shard: 0, state: 'running' },
          { shard: 1, state: 'running' },
        ],
      },
    });
  });

  it(
    'fails with 503 and a reason while a shard is stuck, and passes again after',
    { timeout: 15_000 },
    async () => {
      expect.hasAssertions();
      broker.broker.blockShardForTest(1, 3000);
      const shards = await pollUntil(
        () => api(broker, 'GET', '/api/health/checks/shards'),
        (response) => response.status === 503,
        { ...STATS_POLL, timeoutMs: 2500 },
      );
      expect(shards.status).toBe(503);
      expect(shards.body).toMatchObject({
        status: 'failed',
        reason: expect.stringMatching(
          /^shard 1 has not answered a ping for \d+ ms \(timeout 300 ms\)$/,
        ),
        shards: [
          { shard: 0, state: 'running' },
          { shard: 1, state: 'unresponsive' },
        ],
      });
      const vhosts = await api(broker, 'GET', '/api/health/checks/virtual-hosts');
      expect(vhosts.status).toBe(503);
      expect(vhosts.body).toMatchObject({
        status: 'failed',
        reason: expect.stringContaining('Some virtual hosts are down: shard 1 has not answered'),
        'virtual-hosts': ['/'],
      });
      // The other checks do not depend on the shards.
      expect((await api(broker, 'GET', '/api/health/checks/alarms')).status).toBe(200);
      const recovered = await pollUntil(
        () => api(broker, 'GET', '/api/health/checks/shards'),
        (response) => response.status === 200,
        { ...STATS_POLL, timeoutMs: 8000 },
      );
      expect(recovered.body).toMatchObject({ status: 'ok' });
      expect((await api(broker, 'GET', '/api/health/checks/virtual-hosts')).status).toBe(200);
    },
  );
});
