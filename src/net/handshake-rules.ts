// The rules of the connection handshake (start, tune, open) as RabbitMQ applies them, kept
// apart from the connection's state machine: what the client says it understands, who may log
// in from where, which tune values are acceptable, and which vhost a connection may open.
// Network thread only; pure functions over the settings and the vhost table.

import { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { type AmqpMethod, type FieldTable, FRAME_MIN_SIZE } from '../codec/index.js';
import type { AccessControl } from './access-control.js';
import type { AuthenticationResult } from './authentication.js';
import type { ClientCapabilities } from './channel-context.js';
import type { BrokerOptions } from './options.js';
import { isLoopbackAddress } from '../util/index.js';
import { connectionError } from './protocol-errors.js';
import type { VirtualHost } from './vhost.js';

const NOT_ALLOWED = 530;

/** connection.start-ok's capabilities table, as the flags the broker acts on. */
export function readCapabilities(clientProperties: FieldTable): ClientCapabilities {
  const capabilities = clientProperties['capabilities'];
  const isTable =
    capabilities !== null &&
    typeof capabilities === 'object' &&
    !Array.isArray(capabilities) &&
    !Buffer.isBuffer(capabilities);
  const table = isTable ? (capabilities as FieldTable) : {};
  return {
    consumerCancelNotify: table['consumer_cancel_notify'] === true,
    connectionBlocked: table['connection.blocked'] === true,
    authenticationFailureClose: table['authentication_failure_close'] === true,
  };
}

/**
 * Why a login is refused, or null when it is not: a failed authentication, or a loopback-only
 * user (RabbitMQ's loopback_users) connecting from elsewhere. Never names the password.
 */
export function loginRefusal(
  result: AuthenticationResult,
  loopbackUsers: readonly string[],
  remoteAddress: string,
): string | null {
  if (result.user === null) return result.reason;
  if (loopbackUsers.includes(result.user.name) && !isLoopbackAddress(remoteAddress)) {
    return `user '${result.user.name}' can only connect via localhost`;
  }
  return null;
}

/**
 * The frame_max and channel_max a connection.tune-ok settles on, or RabbitMQ's 530 when the
 * client asks for more than the server offered (or a frame below the minimum).
 */
export function negotiateTune(
  method: Extract<AmqpMethod, { method: 'connection.tune-ok' }>,
  options: BrokerOptions,
): { frameMaxBytes: number; channelMax: number } {
  // RabbitMQ refuses 0 here; we read 0 as "the server's value", which serves every client.
  const frameMax = method.frameMax === 0 ? options.frameMaxBytes : method.frameMax;
  const channelMax = method.channelMax === 0 ? options.channelMax : method.channelMax;
  if (frameMax < FRAME_MIN_SIZE) {
    throw connectionError(
      NOT_ALLOWED,
      `negotiated frame_max = ${frameMax} is lower than the minimum allowed value (${FRAME_MIN_SIZE})`,
      10,
      31,
    );
  }
  if (frameMax > options.frameMaxBytes) {
    throw connectionError(
      NOT_ALLOWED,
      `negotiated frame_max = ${frameMax} is higher than the maximum allowed value (${options.frameMaxBytes})`,
      10,
      31,
    );
  }
  if (channelMax > options.channelMax) {
    throw connectionError(
      NOT_ALLOWED,
      `negotiated channel_max = ${channelMax} is higher than the maximum allowed value (${options.channelMax})`,
      10,
      31,
    );
  }
  return { frameMaxBytes: frameMax, channelMax };
}

/**
 * The vhost connection.open may open for `userName`: it must exist and be permitted, and
 * neither the node's connection limit nor the vhost's max-connections may be reached
 * (rabbit_reader's texts).
 */
export function vhostToOpen(
  vhostName: string,
  userName: string,
  vhosts: ReadonlyMap<string, VirtualHost>,
  access: AccessControl,
  connectionMax: number,
  openConnectionCount: number,
): VirtualHost {
  const vhost = vhosts.get(vhostName);
  if (vhost === undefined)
    throw connectionError(NOT_ALLOWED, `vhost ${vhostName} not found`, 10, 40);
  if (!access.canAccessVhost(userName, vhostName)) {
    throw connectionError(
      NOT_ALLOWED,
      `access to vhost '${vhostName}' refused for user '${userName}'`,
      10,
      40,
    );
  }
  if (connectionMax > 0 && openConnectionCount >= connectionMax) {
    throw connectionError(
      NOT_ALLOWED,
      `access to vhost '${vhostName}' refused for user '${userName}': node connection limit (${connectionMax}) is reached`,
      10,
      40,
    );
  }
  // The vhost's max-connections; 0 refuses every connection.
  const vhostConnectionMax = vhost.limits['max-connections'];
  if (
    vhostConnectionMax !== undefined &&
    vhostConnectionMax >= 0 &&
    vhost.openConnectionCount >= vhostConnectionMax
  ) {
    throw connectionError(
      NOT_ALLOWED,
      `access to vhost '${vhostName}' refused for user '${userName}': connection limit (${vhostConnectionMax}) is reached`,
      10,
      40,
    );
  }
  return vhost;
}

/** The CN of a verified TLS client certificate (EXTERNAL logs in as it), else null. */
export function verifiedCertificateName(socket: Socket): string | null {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return null;
  const commonName = socket.getPeerCertificate().subject?.CN;
  // A certificate may carry several CNs; RabbitMQ takes the first.
  const name = Array.isArray(commonName) ? commonName[0] : commonName;
  return typeof name === 'string' && name !== '' ? name : null;
}
