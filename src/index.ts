// Warren's public entry: `import { startBroker } from 'warren'` runs the broker in-process.

export { startBroker, type RunningBroker } from './start-broker.js';
export type { BrokerOptions } from './net/index.js';
