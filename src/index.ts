// Warren's public entry: `import { startBroker } from 'warren'` runs the broker in-process.

export {
  BrokerStartError,
  startBroker,
  type BrokerOptions,
  type ResolvedBrokerOptions,
  type RunningBroker,
} from './start-broker.js';
export { SettingError } from './net/index.js';
