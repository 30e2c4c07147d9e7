// generated, do not edit; run npm run gen:methods
// Source: src/codec/spec/amqp0-9-1.rabbit.xml, plus connection.blocked,
// unblocked, update-secret and update-secret-ok from RabbitMQ's codegen JSON, which the XML
// lacks. One interface, decoder and encoder per method, and the dispatch tables; pure
// functions over ByteReader and ByteWriter, any thread. Invariants: decoded methods never
// alias the input buffer (longstr fields are copied), and a payload decodes only when every
// byte is consumed, as RabbitMQ requires.

import { ByteReader } from './byte-reader.js';
import type { ByteWriter } from './byte-writer.js';
import { FRAME_ERROR, FRAME_METHOD, INTERNAL_ERROR, NOT_IMPLEMENTED } from './constants.js';
import { ConnectionError } from './errors.js';
import type { FieldTable } from './field-table.js';
import { beginFrame, endFrame } from './frame-writer.js';

/** connection.start (10, 10): sent by the server, synchronous. */
export interface ConnectionStart {
  method: 'connection.start';
  versionMajor: number;
  versionMinor: number;
  serverProperties: FieldTable;
  mechanisms: Buffer;
  locales: Buffer;
}

/** connection.start-ok (10, 11): sent by the client, synchronous. */
export interface ConnectionStartOk {
  method: 'connection.start-ok';
  clientProperties: FieldTable;
  mechanism: string;
  response: Buffer;
  locale: string;
}

/** connection.secure (10, 20): sent by the server, synchronous. */
export interface ConnectionSecure {
  method: 'connection.secure';
  challenge: Buffer;
}

/** connection.secure-ok (10, 21): sent by the client, synchronous. */
export interface ConnectionSecureOk {
  method: 'connection.secure-ok';
  response: Buffer;
}

/** connection.tune (10, 30): sent by the server, synchronous. */
export interface ConnectionTune {
  method: 'connection.tune';
  channelMax: number;
  frameMax: number;
  heartbeat: number;
}

/** connection.tune-ok (10, 31): sent by the client, synchronous. */
export interface ConnectionTuneOk {
  method: 'connection.tune-ok';
  channelMax: number;
  frameMax: number;
  heartbeat: number;
}

/** connection.open (10, 40): sent by the client, synchronous. */
export interface ConnectionOpen {
  method: 'connection.open';
  virtualHost: string;
}

/** connection.open-ok (10, 41): sent by the server, synchronous. */
export interface ConnectionOpenOk {
  method: 'connection.open-ok';
}

/** connection.close (10, 50): sent by either peer, synchronous. */
export interface ConnectionClose {
  method: 'connection.close';
  replyCode: number;
  replyText: string;
  classId: number;
  methodId: number;
}

/** connection.close-ok (10, 51): sent by either peer, synchronous. */
export interface ConnectionCloseOk {
  method: 'connection.close-ok';
}

/** connection.blocked (10, 60): sent by the server, RabbitMQ extension. */
export interface ConnectionBlocked {
  method: 'connection.blocked';
  reason: string;
}

/** connection.unblocked (10, 61): sent by the server, RabbitMQ extension. */
export interface ConnectionUnblocked {
  method: 'connection.unblocked';
}

/** connection.update-secret (10, 70): sent by the client, synchronous, RabbitMQ extension. */
export interface ConnectionUpdateSecret {
  method: 'connection.update-secret';
  newSecret: Buffer;
  reason: string;
}

/** connection.update-secret-ok (10, 71): sent by the server, synchronous, RabbitMQ extension. */
export interface ConnectionUpdateSecretOk {
  method: 'connection.update-secret-ok';
}

/** channel.open (20, 10): sent by the client, synchronous. */
export interface ChannelOpen {
  method: 'channel.open';
}

/** channel.open-ok (20, 11): sent by the server, synchronous. */
export interface ChannelOpenOk {
  method: 'channel.open-ok';
}

/** channel.flow (20, 20): sent by either peer, synchronous. */
export interface ChannelFlow {
  method: 'channel.flow';
  active: boolean;
}

/** channel.flow-ok (20, 21): sent by either peer. */
export interface ChannelFlowOk {
  method: 'channel.flow-ok';
  active: boolean;
}

/** channel.close (20, 40): sent by either peer, synchronous. */
export interface ChannelClose {
  method: 'channel.close';
  replyCode: number;
  replyText: string;
  classId: number;
  methodId: number;
}

/** channel.close-ok (20, 41): sent by either peer, synchronous. */
export interface ChannelCloseOk {
  method: 'channel.close-ok';
}

/** exchange.declare (40, 10): sent by the client, synchronous. */
export interface ExchangeDeclare {
  method: 'exchange.declare';
  exchange: string;
  type: string;
  passive: boolean;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  noWait: boolean;
  arguments: FieldTable;
}

/** exchange.declare-ok (40, 11): sent by the server, synchronous. */
export interface ExchangeDeclareOk {
  method: 'exchange.declare-ok';
}

/** exchange.delete (40, 20): sent by the client, synchronous. */
export interface ExchangeDelete {
  method: 'exchange.delete';
  exchange: string;
  ifUnused: boolean;
  noWait: boolean;
}

/** exchange.delete-ok (40, 21): sent by the server, synchronous. */
export interface ExchangeDeleteOk {
  method: 'exchange.delete-ok';
}

/** exchange.bind (40, 30): sent by the client, synchronous. */
export interface ExchangeBind {
  method: 'exchange.bind';
  destination: string;
  source: string;
  routingKey: string;
  noWait: boolean;
  arguments: FieldTable;
}

/** exchange.bind-ok (40, 31): sent by the server, synchronous. */
export interface ExchangeBindOk {
  method: 'exchange.bind-ok';
}

/** exchange.unbind (40, 40): sent by the client, synchronous. */
export interface ExchangeUnbind {
  method: 'exchange.unbind';
  destination: string;
  source: string;
  routingKey: string;
  noWait: boolean;
  arguments: FieldTable;
}

/** exchange.unbind-ok (40, 51): sent by the server, synchronous. */
export interface ExchangeUnbindOk {
  method: 'exchange.unbind-ok';
}

/** queue.declare (50, 10): sent by the client, synchronous. */
export interface QueueDeclare {
  method: 'queue.declare';
  queue: string;
  passive: boolean;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  noWait: boolean;
  arguments: FieldTable;
}

/** queue.declare-ok (50, 11): sent by the server, synchronous. */
export interface QueueDeclareOk {
  method: 'queue.declare-ok';
  queue: string;
  messageCount: number;
  consumerCount: number;
}

/** queue.bind (50, 20): sent by the client, synchronous. */
export interface QueueBind {
  method: 'queue.bind';
  queue: string;
  exchange: string;
  routingKey: string;
  noWait: boolean;
  arguments: FieldTable;
}

/** queue.bind-ok (50, 21): sent by the server, synchronous. */
export interface QueueBindOk {
  method: 'queue.bind-ok';
}

/** queue.purge (50, 30): sent by the client, synchronous. */
export interface QueuePurge {
  method: 'queue.purge';
  queue: string;
  noWait: boolean;
}

/** queue.purge-ok (50, 31): sent by the server, synchronous. */
export interface QueuePurgeOk {
  method: 'queue.purge-ok';
  messageCount: number;
}

/** queue.delete (50, 40): sent by the client, synchronous. */
export interface QueueDelete {
  method: 'queue.delete';
  queue: string;
  ifUnused: boolean;
  ifEmpty: boolean;
  noWait: boolean;
}

/** queue.delete-ok (50, 41): sent by the server, synchronous. */
export interface QueueDeleteOk {
  method: 'queue.delete-ok';
  messageCount: number;
}

/** queue.unbind (50, 50): sent by the client, synchronous. */
export interface QueueUnbind {
  method: 'queue.unbind';
  queue: string;
  exchange: string;
  routingKey: string;
  arguments: FieldTable;
}

/** queue.unbind-ok (50, 51): sent by the server, synchronous. */
export interface QueueUnbindOk {
  method: 'queue.unbind-ok';
}

/** basic.qos (60, 10): sent by the client, synchronous. */
export interface BasicQos {
  method: 'basic.qos';
  prefetchSize: number;
  prefetchCount: number;
  global: boolean;
}

/** basic.qos-ok (60, 11): sent by the server, synchronous. */
export interface BasicQosOk {
  method: 'basic.qos-ok';
}

/** basic.consume (60, 20): sent by the client, synchronous. */
export interface BasicConsume {
  method: 'basic.consume';
  queue: string;
  consumerTag: string;
  noLocal: boolean;
  noAck: boolean;
  exclusive: boolean;
  noWait: boolean;
  arguments: FieldTable;
}

/** basic.consume-ok (60, 21): sent by the server, synchronous. */
export interface BasicConsumeOk {
  method: 'basic.consume-ok';
  consumerTag: string;
}

/** basic.cancel (60, 30): sent by either peer, synchronous. */
export interface BasicCancel {
  method: 'basic.cancel';
  consumerTag: string;
  noWait: boolean;
}

/** basic.cancel-ok (60, 31): sent by either peer, synchronous. */
export interface BasicCancelOk {
  method: 'basic.cancel-ok';
  consumerTag: string;
}

/** basic.publish (60, 40): sent by the client, carries content. */
export interface BasicPublish {
  method: 'basic.publish';
  exchange: string;
  routingKey: string;
  mandatory: boolean;
  immediate: boolean;
}

/** basic.return (60, 50): sent by the server, carries content. */
export interface BasicReturn {
  method: 'basic.return';
  replyCode: number;
  replyText: string;
  exchange: string;
  routingKey: string;
}

/** basic.deliver (60, 60): sent by the server, carries content. */
export interface BasicDeliver {
  method: 'basic.deliver';
  consumerTag: string;
  deliveryTag: number;
  redelivered: boolean;
  exchange: string;
  routingKey: string;
}

/** basic.get (60, 70): sent by the client, synchronous. */
export interface BasicGet {
  method: 'basic.get';
  queue: string;
  noAck: boolean;
}

/** basic.get-ok (60, 71): sent by the server, synchronous, carries content. */
export interface BasicGetOk {
  method: 'basic.get-ok';
  deliveryTag: number;
  redelivered: boolean;
  exchange: string;
  routingKey: string;
  messageCount: number;
}

/** basic.get-empty (60, 72): sent by the server, synchronous. */
export interface BasicGetEmpty {
  method: 'basic.get-empty';
}

/** basic.ack (60, 80): sent by either peer. */
export interface BasicAck {
  method: 'basic.ack';
  deliveryTag: number;
  multiple: boolean;
}

/** basic.reject (60, 90): sent by the client. */
export interface BasicReject {
  method: 'basic.reject';
  deliveryTag: number;
  requeue: boolean;
}

/** basic.recover-async (60, 100): sent by the client. */
export interface BasicRecoverAsync {
  method: 'basic.recover-async';
  requeue: boolean;
}

/** basic.recover (60, 110): sent by the client. */
export interface BasicRecover {
  method: 'basic.recover';
  requeue: boolean;
}

/** basic.recover-ok (60, 111): sent by the server, synchronous. */
export interface BasicRecoverOk {
  method: 'basic.recover-ok';
}

/** basic.nack (60, 120): sent by either peer. */
export interface BasicNack {
  method: 'basic.nack';
  deliveryTag: number;
  multiple: boolean;
  requeue: boolean;
}

/** confirm.select (85, 10): sent by the client, synchronous. */
export interface ConfirmSelect {
  method: 'confirm.select';
  nowait: boolean;
}

/** confirm.select-ok (85, 11): sent by the server, synchronous. */
export interface ConfirmSelectOk {
  method: 'confirm.select-ok';
}

/** tx.select (90, 10): sent by the client, synchronous. */
export interface TxSelect {
  method: 'tx.select';
}

/** tx.select-ok (90, 11): sent by the server, synchronous. */
export interface TxSelectOk {
  method: 'tx.select-ok';
}

/** tx.commit (90, 20): sent by the client, synchronous. */
export interface TxCommit {
  method: 'tx.commit';
}

/** tx.commit-ok (90, 21): sent by the server, synchronous. */
export interface TxCommitOk {
  method: 'tx.commit-ok';
}

/** tx.rollback (90, 30): sent by the client, synchronous. */
export interface TxRollback {
  method: 'tx.rollback';
}

/** tx.rollback-ok (90, 31): sent by the server, synchronous. */
export interface TxRollbackOk {
  method: 'tx.rollback-ok';
}

/** Every AMQP 0-9-1 method, discriminated by `method` (the spec name `class.method`). */
export type AmqpMethod =
  | ConnectionStart
  | ConnectionStartOk
  | ConnectionSecure
  | ConnectionSecureOk
  | ConnectionTune
  | ConnectionTuneOk
  | ConnectionOpen
  | ConnectionOpenOk
  | ConnectionClose
  | ConnectionCloseOk
  | ConnectionBlocked
  | ConnectionUnblocked
  | ConnectionUpdateSecret
  | ConnectionUpdateSecretOk
  | ChannelOpen
  | ChannelOpenOk
  | ChannelFlow
  | ChannelFlowOk
  | ChannelClose
  | ChannelCloseOk
  | ExchangeDeclare
  | ExchangeDeclareOk
  | ExchangeDelete
  | ExchangeDeleteOk
  | ExchangeBind
  | ExchangeBindOk
  | ExchangeUnbind
  | ExchangeUnbindOk
  | QueueDeclare
  | QueueDeclareOk
  | QueueBind
  | QueueBindOk
  | QueuePurge
  | QueuePurgeOk
  | QueueDelete
  | QueueDeleteOk
  | QueueUnbind
  | QueueUnbindOk
  | BasicQos
  | BasicQosOk
  | BasicConsume
  | BasicConsumeOk
  | BasicCancel
  | BasicCancelOk
  | BasicPublish
  | BasicReturn
  | BasicDeliver
  | BasicGet
  | BasicGetOk
  | BasicGetEmpty
  | BasicAck
  | BasicReject
  | BasicRecoverAsync
  | BasicRecover
  | BasicRecoverOk
  | BasicNack
  | ConfirmSelect
  | ConfirmSelectOk
  | TxSelect
  | TxSelectOk
  | TxCommit
  | TxCommitOk
  | TxRollback
  | TxRollbackOk;

export type AmqpMethodName = AmqpMethod['method'];

/** The method interface for one method name. */
export type AmqpMethodOf<N extends AmqpMethodName> = Extract<AmqpMethod, { method: N }>;

export interface MethodInfo {
  readonly classId: number;
  readonly methodId: number;
  /** The spec marks the method synchronous: it expects a reply, or is one. */
  readonly isSynchronous: boolean;
  /** A content header and body frames follow the method frame. */
  readonly hasContent: boolean;
}

export const METHOD_IDS: Readonly<Record<AmqpMethodName, MethodInfo>> = {
  'connection.start': { classId: 10, methodId: 10, isSynchronous: true, hasContent: false },
  'connection.start-ok': { classId: 10, methodId: 11, isSynchronous: true, hasContent: false },
  'connection.secure': { classId: 10, methodId: 20, isSynchronous: true, hasContent: false },
  'connection.secure-ok': { classId: 10, methodId: 21, isSynchronous: true, hasContent: false },
  'connection.tune': { classId: 10, methodId: 30, isSynchronous: true, hasContent: false },
  'connection.tune-ok': { classId: 10, methodId: 31, isSynchronous: true, hasContent: false },
  'connection.open': { classId: 10, methodId: 40, isSynchronous: true, hasContent: false },
  'connection.open-ok': { classId: 10, methodId: 41, isSynchronous: true, hasContent: false },
  'connection.close': { classId: 10, methodId: 50, isSynchronous: true, hasContent: false },
  'connection.close-ok': { classId: 10, methodId: 51, isSynchronous: true, hasContent: false },
  'connection.blocked': { classId: 10, methodId: 60, isSynchronous: false, hasContent: false },
  'connection.unblocked': { classId: 10, methodId: 61, isSynchronous: false, hasContent: false },
  'connection.update-secret': { classId: 10, methodId: 70, isSynchronous: true, hasContent: false },
  'connection.update-secret-ok': {
    classId: 10,
    methodId: 71,
    isSynchronous: true,
    hasContent: false,
  },
  'channel.open': { classId: 20, methodId: 10, isSynchronous: true, hasContent: false },
  'channel.open-ok': { classId: 20, methodId: 11, isSynchronous: true, hasContent: false },
  'channel.flow': { classId: 20, methodId: 20, isSynchronous: true, hasContent: false },
  'channel.flow-ok': { classId: 20, methodId: 21, isSynchronous: false, hasContent: false },
  'channel.close': { classId: 20, methodId: 40, isSynchronous: true, hasContent: false },
  'channel.close-ok': { classId: 20, methodId: 41, isSynchronous: true, hasContent: false },
  'exchange.declare': { classId: 40, methodId: 10, isSynchronous: true, hasContent: false },
  'exchange.declare-ok': { classId: 40, methodId: 11, isSynchronous: true, hasContent: false },
  'exchange.delete': { classId: 40, methodId: 20, isSynchronous: true, hasContent: false },
  'exchange.delete-ok': { classId: 40, methodId: 21, isSynchronous: true, hasContent: false },
  'exchange.bind': { classId: 40, methodId: 30, isSynchronous: true, hasContent: false },
  'exchange.bind-ok': { classId: 40, methodId: 31, isSynchronous: true, hasContent: false },
  'exchange.unbind': { classId: 40, methodId: 40, isSynchronous: true, hasContent: false },
  'exchange.unbind-ok': { classId: 40, methodId: 51, isSynchronous: true, hasContent: false },
  'queue.declare': { classId: 50, methodId: 10, isSynchronous: true, hasContent: false },
  'queue.declare-ok': { classId: 50, methodId: 11, isSynchronous: true, hasContent: false },
  'queue.bind': { classId: 50, methodId: 20, isSynchronous: true, hasContent: false },
  'queue.bind-ok': { classId: 50, methodId: 21, isSynchronous: true, hasContent: false },
  'queue.purge': { classId: 50, methodId: 30, isSynchronous: true, hasContent: false },
  'queue.purge-ok': { classId: 50, methodId: 31, isSynchronous: true, hasContent: false },
  'queue.delete': { classId: 50, methodId: 40, isSynchronous: true, hasContent: false },
  'queue.delete-ok': { classId: 50, methodId: 41, isSynchronous: true, hasContent: false },
  'queue.unbind': { classId: 50, methodId: 50, isSynchronous: true, hasContent: false },
  'queue.unbind-ok': { classId: 50, methodId: 51, isSynchronous: true, hasContent: false },
  'basic.qos': { classId: 60, methodId: 10, isSynchronous: true, hasContent: false },
  'basic.qos-ok': { classId: 60, methodId: 11, isSynchronous: true, hasContent: false },
  'basic.consume': { classId: 60, methodId: 20, isSynchronous: true, hasContent: false },
  'basic.consume-ok': { classId: 60, methodId: 21, isSynchronous: true, hasContent: false },
  'basic.cancel': { classId: 60, methodId: 30, isSynchronous: true, hasContent: false },
  'basic.cancel-ok': { classId: 60, methodId: 31, isSynchronous: true, hasContent: false },
  'basic.publish': { classId: 60, methodId: 40, isSynchronous: false, hasContent: true },
  'basic.return': { classId: 60, methodId: 50, isSynchronous: false, hasContent: true },
  'basic.deliver': { classId: 60, methodId: 60, isSynchronous: false, hasContent: true },
  'basic.get': { classId: 60, methodId: 70, isSynchronous: true, hasContent: false },
  'basic.get-ok': { classId: 60, methodId: 71, isSynchronous: true, hasContent: true },
  'basic.get-empty': { classId: 60, methodId: 72, isSynchronous: true, hasContent: false },
  'basic.ack': { classId: 60, methodId: 80, isSynchronous: false, hasContent: false },
  'basic.reject': { classId: 60, methodId: 90, isSynchronous: false, hasContent: false },
  'basic.recover-async': { classId: 60, methodId: 100, isSynchronous: false, hasContent: false },
  'basic.recover': { classId: 60, methodId: 110, isSynchronous: false, hasContent: false },
  'basic.recover-ok': { classId: 60, methodId: 111, isSynchronous: true, hasContent: false },
  'basic.nack': { classId: 60, methodId: 120, isSynchronous: false, hasContent: false },
  'confirm.select': { classId: 85, methodId: 10, isSynchronous: true, hasContent: false },
  'confirm.select-ok': { classId: 85, methodId: 11, isSynchronous: true, hasContent: false },
  'tx.select': { classId: 90, methodId: 10, isSynchronous: true, hasContent: false },
  'tx.select-ok': { classId: 90, methodId: 11, isSynchronous: true, hasContent: false },
  'tx.commit': { classId: 90, methodId: 20, isSynchronous: true, hasContent: false },
  'tx.commit-ok': { classId: 90, methodId: 21, isSynchronous: true, hasContent: false },
  'tx.rollback': { classId: 90, methodId: 30, isSynchronous: true, hasContent: false },
  'tx.rollback-ok': { classId: 90, methodId: 31, isSynchronous: true, hasContent: false },
};

/** Wire types of method fields, after resolving spec domains. */
export type MethodFieldKind =
  'bit' | 'octet' | 'short' | 'long' | 'longlong' | 'timestamp' | 'shortstr' | 'longstr' | 'table';

export interface MethodFieldInfo {
  /** The camelCase property name on the method object. */
  readonly name: string;
  readonly kind: MethodFieldKind;
  /** The spec domain the field is declared with, for example `exchange-name`. */
  readonly domain: string;
}

/** The non-reserved fields of every method, in wire order. Reserved fields are omitted. */
export const METHOD_FIELDS: Readonly<Record<AmqpMethodName, readonly MethodFieldInfo[]>> = {
  'connection.start': [
    { name: 'versionMajor', kind: 'octet', domain: 'octet' },
    { name: 'versionMinor', kind: 'octet', domain: 'octet' },
    { name: 'serverProperties', kind: 'table', domain: 'peer-properties' },
    { name: 'mechanisms', kind: 'longstr', domain: 'longstr' },
    { name: 'locales', kind: 'longstr', domain: 'longstr' },
  ],
  'connection.start-ok': [
    { name: 'clientProperties', kind: 'table', domain: 'peer-properties' },
    { name: 'mechanism', kind: 'shortstr', domain: 'shortstr' },
    { name: 'response', kind: 'longstr', domain: 'longstr' },
    { name: 'locale', kind: 'shortstr', domain: 'shortstr' },
  ],
  'connection.secure': [{ name: 'challenge', kind: 'longstr', domain: 'longstr' }],
  'connection.secure-ok': [{ name: 'response', kind: 'longstr', domain: 'longstr' }],
  'connection.tune': [
    { name: 'channelMax', kind: 'short', domain: 'short' },
    { name: 'frameMax', kind: 'long', domain: 'long' },
    { name: 'heartbeat', kind: 'short', domain: 'short' },
  ],
  'connection.tune-ok': [
    { name: 'channelMax', kind: 'short', domain: 'short' },
    { name: 'frameMax', kind: 'long', domain: 'long' },
    { name: 'heartbeat', kind: 'short', domain: 'short' },
  ],
  'connection.open': [{ name: 'virtualHost', kind: 'shortstr', domain: 'path' }],
  'connection.open-ok': [],
  'connection.close': [
    { name: 'replyCode', kind: 'short', domain: 'reply-code' },
    { name: 'replyText', kind: 'shortstr', domain: 'reply-text' },
    { name: 'classId', kind: 'short', domain: 'class-id' },
    { name: 'methodId', kind: 'short', domain: 'method-id' },
  ],
  'connection.close-ok': [],
  'connection.blocked': [{ name: 'reason', kind: 'shortstr', domain: 'shortstr' }],
  'connection.unblocked': [],
  'connection.update-secret': [
    { name: 'newSecret', kind: 'longstr', domain: 'longstr' },
    { name: 'reason', kind: 'shortstr', domain: 'shortstr' },
  ],
  'connection.update-secret-ok': [],
  'channel.open': [],
  'channel.open-ok': [],
  'channel.flow': [{ name: 'active', kind: 'bit', domain: 'bit' }],
  'channel.flow-ok': [{ name: 'active', kind: 'bit', domain: 'bit' }],
  'channel.close': [
    { name: 'replyCode', kind: 'short', domain: 'reply-code' },
    { name: 'replyText', kind: 'shortstr', domain: 'reply-text' },
    { name: 'classId', kind: 'short', domain: 'class-id' },
    { name: 'methodId', kind: 'short', domain: 'method-id' },
  ],
  'channel.close-ok': [],
  'exchange.declare': [
    { name: 'exchange', kind: 'shortstr', domain: 'exchange-name' },
    { name: 'type', kind: 'shortstr', domain: 'shortstr' },
    { name: 'passive', kind: 'bit', domain: 'bit' },
    { name: 'durable', kind: 'bit', domain: 'bit' },
    { name: 'autoDelete', kind: 'bit', domain: 'bit' },
    { name: 'internal', kind: 'bit', domain: 'bit' },
    { name: 'noWait', kind: 'bit', domain: 'no-wait' },
    { name: 'arguments', kind: 'table', domain: 'table' },
  ],
  'exchange.declare-ok': [],
  'exchange.delete': [
    { name: 'exchange', kind: 'shortstr', domain: 'exchange-name' },
    { name: 'ifUnused', kind: 'bit', domain: 'bit' },
    { name: 'noWait', kind: 'bit', domain: 'no-wait' },
  ],
  'exchange.delete-ok': [],
  'exchange.bind': [
    { name: 'destination', kind: 'shortstr', domain: 'exchange-name' },
    { name: 'source', kind: 'shortstr', domain: 'exchange-name' },
    { name: 'routingKey', kind: 'shortstr', domain: 'shortstr' },
    { name: 'noWait', kind: 'bit', domain: 'no-wait' },
    { name: 'arguments', kind: 'table', domain: 'table' },
  ],
  'exchange.bind-ok': [],
  'exchange.unbind': [
    { name: 'destination', kind: 'shortstr', domain: 'exchange-name' },
    { name: 'source', kind: 'shortstr', domain: 'exchange-name' },
    { name: 'routingKey', kind: 'shortstr', domain: 'shortstr' },
    { name: 'noWait', kind: 'bit', domain: 'no-wait' },
    { name: 'arguments', kind: 'table', domain: 'table' },
  ],
  'exchange.unbind-ok': [],
  'queue.declare': [
    { name: 'queue', kind: 'shortstr', domain: 'queue-name' },
    { name: 'passive', kind: 'bit', domain: 'bit' },
    { name: 'durable', kind: 'bit', domain: 'bit' },
    { name: 'exclusive', kind: 'bit', domain: 'bit' },
    { name: 'autoDelete', kind: 'bit', domain: 'bit' },
    { name: 'noWait', kind: 'bit', domain: 'no-wait' },
    { name: 'arguments', kind: 'table', domain: 'table' },
  ],
  'queue.declare-ok': [
    { name: 'queue', kind: 'shortstr', domain: 'queue-name' },
    { name: 'messageCount', kind: 'long', domain: 'message-count' },
    { name: 'consumerCount', kind: 'long', domain: 'long' },
  ],
  'queue.bind': [
    { name: 'queue', kind: 'shortstr', domain: 'queue-name' },
    { name: 'exchange', kind: 'shortstr', domain: 'exchange-name' },
    { name: 'routingKey', kind: 'shortstr', domain: 'shortstr' },
    { name: 'noWait', kind: 'bit', domain: 'no-wait' },
    { name: 'arguments', kind: 'table', domain: 'table' },
  ],
  'queue.bind-ok': [],
  'queue.purge': [
    { name: 'queue', kind: 'shortstr', domain: 'queue-name' },
    { name: 'noWait', kind: 'bit', domain: 'no-wait' },
  ],
  'queue.purge-ok': [{ name: 'messageCount', kind: 'long', domain: 'message-count' }],
  'queue.delete': [
    { name: 'queue', kind: 'shortstr', domain: 'queue-name' },
    { name: 'ifUnused', kind: 'bit', domain: 'bit' },
    { name: 'ifEmpty', kind: 'bit', domain: 'bit' },
    { name: 'noWait', kind: 'bit', domain: 'no-wait' },
  ],
  'queue.delete-ok': [{ name: 'messageCount', kind: 'long', domain: 'message-count' }],
  'queue.unbind': [
    { name: 'queue', kind: 'shortstr', domain: 'queue-name' },
    { name: 'exchange', kind: 'shortstr', domain: 'exchange-name' },
    { name: 'routingKey', kind: 'shortstr', domain: 'shortstr' },
    { name: 'arguments', kind: 'table', domain: 'table' },
  ],
  'queue.unbind-ok': [],
  'basic.qos': [
    { name: 'prefetchSize', kind: 'long', domain: 'long' },
    { name: 'prefetchCount', kind: 'short', domain: 'short' },
    { name: 'global', kind: 'bit', domain: 'bit' },
  ],
  'basic.qos-ok': [],
  'basic.consume': [
    { name: 'queue', kind: 'shortstr', domain: 'queue-name' },
    { name: 'consumerTag', kind: 'shortstr', domain: 'consumer-tag' },
    { name: 'noLocal', kind: 'bit', domain: 'no-local' },
    { name: 'noAck', kind: 'bit', domain: 'no-ack' },
    { name: 'exclusive', kind: 'bit', domain: 'bit' },
    { name: 'noWait', kind: 'bit', domain: 'no-wait' },
    { name: 'arguments', kind: 'table', domain: 'table' },
  ],
  'basic.consume-ok': [{ name: 'consumerTag', kind: 'shortstr', domain: 'consumer-tag' }],
  'basic.cancel': [
    { name: 'consumerTag', kind: 'shortstr', domain: 'consumer-tag' },
    { name: 'noWait', kind: 'bit', domain: 'no-wait' },
  ],
  'basic.cancel-ok': [{ name: 'consumerTag', kind: 'shortstr', domain: 'consumer-tag' }],
  'basic.publish': [
    { name: 'exchange', kind: 'shortstr', domain: 'exchange-name' },
    { name: 'routingKey', kind: 'shortstr', domain: 'shortstr' },
    { name: 'mandatory', kind: 'bit', domain: 'bit' },
    { name: 'immediate', kind: 'bit', domain: 'bit' },
  ],
  'basic.return': [
    { name: 'replyCode', kind: 'short', domain: 'reply-code' },
    { name: 'replyText', kind: 'shortstr', domain: 'reply-text' },
    { name: 'exchange', kind: 'shortstr', domain: 'exchange-name' },
    { name: 'routingKey', kind: 'shortstr', domain: 'shortstr' },
  ],
  'basic.deliver': [
    { name: 'consumerTag', kind: 'shortstr', domain: 'consumer-tag' },
    { name: 'deliveryTag', kind: 'longlong', domain: 'delivery-tag' },
    { name: 'redelivered', kind: 'bit', domain: 'redelivered' },
    { name: 'exchange', kind: 'shortstr', domain: 'exchange-name' },
    { name: 'routingKey', kind: 'shortstr', domain: 'shortstr' },
  ],
  'basic.get': [
    { name: 'queue', kind: 'shortstr', domain: 'queue-name' },
    { name: 'noAck', kind: 'bit', domain: 'no-ack' },
  ],
  'basic.get-ok': [
    { name: 'deliveryTag', kind: 'longlong', domain: 'delivery-tag' },
    { name: 'redelivered', kind: 'bit', domain: 'redelivered' },
    { name: 'exchange', kind: 'shortstr', domain: 'exchange-name' },
    { name: 'routingKey', kind: 'shortstr', domain: 'shortstr' },
    { name: 'messageCount', kind: 'long', domain: 'message-count' },
  ],
  'basic.get-empty': [],
  'basic.ack': [
    { name: 'deliveryTag', kind: 'longlong', domain: 'delivery-tag' },
    { name: 'multiple', kind: 'bit', domain: 'bit' },
  ],
  'basic.reject': [
    { name: 'deliveryTag', kind: 'longlong', domain: 'delivery-tag' },
    { name: 'requeue', kind: 'bit', domain: 'bit' },
  ],
  'basic.recover-async': [{ name: 'requeue', kind: 'bit', domain: 'bit' }],
  'basic.recover': [{ name: 'requeue', kind: 'bit', domain: 'bit' }],
  'basic.recover-ok': [],
  'basic.nack': [
    { name: 'deliveryTag', kind: 'longlong', domain: 'delivery-tag' },
    { name: 'multiple', kind: 'bit', domain: 'bit' },
    { name: 'requeue', kind: 'bit', domain: 'bit' },
  ],
  'confirm.select': [{ name: 'nowait', kind: 'bit', domain: 'bit' }],
  'confirm.select-ok': [],
  'tx.select': [],
  'tx.select-ok': [],
  'tx.commit': [],
  'tx.commit-ok': [],
  'tx.rollback': [],
  'tx.rollback-ok': [],
};

/** Method keys (class id << 16 | method id), as read from the first 4 payload octets. */
export const METHOD_CONNECTION_START = 0x000a000a;
export const METHOD_CONNECTION_START_OK = 0x000a000b;
export const METHOD_CONNECTION_SECURE = 0x000a0014;
export const METHOD_CONNECTION_SECURE_OK = 0x000a0015;
export const METHOD_CONNECTION_TUNE = 0x000a001e;
export const METHOD_CONNECTION_TUNE_OK = 0x000a001f;
export const METHOD_CONNECTION_OPEN = 0x000a0028;
export const METHOD_CONNECTION_OPEN_OK = 0x000a0029;
export const METHOD_CONNECTION_CLOSE = 0x000a0032;
export const METHOD_CONNECTION_CLOSE_OK = 0x000a0033;
export const METHOD_CONNECTION_BLOCKED = 0x000a003c;
export const METHOD_CONNECTION_UNBLOCKED = 0x000a003d;
export const METHOD_CONNECTION_UPDATE_SECRET = 0x000a0046;
export const METHOD_CONNECTION_UPDATE_SECRET_OK = 0x000a0047;
export const METHOD_CHANNEL_OPEN = 0x0014000a;
export const METHOD_CHANNEL_OPEN_OK = 0x0014000b;
export const METHOD_CHANNEL_FLOW = 0x00140014;
export const METHOD_CHANNEL_FLOW_OK = 0x00140015;
export const METHOD_CHANNEL_CLOSE = 0x00140028;
export const METHOD_CHANNEL_CLOSE_OK = 0x00140029;
export const METHOD_EXCHANGE_DECLARE = 0x0028000a;
export const METHOD_EXCHANGE_DECLARE_OK = 0x0028000b;
export const METHOD_EXCHANGE_DELETE = 0x00280014;
export const METHOD_EXCHANGE_DELETE_OK = 0x00280015;
export const METHOD_EXCHANGE_BIND = 0x0028001e;
export const METHOD_EXCHANGE_BIND_OK = 0x0028001f;
export const METHOD_EXCHANGE_UNBIND = 0x00280028;
export const METHOD_EXCHANGE_UNBIND_OK = 0x00280033;
export const METHOD_QUEUE_DECLARE = 0x0032000a;
export const METHOD_QUEUE_DECLARE_OK = 0x0032000b;
export const METHOD_QUEUE_BIND = 0x00320014;
export const METHOD_QUEUE_BIND_OK = 0x00320015;
export const METHOD_QUEUE_PURGE = 0x0032001e;
export const METHOD_QUEUE_PURGE_OK = 0x0032001f;
export const METHOD_QUEUE_DELETE = 0x00320028;
export const METHOD_QUEUE_DELETE_OK = 0x00320029;
export const METHOD_QUEUE_UNBIND = 0x00320032;
export const METHOD_QUEUE_UNBIND_OK = 0x00320033;
export const METHOD_BASIC_QOS = 0x003c000a;
export const METHOD_BASIC_QOS_OK = 0x003c000b;
export const METHOD_BASIC_CONSUME = 0x003c0014;
export const METHOD_BASIC_CONSUME_OK = 0x003c0015;
export const METHOD_BASIC_CANCEL = 0x003c001e;
export const METHOD_BASIC_CANCEL_OK = 0x003c001f;
export const METHOD_BASIC_PUBLISH = 0x003c0028;
export const METHOD_BASIC_RETURN = 0x003c0032;
export const METHOD_BASIC_DELIVER = 0x003c003c;
export const METHOD_BASIC_GET = 0x003c0046;
export const METHOD_BASIC_GET_OK = 0x003c0047;
export const METHOD_BASIC_GET_EMPTY = 0x003c0048;
export const METHOD_BASIC_ACK = 0x003c0050;
export const METHOD_BASIC_REJECT = 0x003c005a;
export const METHOD_BASIC_RECOVER_ASYNC = 0x003c0064;
export const METHOD_BASIC_RECOVER = 0x003c006e;
export const METHOD_BASIC_RECOVER_OK = 0x003c006f;
export const METHOD_BASIC_NACK = 0x003c0078;
export const METHOD_CONFIRM_SELECT = 0x0055000a;
export const METHOD_CONFIRM_SELECT_OK = 0x0055000b;
export const METHOD_TX_SELECT = 0x005a000a;
export const METHOD_TX_SELECT_OK = 0x005a000b;
export const METHOD_TX_COMMIT = 0x005a0014;
export const METHOD_TX_COMMIT_OK = 0x005a0015;
export const METHOD_TX_ROLLBACK = 0x005a001e;
export const METHOD_TX_ROLLBACK_OK = 0x005a001f;

/** The key of a method: class id in the high 16 bits, method id in the low 16. */
export function methodKey(classId: number, methodId: number): number {
  return classId * 0x10000 + methodId;
}

/** The spec name (`class.method`) of a method id pair, or undefined when unknown. */
export function methodName(classId: number, methodId: number): AmqpMethodName | undefined {
  switch (methodKey(classId, methodId)) {
    case 0x000a000a:
      return 'connection.start';
    case 0x000a000b:
      return 'connection.start-ok';
    case 0x000a0014:
      return 'connection.secure';
    case 0x000a0015:
      return 'connection.secure-ok';
    case 0x000a001e:
      return 'connection.tune';
    case 0x000a001f:
      return 'connection.tune-ok';
    case 0x000a0028:
      return 'connection.open';
    case 0x000a0029:
      return 'connection.open-ok';
    case 0x000a0032:
      return 'connection.close';
    case 0x000a0033:
      return 'connection.close-ok';
    case 0x000a003c:
      return 'connection.blocked';
    case 0x000a003d:
      return 'connection.unblocked';
    case 0x000a0046:
      return 'connection.update-secret';
    case 0x000a0047:
      return 'connection.update-secret-ok';
    case 0x0014000a:
      return 'channel.open';
    case 0x0014000b:
      return 'channel.open-ok';
    case 0x00140014:
      return 'channel.flow';
    case 0x00140015:
      return 'channel.flow-ok';
    case 0x00140028:
      return 'channel.close';
    case 0x00140029:
      return 'channel.close-ok';
    case 0x0028000a:
      return 'exchange.declare';
    case 0x0028000b:
      return 'exchange.declare-ok';
    case 0x00280014:
      return 'exchange.delete';
    case 0x00280015:
      return 'exchange.delete-ok';
    case 0x0028001e:
      return 'exchange.bind';
    case 0x0028001f:
      return 'exchange.bind-ok';
    case 0x00280028:
      return 'exchange.unbind';
    case 0x00280033:
      return 'exchange.unbind-ok';
    case 0x0032000a:
      return 'queue.declare';
    case 0x0032000b:
      return 'queue.declare-ok';
    case 0x00320014:
      return 'queue.bind';
    case 0x00320015:
      return 'queue.bind-ok';
    case 0x0032001e:
      return 'queue.purge';
    case 0x0032001f:
      return 'queue.purge-ok';
    case 0x00320028:
      return 'queue.delete';
    case 0x00320029:
      return 'queue.delete-ok';
    case 0x00320032:
      return 'queue.unbind';
    case 0x00320033:
      return 'queue.unbind-ok';
    case 0x003c000a:
      return 'basic.qos';
    case 0x003c000b:
      return 'basic.qos-ok';
    case 0x003c0014:
      return 'basic.consume';
    case 0x003c0015:
      return 'basic.consume-ok';
    case 0x003c001e:
      return 'basic.cancel';
    case 0x003c001f:
      return 'basic.cancel-ok';
    case 0x003c0028:
      return 'basic.publish';
    case 0x003c0032:
      return 'basic.return';
    case 0x003c003c:
      return 'basic.deliver';
    case 0x003c0046:
      return 'basic.get';
    case 0x003c0047:
      return 'basic.get-ok';
    case 0x003c0048:
      return 'basic.get-empty';
    case 0x003c0050:
      return 'basic.ack';
    case 0x003c005a:
      return 'basic.reject';
    case 0x003c0064:
      return 'basic.recover-async';
    case 0x003c006e:
      return 'basic.recover';
    case 0x003c006f:
      return 'basic.recover-ok';
    case 0x003c0078:
      return 'basic.nack';
    case 0x0055000a:
      return 'confirm.select';
    case 0x0055000b:
      return 'confirm.select-ok';
    case 0x005a000a:
      return 'tx.select';
    case 0x005a000b:
      return 'tx.select-ok';
    case 0x005a0014:
      return 'tx.commit';
    case 0x005a0015:
      return 'tx.commit-ok';
    case 0x005a001e:
      return 'tx.rollback';
    case 0x005a001f:
      return 'tx.rollback-ok';
    default:
      return undefined;
  }
}

const sharedReader = new ByteReader();

/**
 * Decodes a method frame payload: class id, method id, then the fields. Throws ConnectionError
 * with FRAME_ERROR when the fields are malformed, truncated or followed by trailing bytes
 * (RabbitMQ: rabbit_misc:frame_error, "cannot decode"), and with NOT_IMPLEMENTED for an
 * unknown class or method id. Pass a per-connection reader to skip the module one.
 */
export function decodeMethod(
  buf: Buffer,
  start: number,
  end: number,
  reader: ByteReader = sharedReader,
): AmqpMethod {
  if (end - start < 4) {
    throw new ConnectionError(
      FRAME_ERROR,
      `FRAME_ERROR - method frame payload of ${end - start} bytes has no class and method id`,
    );
  }
  const classId = (buf[start]! << 8) | buf[start + 1]!;
  const methodId = (buf[start + 2]! << 8) | buf[start + 3]!;
  reader.reset(buf, start + 4, end);
  let decoded: AmqpMethod;
  switch (classId * 0x10000 + methodId) {
    case 0x000a000a:
      reader.setContext('connection.start', 10, 10);
      decoded = decodeConnectionStart(reader);
      break;
    case 0x000a000b:
      reader.setContext('connection.start-ok', 10, 11);
      decoded = decodeConnectionStartOk(reader);
      break;
    case 0x000a0014:
      reader.setContext('connection.secure', 10, 20);
      decoded = decodeConnectionSecure(reader);
      break;
    case 0x000a0015:
      reader.setContext('connection.secure-ok', 10, 21);
      decoded = decodeConnectionSecureOk(reader);
      break;
    case 0x000a001e:
      reader.setContext('connection.tune', 10, 30);
      decoded = decodeConnectionTune(reader);
      break;
    case 0x000a001f:
      reader.setContext('connection.tune-ok', 10, 31);
      decoded = decodeConnectionTuneOk(reader);
      break;
    case 0x000a0028:
      reader.setContext('connection.open', 10, 40);
      decoded = decodeConnectionOpen(reader);
      break;
    case 0x000a0029:
      reader.setContext('connection.open-ok', 10, 41);
      decoded = decodeConnectionOpenOk(reader);
      break;
    case 0x000a0032:
      reader.setContext('connection.close', 10, 50);
      decoded = decodeConnectionClose(reader);
      break;
    case 0x000a0033:
      reader.setContext('connection.close-ok', 10, 51);
      decoded = decodeConnectionCloseOk(reader);
      break;
    case 0x000a003c:
      reader.setContext('connection.blocked', 10, 60);
      decoded = decodeConnectionBlocked(reader);
      break;
    case 0x000a003d:
      reader.setContext('connection.unblocked', 10, 61);
      decoded = decodeConnectionUnblocked(reader);
      break;
    case 0x000a0046:
      reader.setContext('connection.update-secret', 10, 70);
      decoded = decodeConnectionUpdateSecret(reader);
      break;
    case 0x000a0047:
      reader.setContext('connection.update-secret-ok', 10, 71);
      decoded = decodeConnectionUpdateSecretOk(reader);
      break;
    case 0x0014000a:
      reader.setContext('channel.open', 20, 10);
      decoded = decodeChannelOpen(reader);
      break;
    case 0x0014000b:
      reader.setContext('channel.open-ok', 20, 11);
      decoded = decodeChannelOpenOk(reader);
      break;
    case 0x00140014:
      reader.setContext('channel.flow', 20, 20);
      decoded = decodeChannelFlow(reader);
      break;
    case 0x00140015:
      reader.setContext('channel.flow-ok', 20, 21);
      decoded = decodeChannelFlowOk(reader);
      break;
    case 0x00140028:
      reader.setContext('channel.close', 20, 40);
      decoded = decodeChannelClose(reader);
      break;
    case 0x00140029:
      reader.setContext('channel.close-ok', 20, 41);
      decoded = decodeChannelCloseOk(reader);
      break;
    case 0x0028000a:
      reader.setContext('exchange.declare', 40, 10);
      decoded = decodeExchangeDeclare(reader);
      break;
    case 0x0028000b:
      reader.setContext('exchange.declare-ok', 40, 11);
      decoded = decodeExchangeDeclareOk(reader);
      break;
    case 0x00280014:
      reader.setContext('exchange.delete', 40, 20);
      decoded = decodeExchangeDelete(reader);
      break;
    case 0x00280015:
      reader.setContext('exchange.delete-ok', 40, 21);
      decoded = decodeExchangeDeleteOk(reader);
      break;
    case 0x0028001e:
      reader.setContext('exchange.bind', 40, 30);
      decoded = decodeExchangeBind(reader);
      break;
    case 0x0028001f:
      reader.setContext('exchange.bind-ok', 40, 31);
      decoded = decodeExchangeBindOk(reader);
      break;
    case 0x00280028:
      reader.setContext('exchange.unbind', 40, 40);
      decoded = decodeExchangeUnbind(reader);
      break;
    case 0x00280033:
      reader.setContext('exchange.unbind-ok', 40, 51);
      decoded = decodeExchangeUnbindOk(reader);
      break;
    case 0x0032000a:
      reader.setContext('queue.declare', 50, 10);
      decoded = decodeQueueDeclare(reader);
      break;
    case 0x0032000b:
      reader.setContext('queue.declare-ok', 50, 11);
      decoded = decodeQueueDeclareOk(reader);
      break;
    case 0x00320014:
      reader.setContext('queue.bind', 50, 20);
      decoded = decodeQueueBind(reader);
      break;
    case 0x00320015:
      reader.setContext('queue.bind-ok', 50, 21);
      decoded = decodeQueueBindOk(reader);
      break;
    case 0x0032001e:
      reader.setContext('queue.purge', 50, 30);
      decoded = decodeQueuePurge(reader);
      break;
    case 0x0032001f:
      reader.setContext('queue.purge-ok', 50, 31);
      decoded = decodeQueuePurgeOk(reader);
      break;
    case 0x00320028:
      reader.setContext('queue.delete', 50, 40);
      decoded = decodeQueueDelete(reader);
      break;
    case 0x00320029:
      reader.setContext('queue.delete-ok', 50, 41);
      decoded = decodeQueueDeleteOk(reader);
      break;
    case 0x00320032:
      reader.setContext('queue.unbind', 50, 50);
      decoded = decodeQueueUnbind(reader);
      break;
    case 0x00320033:
      reader.setContext('queue.unbind-ok', 50, 51);
      decoded = decodeQueueUnbindOk(reader);
      break;
    case 0x003c000a:
      reader.setContext('basic.qos', 60, 10);
      decoded = decodeBasicQos(reader);
      break;
    case 0x003c000b:
      reader.setContext('basic.qos-ok', 60, 11);
      decoded = decodeBasicQosOk(reader);
      break;
    case 0x003c0014:
      reader.setContext('basic.consume', 60, 20);
      decoded = decodeBasicConsume(reader);
      break;
    case 0x003c0015:
      reader.setContext('basic.consume-ok', 60, 21);
      decoded = decodeBasicConsumeOk(reader);
      break;
    case 0x003c001e:
      reader.setContext('basic.cancel', 60, 30);
      decoded = decodeBasicCancel(reader);
      break;
    case 0x003c001f:
      reader.setContext('basic.cancel-ok', 60, 31);
      decoded = decodeBasicCancelOk(reader);
      break;
    case 0x003c0028:
      reader.setContext('basic.publish', 60, 40);
      decoded = decodeBasicPublish(reader);
      break;
    case 0x003c0032:
      reader.setContext('basic.return', 60, 50);
      decoded = decodeBasicReturn(reader);
      break;
    case 0x003c003c:
      reader.setContext('basic.deliver', 60, 60);
      decoded = decodeBasicDeliver(reader);
      break;
    case 0x003c0046:
      reader.setContext('basic.get', 60, 70);
      decoded = decodeBasicGet(reader);
      break;
    case 0x003c0047:
      reader.setContext('basic.get-ok', 60, 71);
      decoded = decodeBasicGetOk(reader);
      break;
    case 0x003c0048:
      reader.setContext('basic.get-empty', 60, 72);
      decoded = decodeBasicGetEmpty(reader);
      break;
    case 0x003c0050:
      reader.setContext('basic.ack', 60, 80);
      decoded = decodeBasicAck(reader);
      break;
    case 0x003c005a:
      reader.setContext('basic.reject', 60, 90);
      decoded = decodeBasicReject(reader);
      break;
    case 0x003c0064:
      reader.setContext('basic.recover-async', 60, 100);
      decoded = decodeBasicRecoverAsync(reader);
      break;
    case 0x003c006e:
      reader.setContext('basic.recover', 60, 110);
      decoded = decodeBasicRecover(reader);
      break;
    case 0x003c006f:
      reader.setContext('basic.recover-ok', 60, 111);
      decoded = decodeBasicRecoverOk(reader);
      break;
    case 0x003c0078:
      reader.setContext('basic.nack', 60, 120);
      decoded = decodeBasicNack(reader);
      break;
    case 0x0055000a:
      reader.setContext('confirm.select', 85, 10);
      decoded = decodeConfirmSelect(reader);
      break;
    case 0x0055000b:
      reader.setContext('confirm.select-ok', 85, 11);
      decoded = decodeConfirmSelectOk(reader);
      break;
    case 0x005a000a:
      reader.setContext('tx.select', 90, 10);
      decoded = decodeTxSelect(reader);
      break;
    case 0x005a000b:
      reader.setContext('tx.select-ok', 90, 11);
      decoded = decodeTxSelectOk(reader);
      break;
    case 0x005a0014:
      reader.setContext('tx.commit', 90, 20);
      decoded = decodeTxCommit(reader);
      break;
    case 0x005a0015:
      reader.setContext('tx.commit-ok', 90, 21);
      decoded = decodeTxCommitOk(reader);
      break;
    case 0x005a001e:
      reader.setContext('tx.rollback', 90, 30);
      decoded = decodeTxRollback(reader);
      break;
    case 0x005a001f:
      reader.setContext('tx.rollback-ok', 90, 31);
      decoded = decodeTxRollbackOk(reader);
      break;
    default:
      throw unknownMethod(classId, methodId);
  }
  reader.expectEnd();
  return decoded;
}

// RabbitMQ has no graceful answer here: rabbit_framing lookup_method_name exits with
// {unknown_method_id, Id}, which nothing in rabbit_reader catches, so the connection process dies
// and the socket closes without connection.close. LavinMQ closes with 540 NOT_IMPLEMENTED
// (AMQ::Protocol::Error::NotImplemented); we do the same so the client learns why.
function unknownMethod(classId: number, methodId: number): ConnectionError {
  return new ConnectionError(
    NOT_IMPLEMENTED,
    `NOT_IMPLEMENTED - unknown method id ${methodId} in class ${classId}`,
    classId,
    methodId,
  );
}

/** Writes a method payload: class id, method id and the fields. */
export function encodeMethodPayload(writer: ByteWriter, method: AmqpMethod): void {
  switch (method.method) {
    case 'connection.start':
      encodeConnectionStart(writer, method);
      return;
    case 'connection.start-ok':
      encodeConnectionStartOk(writer, method);
      return;
    case 'connection.secure':
      encodeConnectionSecure(writer, method);
      return;
    case 'connection.secure-ok':
      encodeConnectionSecureOk(writer, method);
      return;
    case 'connection.tune':
      encodeConnectionTune(writer, method);
      return;
    case 'connection.tune-ok':
      encodeConnectionTuneOk(writer, method);
      return;
    case 'connection.open':
      encodeConnectionOpen(writer, method);
      return;
    case 'connection.open-ok':
      encodeConnectionOpenOk(writer, method);
      return;
    case 'connection.close':
      encodeConnectionClose(writer, method);
      return;
    case 'connection.close-ok':
      encodeConnectionCloseOk(writer, method);
      return;
    case 'connection.blocked':
      encodeConnectionBlocked(writer, method);
      return;
    case 'connection.unblocked':
      encodeConnectionUnblocked(writer, method);
      return;
    case 'connection.update-secret':
      encodeConnectionUpdateSecret(writer, method);
      return;
    case 'connection.update-secret-ok':
      encodeConnectionUpdateSecretOk(writer, method);
      return;
    case 'channel.open':
      encodeChannelOpen(writer, method);
      return;
    case 'channel.open-ok':
      encodeChannelOpenOk(writer, method);
      return;
    case 'channel.flow':
      encodeChannelFlow(writer, method);
      return;
    case 'channel.flow-ok':
      encodeChannelFlowOk(writer, method);
      return;
    case 'channel.close':
      encodeChannelClose(writer, method);
      return;
    case 'channel.close-ok':
      encodeChannelCloseOk(writer, method);
      return;
    case 'exchange.declare':
      encodeExchangeDeclare(writer, method);
      return;
    case 'exchange.declare-ok':
      encodeExchangeDeclareOk(writer, method);
      return;
    case 'exchange.delete':
      encodeExchangeDelete(writer, method);
      return;
    case 'exchange.delete-ok':
      encodeExchangeDeleteOk(writer, method);
      return;
    case 'exchange.bind':
      encodeExchangeBind(writer, method);
      return;
    case 'exchange.bind-ok':
      encodeExchangeBindOk(writer, method);
      return;
    case 'exchange.unbind':
      encodeExchangeUnbind(writer, method);
      return;
    case 'exchange.unbind-ok':
      encodeExchangeUnbindOk(writer, method);
      return;
    case 'queue.declare':
      encodeQueueDeclare(writer, method);
      return;
    case 'queue.declare-ok':
      encodeQueueDeclareOk(writer, method);
      return;
    case 'queue.bind':
      encodeQueueBind(writer, method);
      return;
    case 'queue.bind-ok':
      encodeQueueBindOk(writer, method);
      return;
    case 'queue.purge':
      encodeQueuePurge(writer, method);
      return;
    case 'queue.purge-ok':
      encodeQueuePurgeOk(writer, method);
      return;
    case 'queue.delete':
      encodeQueueDelete(writer, method);
      return;
    case 'queue.delete-ok':
      encodeQueueDeleteOk(writer, method);
      return;
    case 'queue.unbind':
      encodeQueueUnbind(writer, method);
      return;
    case 'queue.unbind-ok':
      encodeQueueUnbindOk(writer, method);
      return;
    case 'basic.qos':
      encodeBasicQos(writer, method);
      return;
    case 'basic.qos-ok':
      encodeBasicQosOk(writer, method);
      return;
    case 'basic.consume':
      encodeBasicConsume(writer, method);
      return;
    case 'basic.consume-ok':
      encodeBasicConsumeOk(writer, method);
      return;
    case 'basic.cancel':
      encodeBasicCancel(writer, method);
      return;
    case 'basic.cancel-ok':
      encodeBasicCancelOk(writer, method);
      return;
    case 'basic.publish':
      encodeBasicPublish(writer, method);
      return;
    case 'basic.return':
      encodeBasicReturn(writer, method);
      return;
    case 'basic.deliver':
      encodeBasicDeliver(writer, method);
      return;
    case 'basic.get':
      encodeBasicGet(writer, method);
      return;
    case 'basic.get-ok':
      encodeBasicGetOk(writer, method);
      return;
    case 'basic.get-empty':
      encodeBasicGetEmpty(writer, method);
      return;
    case 'basic.ack':
      encodeBasicAck(writer, method);
      return;
    case 'basic.reject':
      encodeBasicReject(writer, method);
      return;
    case 'basic.recover-async':
      encodeBasicRecoverAsync(writer, method);
      return;
    case 'basic.recover':
      encodeBasicRecover(writer, method);
      return;
    case 'basic.recover-ok':
      encodeBasicRecoverOk(writer, method);
      return;
    case 'basic.nack':
      encodeBasicNack(writer, method);
      return;
    case 'confirm.select':
      encodeConfirmSelect(writer, method);
      return;
    case 'confirm.select-ok':
      encodeConfirmSelectOk(writer, method);
      return;
    case 'tx.select':
      encodeTxSelect(writer, method);
      return;
    case 'tx.select-ok':
      encodeTxSelectOk(writer, method);
      return;
    case 'tx.commit':
      encodeTxCommit(writer, method);
      return;
    case 'tx.commit-ok':
      encodeTxCommitOk(writer, method);
      return;
    case 'tx.rollback':
      encodeTxRollback(writer, method);
      return;
    case 'tx.rollback-ok':
      encodeTxRollbackOk(writer, method);
      return;
  }
}

/**
 * Writes a whole method frame (type 1, channel, size, payload, frame-end). When a field cannot
 * be encoded the writer is rewound to where the frame began and the error is rethrown.
 */
export function encodeMethodFrame(writer: ByteWriter, channel: number, method: AmqpMethod): void {
  const frameStart = writer.position;
  const sizeAt = beginFrame(writer, FRAME_METHOD, channel);
  try {
    encodeMethodPayload(writer, method);
  } catch (error) {
    writer.rewind(frameStart);
    throw error;
  }
  endFrame(writer, sizeAt);
}

// Delivery tags are spec longlongs; Warren keeps them as numbers and never issues one above
// 2^53 - 1, so a value that is not a safe non-negative integer is a bug in the caller.
function writeUnsigned64(writer: ByteWriter, value: number, fieldName: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ConnectionError(
      INTERNAL_ERROR,
      `INTERNAL_ERROR - cannot encode ${fieldName} ${value}: not a safe non-negative integer`,
    );
  }
  writer.u64(value);
}

/** Decodes the fields of connection.start; the reader starts after the method id. */
export function decodeConnectionStart(reader: ByteReader): ConnectionStart {
  const versionMajor = reader.u8();
  const versionMinor = reader.u8();
  const serverProperties = reader.table();
  const mechanisms = reader.longStringCopy();
  const locales = reader.longStringCopy();
  return {
    method: 'connection.start',
    versionMajor,
    versionMinor,
    serverProperties,
    mechanisms,
    locales,
  };
}

/** Writes the connection.start payload, class and method id included. */
export function encodeConnectionStart(writer: ByteWriter, method: ConnectionStart): void {
  writer.u32(0x000a000a);
  writer.u8(method.versionMajor);
  writer.u8(method.versionMinor);
  writer.table(method.serverProperties);
  writer.longString(method.mechanisms);
  writer.longString(method.locales);
}

/** Decodes the fields of connection.start-ok; the reader starts after the method id. */
export function decodeConnectionStartOk(reader: ByteReader): ConnectionStartOk {
  const clientProperties = reader.table();
  const mechanism = reader.shortStringValidated();
  const response = reader.longStringCopy();
  const locale = reader.shortStringValidated();
  return { method: 'connection.start-ok', clientProperties, mechanism, response, locale };
}

/** Writes the connection.start-ok payload, class and method id included. */
export function encodeConnectionStartOk(writer: ByteWriter, method: ConnectionStartOk): void {
  writer.u32(0x000a000b);
  writer.table(method.clientProperties);
  writer.shortString(method.mechanism);
  writer.longString(method.response);
  writer.shortString(method.locale);
}

/** Decodes the fields of connection.secure; the reader starts after the method id. */
export function decodeConnectionSecure(reader: ByteReader): ConnectionSecure {
  const challenge = reader.longStringCopy();
  return { method: 'connection.secure', challenge };
}

/** Writes the connection.secure payload, class and method id included. */
export function encodeConnectionSecure(writer: ByteWriter, method: ConnectionSecure): void {
  writer.u32(0x000a0014);
  writer.longString(method.challenge);
}

/** Decodes the fields of connection.secure-ok; the reader starts after the method id. */
export function decodeConnectionSecureOk(reader: ByteReader): ConnectionSecureOk {
  const response = reader.longStringCopy();
  return { method: 'connection.secure-ok', response };
}

/** Writes the connection.secure-ok payload, class and method id included. */
export function encodeConnectionSecureOk(writer: ByteWriter, method: ConnectionSecureOk): void {
  writer.u32(0x000a0015);
  writer.longString(method.response);
}

/** Decodes the fields of connection.tune; the reader starts after the method id. */
export function decodeConnectionTune(reader: ByteReader): ConnectionTune {
  const channelMax = reader.u16();
  const frameMax = reader.u32();
  const heartbeat = reader.u16();
  return { method: 'connection.tune', channelMax, frameMax, heartbeat };
}

/** Writes the connection.tune payload, class and method id included. */
export function encodeConnectionTune(writer: ByteWriter, method: ConnectionTune): void {
  writer.u32(0x000a001e);
  writer.u16(method.channelMax);
  writer.u32(method.frameMax);
  writer.u16(method.heartbeat);
}

/** Decodes the fields of connection.tune-ok; the reader starts after the method id. */
export function decodeConnectionTuneOk(reader: ByteReader): ConnectionTuneOk {
  const channelMax = reader.u16();
  const frameMax = reader.u32();
  const heartbeat = reader.u16();
  return { method: 'connection.tune-ok', channelMax, frameMax, heartbeat };
}

/** Writes the connection.tune-ok payload, class and method id included. */
export function encodeConnectionTuneOk(writer: ByteWriter, method: ConnectionTuneOk): void {
  writer.u32(0x000a001f);
  writer.u16(method.channelMax);
  writer.u32(method.frameMax);
  writer.u16(method.heartbeat);
}

/** Decodes the fields of connection.open; the reader starts after the method id. */
export function decodeConnectionOpen(reader: ByteReader): ConnectionOpen {
  const virtualHost = reader.shortStringValidated();
  reader.skipShortString();
  reader.skip(1);
  return { method: 'connection.open', virtualHost };
}

/** Writes the connection.open payload, class and method id included. */
export function encodeConnectionOpen(writer: ByteWriter, method: ConnectionOpen): void {
  writer.u32(0x000a0028);
  writer.shortString(method.virtualHost);
  writer.u8(0);
  writer.u8(0);
}

/** Decodes the fields of connection.open-ok; the reader starts after the method id. */
export function decodeConnectionOpenOk(reader: ByteReader): ConnectionOpenOk {
  reader.skipShortString();
  return { method: 'connection.open-ok' };
}

/** Writes the connection.open-ok payload, class and method id included. */
export function encodeConnectionOpenOk(writer: ByteWriter, _method: ConnectionOpenOk): void {
  writer.u32(0x000a0029);
  writer.u8(0);
}

/** Decodes the fields of connection.close; the reader starts after the method id. */
export function decodeConnectionClose(reader: ByteReader): ConnectionClose {
  const replyCode = reader.u16();
  const replyText = reader.shortStringValidated();
  const classId = reader.u16();
  const methodId = reader.u16();
  return { method: 'connection.close', replyCode, replyText, classId, methodId };
}

/** Writes the connection.close payload, class and method id included. */
export function encodeConnectionClose(writer: ByteWriter, method: ConnectionClose): void {
  writer.u32(0x000a0032);
  writer.u16(method.replyCode);
  writer.shortStringTruncated(method.replyText);
  writer.u16(method.classId);
  writer.u16(method.methodId);
}

/** Decodes the fields of connection.close-ok; the reader starts after the method id. */
export function decodeConnectionCloseOk(_reader: ByteReader): ConnectionCloseOk {
  return { method: 'connection.close-ok' };
}

/** Writes the connection.close-ok payload, class and method id included. */
export function encodeConnectionCloseOk(writer: ByteWriter, _method: ConnectionCloseOk): void {
  writer.u32(0x000a0033);
}

/** Decodes the fields of connection.blocked; the reader starts after the method id. */
export function decodeConnectionBlocked(reader: ByteReader): ConnectionBlocked {
  const reason = reader.shortStringValidated();
  return { method: 'connection.blocked', reason };
}

/** Writes the connection.blocked payload, class and method id included. */
export function encodeConnectionBlocked(writer: ByteWriter, method: ConnectionBlocked): void {
  writer.u32(0x000a003c);
  writer.shortString(method.reason);
}

/** Decodes the fields of connection.unblocked; the reader starts after the method id. */
export function decodeConnectionUnblocked(_reader: ByteReader): ConnectionUnblocked {
  return { method: 'connection.unblocked' };
}

/** Writes the connection.unblocked payload, class and method id included. */
export function encodeConnectionUnblocked(writer: ByteWriter, _method: ConnectionUnblocked): void {
  writer.u32(0x000a003d);
}

/** Decodes the fields of connection.update-secret; the reader starts after the method id. */
export function decodeConnectionUpdateSecret(reader: ByteReader): ConnectionUpdateSecret {
  const newSecret = reader.longStringCopy();
  const reason = reader.shortStringValidated();
  return { method: 'connection.update-secret', newSecret, reason };
}

/** Writes the connection.update-secret payload, class and method id included. */
export function encodeConnectionUpdateSecret(
  writer: ByteWriter,
  method: ConnectionUpdateSecret,
): void {
  writer.u32(0x000a0046);
  writer.longString(method.newSecret);
  writer.shortString(method.reason);
}

/** Decodes the fields of connection.update-secret-ok; the reader starts after the method id. */
export function decodeConnectionUpdateSecretOk(_reader: ByteReader): ConnectionUpdateSecretOk {
  return { method: 'connection.update-secret-ok' };
}

/** Writes the connection.update-secret-ok payload, class and method id included. */
export function encodeConnectionUpdateSecretOk(
  writer: ByteWriter,
  _method: ConnectionUpdateSecretOk,
): void {
  writer.u32(0x000a0047);
}

/** Decodes the fields of channel.open; the reader starts after the method id. */
export function decodeChannelOpen(reader: ByteReader): ChannelOpen {
  reader.skipShortString();
  return { method: 'channel.open' };
}

/** Writes the channel.open payload, class and method id included. */
export function encodeChannelOpen(writer: ByteWriter, _method: ChannelOpen): void {
  writer.u32(0x0014000a);
  writer.u8(0);
}

/** Decodes the fields of channel.open-ok; the reader starts after the method id. */
export function decodeChannelOpenOk(reader: ByteReader): ChannelOpenOk {
  reader.skipLongString();
  return { method: 'channel.open-ok' };
}

/** Writes the channel.open-ok payload, class and method id included. */
export function encodeChannelOpenOk(writer: ByteWriter, _method: ChannelOpenOk): void {
  writer.u32(0x0014000b);
  writer.u32(0);
}

/** Decodes the fields of channel.flow; the reader starts after the method id. */
export function decodeChannelFlow(reader: ByteReader): ChannelFlow {
  const bits0 = reader.u8();
  return { method: 'channel.flow', active: (bits0 & 1) !== 0 };
}

/** Writes the channel.flow payload, class and method id included. */
export function encodeChannelFlow(writer: ByteWriter, method: ChannelFlow): void {
  writer.u32(0x00140014);
  writer.u8(method.active ? 1 : 0);
}

/** Decodes the fields of channel.flow-ok; the reader starts after the method id. */
export function decodeChannelFlowOk(reader: ByteReader): ChannelFlowOk {
  const bits0 = reader.u8();
  return { method: 'channel.flow-ok', active: (bits0 & 1) !== 0 };
}

/** Writes the channel.flow-ok payload, class and method id included. */
export function encodeChannelFlowOk(writer: ByteWriter, method: ChannelFlowOk): void {
  writer.u32(0x00140015);
  writer.u8(method.active ? 1 : 0);
}

/** Decodes the fields of channel.close; the reader starts after the method id. */
export function decodeChannelClose(reader: ByteReader): ChannelClose {
  const replyCode = reader.u16();
  const replyText = reader.shortStringValidated();
  const classId = reader.u16();
  const methodId = reader.u16();
  return { method: 'channel.close', replyCode, replyText, classId, methodId };
}

/** Writes the channel.close payload, class and method id included. */
export function encodeChannelClose(writer: ByteWriter, method: ChannelClose): void {
  writer.u32(0x00140028);
  writer.u16(method.replyCode);
  writer.shortStringTruncated(method.replyText);
  writer.u16(method.classId);
  writer.u16(method.methodId);
}

/** Decodes the fields of channel.close-ok; the reader starts after the method id. */
export function decodeChannelCloseOk(_reader: ByteReader): ChannelCloseOk {
  return { method: 'channel.close-ok' };
}

/** Writes the channel.close-ok payload, class and method id included. */
export function encodeChannelCloseOk(writer: ByteWriter, _method: ChannelCloseOk): void {
  writer.u32(0x00140029);
}

/** Decodes the fields of exchange.declare; the reader starts after the method id. */
export function decodeExchangeDeclare(reader: ByteReader): ExchangeDeclare {
  reader.skip(2);
  const exchange = reader.shortStringValidated();
  const type = reader.shortStringValidated();
  const bits0 = reader.u8();
  const fieldArguments = reader.table();
  return {
    method: 'exchange.declare',
    exchange,
    type,
    passive: (bits0 & 1) !== 0,
    durable: (bits0 & 2) !== 0,
    autoDelete: (bits0 & 4) !== 0,
    internal: (bits0 & 8) !== 0,
    noWait: (bits0 & 16) !== 0,
    arguments: fieldArguments,
  };
}

/** Writes the exchange.declare payload, class and method id included. */
export function encodeExchangeDeclare(writer: ByteWriter, method: ExchangeDeclare): void {
  writer.u32(0x0028000a);
  writer.u16(0);
  writer.shortString(method.exchange);
  writer.shortString(method.type);
  writer.u8(
    (method.passive ? 1 : 0) |
      (method.durable ? 2 : 0) |
      (method.autoDelete ? 4 : 0) |
      (method.internal ? 8 : 0) |
      (method.noWait ? 16 : 0),
  );
  writer.table(method.arguments);
}

/** Decodes the fields of exchange.declare-ok; the reader starts after the method id. */
export function decodeExchangeDeclareOk(_reader: ByteReader): ExchangeDeclareOk {
  return { method: 'exchange.declare-ok' };
}

/** Writes the exchange.declare-ok payload, class and method id included. */
export function encodeExchangeDeclareOk(writer: ByteWriter, _method: ExchangeDeclareOk): void {
  writer.u32(0x0028000b);
}

/** Decodes the fields of exchange.delete; the reader starts after the method id. */
export function decodeExchangeDelete(reader: ByteReader): ExchangeDelete {
  reader.skip(2);
  const exchange = reader.shortStringValidated();
  const bits0 = reader.u8();
  return {
    method: 'exchange.delete',
    exchange,
    ifUnused: (bits0 & 1) !== 0,
    noWait: (bits0 & 2) !== 0,
  };
}

/** Writes the exchange.delete payload, class and method id included. */
export function encodeExchangeDelete(writer: ByteWriter, method: ExchangeDelete): void {
  writer.u32(0x00280014);
  writer.u16(0);
  writer.shortString(method.exchange);
  writer.u8((method.ifUnused ? 1 : 0) | (method.noWait ? 2 : 0));
}

/** Decodes the fields of exchange.delete-ok; the reader starts after the method id. */
export function decodeExchangeDeleteOk(_reader: ByteReader): ExchangeDeleteOk {
  return { method: 'exchange.delete-ok' };
}

/** Writes the exchange.delete-ok payload, class and method id included. */
export function encodeExchangeDeleteOk(writer: ByteWriter, _method: ExchangeDeleteOk): void {
  writer.u32(0x00280015);
}

/** Decodes the fields of exchange.bind; the reader starts after the method id. */
export function decodeExchangeBind(reader: ByteReader): ExchangeBind {
  reader.skip(2);
  const destination = reader.shortStringValidated();
  const source = reader.shortStringValidated();
  const routingKey = reader.shortStringValidated();
  const bits0 = reader.u8();
  const fieldArguments = reader.table();
  return {
    method: 'exchange.bind',
    destination,
    source,
    routingKey,
    noWait: (bits0 & 1) !== 0,
    arguments: fieldArguments,
  };
}

/** Writes the exchange.bind payload, class and method id included. */
export function encodeExchangeBind(writer: ByteWriter, method: ExchangeBind): void {
  writer.u32(0x0028001e);
  writer.u16(0);
  writer.shortString(method.destination);
  writer.shortString(method.source);
  writer.shortString(method.routingKey);
  writer.u8(method.noWait ? 1 : 0);
  writer.table(method.arguments);
}

/** Decodes the fields of exchange.bind-ok; the reader starts after the method id. */
export function decodeExchangeBindOk(_reader: ByteReader): ExchangeBindOk {
  return { method: 'exchange.bind-ok' };
}

/** Writes the exchange.bind-ok payload, class and method id included. */
export function encodeExchangeBindOk(writer: ByteWriter, _method: ExchangeBindOk): void {
  writer.u32(0x0028001f);
}

/** Decodes the fields of exchange.unbind; the reader starts after the method id. */
export function decodeExchangeUnbind(reader: ByteReader): ExchangeUnbind {
  reader.skip(2);
  const destination = reader.shortStringValidated();
  const source = reader.shortStringValidated();
  const routingKey = reader.shortStringValidated();
  const bits0 = reader.u8();
  const fieldArguments = reader.table();
  return {
    method: 'exchange.unbind',
    destination,
    source,
    routingKey,
    noWait: (bits0 & 1) !== 0,
    arguments: fieldArguments,
  };
}

/** Writes the exchange.unbind payload, class and method id included. */
export function encodeExchangeUnbind(writer: ByteWriter, method: ExchangeUnbind): void {
  writer.u32(0x00280028);
  writer.u16(0);
  writer.shortString(method.destination);
  writer.shortString(method.source);
  writer.shortString(method.routingKey);
  writer.u8(method.noWait ? 1 : 0);
  writer.table(method.arguments);
}

/** Decodes the fields of exchange.unbind-ok; the reader starts after the method id. */
export function decodeExchangeUnbindOk(_reader: ByteReader): ExchangeUnbindOk {
  return { method: 'exchange.unbind-ok' };
}

/** Writes the exchange.unbind-ok payload, class and method id included. */
export function encodeExchangeUnbindOk(writer: ByteWriter, _method: ExchangeUnbindOk): void {
  writer.u32(0x00280033);
}

/** Decodes the fields of queue.declare; the reader starts after the method id. */
export function decodeQueueDeclare(reader: ByteReader): QueueDeclare {
  reader.skip(2);
  const queue = reader.shortStringValidated();
  const bits0 = reader.u8();
  const fieldArguments = reader.table();
  return {
    method: 'queue.declare',
    queue,
    passive: (bits0 & 1) !== 0,
    durable: (bits0 & 2) !== 0,
    exclusive: (bits0 & 4) !== 0,
    autoDelete: (bits0 & 8) !== 0,
    noWait: (bits0 & 16) !== 0,
    arguments: fieldArguments,
  };
}

/** Writes the queue.declare payload, class and method id included. */
export function encodeQueueDeclare(writer: ByteWriter, method: QueueDeclare): void {
  writer.u32(0x0032000a);
  writer.u16(0);
  writer.shortString(method.queue);
  writer.u8(
    (method.passive ? 1 : 0) |
      (method.durable ? 2 : 0) |
      (method.exclusive ? 4 : 0) |
      (method.autoDelete ? 8 : 0) |
      (method.noWait ? 16 : 0),
  );
  writer.table(method.arguments);
}

/** Decodes the fields of queue.declare-ok; the reader starts after the method id. */
export function decodeQueueDeclareOk(reader: ByteReader): QueueDeclareOk {
  const queue = reader.shortStringValidated();
  const messageCount = reader.u32();
  const consumerCount = reader.u32();
  return { method: 'queue.declare-ok', queue, messageCount, consumerCount };
}

/** Writes the queue.declare-ok payload, class and method id included. */
export function encodeQueueDeclareOk(writer: ByteWriter, method: QueueDeclareOk): void {
  writer.u32(0x0032000b);
  writer.shortString(method.queue);
  writer.u32(method.messageCount);
  writer.u32(method.consumerCount);
}

/** Decodes the fields of queue.bind; the reader starts after the method id. */
export function decodeQueueBind(reader: ByteReader): QueueBind {
  reader.skip(2);
  const queue = reader.shortStringValidated();
  const exchange = reader.shortStringValidated();
  const routingKey = reader.shortStringValidated();
  const bits0 = reader.u8();
  const fieldArguments = reader.table();
  return {
    method: 'queue.bind',
    queue,
    exchange,
    routingKey,
    noWait: (bits0 & 1) !== 0,
    arguments: fieldArguments,
  };
}

/** Writes the queue.bind payload, class and method id included. */
export function encodeQueueBind(writer: ByteWriter, method: QueueBind): void {
  writer.u32(0x00320014);
  writer.u16(0);
  writer.shortString(method.queue);
  writer.shortString(method.exchange);
  writer.shortString(method.routingKey);
  writer.u8(method.noWait ? 1 : 0);
  writer.table(method.arguments);
}

/** Decodes the fields of queue.bind-ok; the reader starts after the method id. */
export function decodeQueueBindOk(_reader: ByteReader): QueueBindOk {
  return { method: 'queue.bind-ok' };
}

/** Writes the queue.bind-ok payload, class and method id included. */
export function encodeQueueBindOk(writer: ByteWriter, _method: QueueBindOk): void {
  writer.u32(0x00320015);
}

/** Decodes the fields of queue.purge; the reader starts after the method id. */
export function decodeQueuePurge(reader: ByteReader): QueuePurge {
  reader.skip(2);
  const queue = reader.shortStringValidated();
  const bits0 = reader.u8();
  return { method: 'queue.purge', queue, noWait: (bits0 & 1) !== 0 };
}

/** Writes the queue.purge payload, class and method id included. */
export function encodeQueuePurge(writer: ByteWriter, method: QueuePurge): void {
  writer.u32(0x0032001e);
  writer.u16(0);
  writer.shortString(method.queue);
  writer.u8(method.noWait ? 1 : 0);
}

/** Decodes the fields of queue.purge-ok; the reader starts after the method id. */
export function decodeQueuePurgeOk(reader: ByteReader): QueuePurgeOk {
  const messageCount = reader.u32();
  return { method: 'queue.purge-ok', messageCount };
}

/** Writes the queue.purge-ok payload, class and method id included. */
export function encodeQueuePurgeOk(writer: ByteWriter, method: QueuePurgeOk): void {
  writer.u32(0x0032001f);
  writer.u32(method.messageCount);
}

/** Decodes the fields of queue.delete; the reader starts after the method id. */
export function decodeQueueDelete(reader: ByteReader): QueueDelete {
  reader.skip(2);
  const queue = reader.shortStringValidated();
  const bits0 = reader.u8();
  return {
    method: 'queue.delete',
    queue,
    ifUnused: (bits0 & 1) !== 0,
    ifEmpty: (bits0 & 2) !== 0,
    noWait: (bits0 & 4) !== 0,
  };
}

/** Writes the queue.delete payload, class and method id included. */
export function encodeQueueDelete(writer: ByteWriter, method: QueueDelete): void {
  writer.u32(0x00320028);
  writer.u16(0);
  writer.shortString(method.queue);
  writer.u8((method.ifUnused ? 1 : 0) | (method.ifEmpty ? 2 : 0) | (method.noWait ? 4 : 0));
}

/** Decodes the fields of queue.delete-ok; the reader starts after the method id. */
export function decodeQueueDeleteOk(reader: ByteReader): QueueDeleteOk {
  const messageCount = reader.u32();
  return { method: 'queue.delete-ok', messageCount };
}

/** Writes the queue.delete-ok payload, class and method id included. */
export function encodeQueueDeleteOk(writer: ByteWriter, method: QueueDeleteOk): void {
  writer.u32(0x00320029);
  writer.u32(method.messageCount);
}

/** Decodes the fields of queue.unbind; the reader starts after the method id. */
export function decodeQueueUnbind(reader: ByteReader): QueueUnbind {
  reader.skip(2);
  const queue = reader.shortStringValidated();
  const exchange = reader.shortStringValidated();
  const routingKey = reader.shortStringValidated();
  const fieldArguments = reader.table();
  return { method: 'queue.unbind', queue, exchange, routingKey, arguments: fieldArguments };
}

/** Writes the queue.unbind payload, class and method id included. */
export function encodeQueueUnbind(writer: ByteWriter, method: QueueUnbind): void {
  writer.u32(0x00320032);
  writer.u16(0);
  writer.shortString(method.queue);
  writer.shortString(method.exchange);
  writer.shortString(method.routingKey);
  writer.table(method.arguments);
}

/** Decodes the fields of queue.unbind-ok; the reader starts after the method id. */
export function decodeQueueUnbindOk(_reader: ByteReader): QueueUnbindOk {
  return { method: 'queue.unbind-ok' };
}

/** Writes the queue.unbind-ok payload, class and method id included. */
export function encodeQueueUnbindOk(writer: ByteWriter, _method: QueueUnbindOk): void {
  writer.u32(0x00320033);
}

/** Decodes the fields of basic.qos; the reader starts after the method id. */
export function decodeBasicQos(reader: ByteReader): BasicQos {
  const prefetchSize = reader.u32();
  const prefetchCount = reader.u16();
  const bits0 = reader.u8();
  return { method: 'basic.qos', prefetchSize, prefetchCount, global: (bits0 & 1) !== 0 };
}

/** Writes the basic.qos payload, class and method id included. */
export function encodeBasicQos(writer: ByteWriter, method: BasicQos): void {
  writer.u32(0x003c000a);
  writer.u32(method.prefetchSize);
  writer.u16(method.prefetchCount);
  writer.u8(method.global ? 1 : 0);
}

/** Decodes the fields of basic.qos-ok; the reader starts after the method id. */
export function decodeBasicQosOk(_reader: ByteReader): BasicQosOk {
  return { method: 'basic.qos-ok' };
}

/** Writes the basic.qos-ok payload, class and method id included. */
export function encodeBasicQosOk(writer: ByteWriter, _method: BasicQosOk): void {
  writer.u32(0x003c000b);
}

/** Decodes the fields of basic.consume; the reader starts after the method id. */
export function decodeBasicConsume(reader: ByteReader): BasicConsume {
  reader.skip(2);
  const queue = reader.shortStringValidated();
  const consumerTag = reader.shortStringValidated();
  const bits0 = reader.u8();
  const fieldArguments = reader.table();
  return {
    method: 'basic.consume',
    queue,
    consumerTag,
    noLocal: (bits0 & 1) !== 0,
    noAck: (bits0 & 2) !== 0,
    exclusive: (bits0 & 4) !== 0,
    noWait: (bits0 & 8) !== 0,
    arguments: fieldArguments,
  };
}

/** Writes the basic.consume payload, class and method id included. */
export function encodeBasicConsume(writer: ByteWriter, method: BasicConsume): void {
  writer.u32(0x003c0014);
  writer.u16(0);
  writer.shortString(method.queue);
  writer.shortString(method.consumerTag);
  writer.u8(
    (method.noLocal ? 1 : 0) |
      (method.noAck ? 2 : 0) |
      (method.exclusive ? 4 : 0) |
      (method.noWait ? 8 : 0),
  );
  writer.table(method.arguments);
}

/** Decodes the fields of basic.consume-ok; the reader starts after the method id. */
export function decodeBasicConsumeOk(reader: ByteReader): BasicConsumeOk {
  const consumerTag = reader.shortStringValidated();
  return { method: 'basic.consume-ok', consumerTag };
}

/** Writes the basic.consume-ok payload, class and method id included. */
export function encodeBasicConsumeOk(writer: ByteWriter, method: BasicConsumeOk): void {
  writer.u32(0x003c0015);
  writer.shortString(method.consumerTag);
}

/** Decodes the fields of basic.cancel; the reader starts after the method id. */
export function decodeBasicCancel(reader: ByteReader): BasicCancel {
  const consumerTag = reader.shortStringValidated();
  const bits0 = reader.u8();
  return { method: 'basic.cancel', consumerTag, noWait: (bits0 & 1) !== 0 };
}

/** Writes the basic.cancel payload, class and method id included. */
export function encodeBasicCancel(writer: ByteWriter, method: BasicCancel): void {
  writer.u32(0x003c001e);
  writer.shortString(method.consumerTag);
  writer.u8(method.noWait ? 1 : 0);
}

/** Decodes the fields of basic.cancel-ok; the reader starts after the method id. */
export function decodeBasicCancelOk(reader: ByteReader): BasicCancelOk {
  const consumerTag = reader.shortStringValidated();
  return { method: 'basic.cancel-ok', consumerTag };
}

/** Writes the basic.cancel-ok payload, class and method id included. */
export function encodeBasicCancelOk(writer: ByteWriter, method: BasicCancelOk): void {
  writer.u32(0x003c001f);
  writer.shortString(method.consumerTag);
}

/** Decodes the fields of basic.publish; the reader starts after the method id. */
export function decodeBasicPublish(reader: ByteReader): BasicPublish {
  reader.skip(2);
  const exchange = reader.shortString();
  const routingKey = reader.shortString();
  const bits0 = reader.u8();
  return {
    method: 'basic.publish',
    exchange,
    routingKey,
    mandatory: (bits0 & 1) !== 0,
    immediate: (bits0 & 2) !== 0,
  };
}

/** Writes the basic.publish payload, class and method id included. */
export function encodeBasicPublish(writer: ByteWriter, method: BasicPublish): void {
  writer.u32(0x003c0028);
  writer.u16(0);
  writer.shortString(method.exchange);
  writer.shortString(method.routingKey);
  writer.u8((method.mandatory ? 1 : 0) | (method.immediate ? 2 : 0));
}

/** Decodes the fields of basic.return; the reader starts after the method id. */
export function decodeBasicReturn(reader: ByteReader): BasicReturn {
  const replyCode = reader.u16();
  const replyText = reader.shortString();
  const exchange = reader.shortString();
  const routingKey = reader.shortString();
  return { method: 'basic.return', replyCode, replyText, exchange, routingKey };
}

/** Writes the basic.return payload, class and method id included. */
export function encodeBasicReturn(writer: ByteWriter, method: BasicReturn): void {
  writer.u32(0x003c0032);
  writer.u16(method.replyCode);
  writer.shortStringTruncated(method.replyText);
  writer.shortString(method.exchange);
  writer.shortString(method.routingKey);
}

/** Decodes the fields of basic.deliver; the reader starts after the method id. */
export function decodeBasicDeliver(reader: ByteReader): BasicDeliver {
  const consumerTag = reader.shortString();
  const deliveryTag = reader.u64();
  const bits0 = reader.u8();
  const exchange = reader.shortString();
  const routingKey = reader.shortString();
  return {
    method: 'basic.deliver',
    consumerTag,
    deliveryTag,
    redelivered: (bits0 & 1) !== 0,
    exchange,
    routingKey,
  };
}

/** Writes the basic.deliver payload, class and method id included. */
export function encodeBasicDeliver(writer: ByteWriter, method: BasicDeliver): void {
  writer.u32(0x003c003c);
  writer.shortString(method.consumerTag);
  writeUnsigned64(writer, method.deliveryTag, 'delivery-tag');
  writer.u8(method.redelivered ? 1 : 0);
  writer.shortString(method.exchange);
  writer.shortString(method.routingKey);
}

/** Decodes the fields of basic.get; the reader starts after the method id. */
export function decodeBasicGet(reader: ByteReader): BasicGet {
  reader.skip(2);
  const queue = reader.shortStringValidated();
  const bits0 = reader.u8();
  return { method: 'basic.get', queue, noAck: (bits0 & 1) !== 0 };
}

/** Writes the basic.get payload, class and method id included. */
export function encodeBasicGet(writer: ByteWriter, method: BasicGet): void {
  writer.u32(0x003c0046);
  writer.u16(0);
  writer.shortString(method.queue);
  writer.u8(method.noAck ? 1 : 0);
}

/** Decodes the fields of basic.get-ok; the reader starts after the method id. */
export function decodeBasicGetOk(reader: ByteReader): BasicGetOk {
  const deliveryTag = reader.u64();
  const bits0 = reader.u8();
  const exchange = reader.shortString();
  const routingKey = reader.shortString();
  const messageCount = reader.u32();
  return {
    method: 'basic.get-ok',
    deliveryTag,
    redelivered: (bits0 & 1) !== 0,
    exchange,
    routingKey,
    messageCount,
  };
}

/** Writes the basic.get-ok payload, class and method id included. */
export function encodeBasicGetOk(writer: ByteWriter, method: BasicGetOk): void {
  writer.u32(0x003c0047);
  writeUnsigned64(writer, method.deliveryTag, 'delivery-tag');
  writer.u8(method.redelivered ? 1 : 0);
  writer.shortString(method.exchange);
  writer.shortString(method.routingKey);
  writer.u32(method.messageCount);
}

/** Decodes the fields of basic.get-empty; the reader starts after the method id. */
export function decodeBasicGetEmpty(reader: ByteReader): BasicGetEmpty {
  reader.skipShortString();
  return { method: 'basic.get-empty' };
}

/** Writes the basic.get-empty payload, class and method id included. */
export function encodeBasicGetEmpty(writer: ByteWriter, _method: BasicGetEmpty): void {
  writer.u32(0x003c0048);
  writer.u8(0);
}

/** Decodes the fields of basic.ack; the reader starts after the method id. */
export function decodeBasicAck(reader: ByteReader): BasicAck {
  const deliveryTag = reader.u64();
  const bits0 = reader.u8();
  return { method: 'basic.ack', deliveryTag, multiple: (bits0 & 1) !== 0 };
}

/** Writes the basic.ack payload, class and method id included. */
export function encodeBasicAck(writer: ByteWriter, method: BasicAck): void {
  writer.u32(0x003c0050);
  writeUnsigned64(writer, method.deliveryTag, 'delivery-tag');
  writer.u8(method.multiple ? 1 : 0);
}

/** Decodes the fields of basic.reject; the reader starts after the method id. */
export function decodeBasicReject(reader: ByteReader): BasicReject {
  const deliveryTag = reader.u64();
  const bits0 = reader.u8();
  return { method: 'basic.reject', deliveryTag, requeue: (bits0 & 1) !== 0 };
}

/** Writes the basic.reject payload, class and method id included. */
export function encodeBasicReject(writer: ByteWriter, method: BasicReject): void {
  writer.u32(0x003c005a);
  writeUnsigned64(writer, method.deliveryTag, 'delivery-tag');
  writer.u8(method.requeue ? 1 : 0);
}

/** Decodes the fields of basic.recover-async; the reader starts after the method id. */
export function decodeBasicRecoverAsync(reader: ByteReader): BasicRecoverAsync {
  const bits0 = reader.u8();
  return { method: 'basic.recover-async', requeue: (bits0 & 1) !== 0 };
}

/** Writes the basic.recover-async payload, class and method id included. */
export function encodeBasicRecoverAsync(writer: ByteWriter, method: BasicRecoverAsync): void {
  writer.u32(0x003c0064);
  writer.u8(method.requeue ? 1 : 0);
}

/** Decodes the fields of basic.recover; the reader starts after the method id. */
export function decodeBasicRecover(reader: ByteReader): BasicRecover {
  const bits0 = reader.u8();
  return { method: 'basic.recover', requeue: (bits0 & 1) !== 0 };
}

/** Writes the basic.recover payload, class and method id included. */
export function encodeBasicRecover(writer: ByteWriter, method: BasicRecover): void {
  writer.u32(0x003c006e);
  writer.u8(method.requeue ? 1 : 0);
}

/** Decodes the fields of basic.recover-ok; the reader starts after the method id. */
export function decodeBasicRecoverOk(_reader: ByteReader): BasicRecoverOk {
  return { method: 'basic.recover-ok' };
}

/** Writes the basic.recover-ok payload, class and method id included. */
export function encodeBasicRecoverOk(writer: ByteWriter, _method: BasicRecoverOk): void {
  writer.u32(0x003c006f);
}

/** Decodes the fields of basic.nack; the reader starts after the method id. */
export function decodeBasicNack(reader: ByteReader): BasicNack {
  const deliveryTag = reader.u64();
  const bits0 = reader.u8();
  return {
    method: 'basic.nack',
    deliveryTag,
    multiple: (bits0 & 1) !== 0,
    requeue: (bits0 & 2) !== 0,
  };
}

/** Writes the basic.nack payload, class and method id included. */
export function encodeBasicNack(writer: ByteWriter, method: BasicNack): void {
  writer.u32(0x003c0078);
  writeUnsigned64(writer, method.deliveryTag, 'delivery-tag');
  writer.u8((method.multiple ? 1 : 0) | (method.requeue ? 2 : 0));
}

/** Decodes the fields of confirm.select; the reader starts after the method id. */
export function decodeConfirmSelect(reader: ByteReader): ConfirmSelect {
  const bits0 = reader.u8();
  return { method: 'confirm.select', nowait: (bits0 & 1) !== 0 };
}

/** Writes the confirm.select payload, class and method id included. */
export function encodeConfirmSelect(writer: ByteWriter, method: ConfirmSelect): void {
  writer.u32(0x0055000a);
  writer.u8(method.nowait ? 1 : 0);
}

/** Decodes the fields of confirm.select-ok; the reader starts after the method id. */
export function decodeConfirmSelectOk(_reader: ByteReader): ConfirmSelectOk {
  return { method: 'confirm.select-ok' };
}

/** Writes the confirm.select-ok payload, class and method id included. */
export function encodeConfirmSelectOk(writer: ByteWriter, _method: ConfirmSelectOk): void {
  writer.u32(0x0055000b);
}

/** Decodes the fields of tx.select; the reader starts after the method id. */
export function decodeTxSelect(_reader: ByteReader): TxSelect {
  return { method: 'tx.select' };
}

/** Writes the tx.select payload, class and method id included. */
export function encodeTxSelect(writer: ByteWriter, _method: TxSelect): void {
  writer.u32(0x005a000a);
}

/** Decodes the fields of tx.select-ok; the reader starts after the method id. */
export function decodeTxSelectOk(_reader: ByteReader): TxSelectOk {
  return { method: 'tx.select-ok' };
}

/** Writes the tx.select-ok payload, class and method id included. */
export function encodeTxSelectOk(writer: ByteWriter, _method: TxSelectOk): void {
  writer.u32(0x005a000b);
}

/** Decodes the fields of tx.commit; the reader starts after the method id. */
export function decodeTxCommit(_reader: ByteReader): TxCommit {
  return { method: 'tx.commit' };
}

/** Writes the tx.commit payload, class and method id included. */
export function encodeTxCommit(writer: ByteWriter, _method: TxCommit): void {
  writer.u32(0x005a0014);
}

/** Decodes the fields of tx.commit-ok; the reader starts after the method id. */
export function decodeTxCommitOk(_reader: ByteReader): TxCommitOk {
  return { method: 'tx.commit-ok' };
}

/** Writes the tx.commit-ok payload, class and method id included. */
export function encodeTxCommitOk(writer: ByteWriter, _method: TxCommitOk): void {
  writer.u32(0x005a0015);
}

/** Decodes the fields of tx.rollback; the reader starts after the method id. */
export function decodeTxRollback(_reader: ByteReader): TxRollback {
  return { method: 'tx.rollback' };
}

/** Writes the tx.rollback payload, class and method id included. */
export function encodeTxRollback(writer: ByteWriter, _method: TxRollback): void {
  writer.u32(0x005a001e);
}

/** Decodes the fields of tx.rollback-ok; the reader starts after the method id. */
export function decodeTxRollbackOk(_reader: ByteReader): TxRollbackOk {
  return { method: 'tx.rollback-ok' };
}

/** Writes the tx.rollback-ok payload, class and method id included. */
export function encodeTxRollbackOk(writer: ByteWriter, _method: TxRollbackOk): void {
  writer.u32(0x005a001f);
}
