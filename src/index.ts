// Warren's public entry: `import { startBroker } from 'warren'` runs the broker in-process.

export { BrokerStartError, startBroker, type RunningBroker } from './start-broker.js';
export { type BrokerOptions, SettingError } from './net/index.js';
