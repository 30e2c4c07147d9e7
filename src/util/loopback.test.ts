import { describe, expect, it } from 'vitest';
import { isLoopbackAddress } from './loopback.js';

describe('isLoopbackAddress', () => {
  it('knows the local host in every spelling, and nothing else', () => {
    for (const address of [
      '127.0.0.1',
      '127.8.9.10',
      '::1',
      '::ffff:127.0.0.1',
      '0000:0000:0000:0000:0000:ffff:7f00:0001',
      '0000:0000:0000:0000:0000:0000:0000:0001',
    ])
      expect(isLoopbackAddress(address), address).toBe(true);
    for (const address of ['', '10.0.0.1', '::ffff:10.0.0.1', '::2', 'fe80::1', 'not an address'])
      expect(isLoopbackAddress(address), address).toBe(false);
  });
});
