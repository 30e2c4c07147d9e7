// The network thread's public surface.

export { Broker, startBroker, WARREN_VERSION, type RunningBroker } from './broker.js';
export { type BrokerOptions, defaultOptions, resolveOptions } from './options.js';
export { hashPassword } from './access-control.js';
export type { Definitions } from './definitions.js';
