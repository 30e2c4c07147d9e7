// Management on every address (::, the default bind): reachable over IPv4 and IPv6 loopback, and
// guest, a loopback-only user, is recognised as local however the HTTP server spells the peer.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

describe('management over both address families', () => {
  let broker: TestBroker;

  beforeAll(async () => {
    broker = await startTestBroker({ bind: '::', shardCount: 1 });
  });

  afterAll(async () => {
    await broker?.close();
  });

  // Regression test. The bug was: uWebSockets.js reports an IPv4 peer of a :: socket as
  // 0000:...:ffff:7f00:0001, which the loopback check did not know, so guest got 401.
  it('answers guest from 127.0.0.1 and from ::1', { timeout: 15_000 }, async () => {
    const authorization = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
    for (const host of ['127.0.0.1', '[::1]']) {
      const response = await fetch(`http://${host}:${broker.mgmtPort}/api/overview`, {
        headers: { authorization },
      });
      expect(response.status, host).toBe(200);
    }
  });
});
