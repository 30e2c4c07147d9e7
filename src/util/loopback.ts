// Whether a peer address is the local host: 127.0.0.0/8 and ::1, in any spelling (IPv4-mapped
// IPv6 such as ::ffff:127.0.0.1, or the fully written-out form some servers report). Any thread.

import { BlockList, isIPv6 } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

export function isLoopbackAddress(address: string): boolean {
  if (address === '') return false;
  return LOOPBACK.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
}
