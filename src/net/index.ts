// The network thread's public surface.

export { Broker, RABBITMQ_VERSION, WARREN_VERSION } from './broker.js';
export { ListenError, type ListenerSetting } from './listeners.js';
export {
  type BrokerOptions,
  defaultOptions,
  LIBRARY_LOG_LEVEL,
  readSettingValue,
  resolveOptions,
  type Setting,
  SettingError,
  type SettingNamer,
  SETTINGS,
  settingOf,
} from './options.js';
export {
  hashNewPassword,
  hashNewPasswordSync,
  hashPassword,
  SCRYPT_ALGORITHM,
} from './password-hashing.js';
export {
  isLogLevel,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type Logger,
  type LogLevel,
} from './logger.js';
export type { Definitions } from './definitions.js';
export type { ShardStats, QueueStats } from '../shard/api.js';
export { QueueRecord, Exchange, Binding } from './exchange.js';
export type { Connection } from './connection.js';
export type { ShardHealth } from './shard-liveness.js';
export type { Channel } from './channel.js';
export type { VirtualHost } from './vhost.js';
export type { User, Permission } from './access-control.js';
export type { ConsumerRecord } from './exchange.js';
export type { ChannelConsumer } from './consumer.js';
export * as operations from './operations.js';
export { OperationError, type GetAckMode, type MessagePropertiesJson } from './operations.js';
export { memoryLimitBytes, type AlarmResource, type AlarmLimits } from './resource-alarms.js';
export {
  type Policy,
  type PolicyTarget,
  policyForExchange,
  policyForQueue,
  effectiveQueueArguments,
} from './policies.js';
export { operatorPolicyParameter, policyJson, vhostLimitsParameter } from './definitions.js';
export { isVhostLimitName, type VhostLimitName, type VhostLimits } from './vhost-limits.js';
