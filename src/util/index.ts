// Dependency-free building blocks shared by every thread: assertions, FIFOs, heaps, and the
// SharedArrayBuffer ring with its outbox.

export { assert, InvariantError, unreachable } from './assert.js';
export { Fifo } from './fifo.js';
export { MinHeap } from './min-heap.js';
export { RingOutbox } from './ring-outbox.js';
export { allocateRing, RING_TYPE_MAX, RingReader, type RingSink, RingWriter } from './spsc-ring.js';
export { LatencyHistogram } from './latency-histogram.js';
export { isLoopbackAddress } from './loopback.js';
