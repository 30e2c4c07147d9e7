// Who is asking: HTTP Basic credentials checked against the broker's users, and what their
// management tags let them see, as RabbitMQ's management plugin decides it. Administrators and
// monitoring users see every vhost; management users only the vhosts they hold permissions in.

import type { Broker } from '../net/index.js';
import { isLoopbackAddress } from '../util/index.js';
import { HttpError, notAuthorised } from './http-errors.js';

export interface Principal {
  name: string;
  tags: string[];
  isAdministrator: boolean;
  /** administrator or monitoring: sees every vhost, connection and channel. */
  isMonitor: boolean;
  /** administrator or policymaker: may set policies in the vhosts it can see. */
  isPolicymaker: boolean;
}

const MANAGEMENT_TAGS = ['administrator', 'monitoring', 'policymaker', 'management'];

/** Reads "Basic base64(user:password)"; null when absent or malformed. */
export function parseBasicAuthorization(
  header: string | undefined,
): { user: string; password: string } | null {
  if (header === undefined) return null;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (match === null) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * The principal for a request, or a 401 HttpError with RabbitMQ's reason. `isBrowserPrompt`
 * asks for the WWW-Authenticate header (not wanted by the UI's own login form).
 */
export async function authenticateRequest(
  broker: Broker,
  header: string | undefined,
  remoteAddress: string,
  isBrowserPrompt: boolean,
): Promise<Principal> {
  const credentials = parseBasicAuthorization(header);
  if (credentials === null) throw notAuthorised('Not_Authorized', isBrowserPrompt);
  // Async: a scrypt hash is checked on the thread pool, not on the network thread.
  const user = await broker.access.authenticate(credentials.user, credentials.password);
  if (user === null) throw notAuthorised('Login failed', isBrowserPrompt);
  if (broker.options.loopbackUsers.includes(user.name) && !isLoopbackAddress(remoteAddress)) {
    throw notAuthorised('User can only log in via localhost', isBrowserPrompt);
  }
  if (!user.tags.some((tag) => MANAGEMENT_TAGS.includes(tag))) {
    throw notAuthorised('Not management user', isBrowserPrompt);
  }
  const isAdministrator = user.tags.includes('administrator');
  return {
    name: user.name,
    tags: user.tags,
    isAdministrator,
    isMonitor: isAdministrator || user.tags.includes('monitoring'),
    isPolicymaker: isAdministrator || user.tags.includes('policymaker'),
  };
}

export function requireAdministrator(principal: Principal): void {
  if (!principal.isAdministrator) throw notAuthorised('Not administrator user');
}

export function requirePolicymaker(principal: Principal): void {
  if (!principal.isPolicymaker) throw notAuthorised('Not policymaker user');
}

export function requireMonitor(principal: Principal): void {
  if (!principal.isMonitor) throw notAuthorised('Not monitor user');
}

/** Whether the principal may see things in `vhost`. */
export function canSeeVhost(broker: Broker, principal: Principal, vhost: string): boolean {
  return principal.isMonitor || broker.access.canAccessVhost(principal.name, vhost);
}

/**
 * For resource operations: the vhost must exist (404) and the user must hold permissions in
 * it (401, RabbitMQ's "not authorised to access virtual host"), administrators included.
 */
export function requireVhostAccess(broker: Broker, principal: Principal, vhost: string): void {
  if (!broker.vhosts.has(vhost)) throw new HttpError(404, 'Object Not Found', 'Not Found');
  if (!broker.access.canAccessVhost(principal.name, vhost)) {
    throw notAuthorised('User not authorised to access virtual host');
  }
}

/** A configure/write/read permission check on one resource, as AMQP does it. */
export function requirePermission(
  broker: Broker,
  principal: Principal,
  vhost: string,
  kind: 'configure' | 'write' | 'read',
  resourceKind: 'queue' | 'exchange',
  name: string,
): void {
  requireVhostAccess(broker, principal, vhost);
  if (!broker.access.isAllowed(principal.name, vhost, kind, name)) {
    throw notAuthorised(
      `access to ${resourceKind} '${name}' in vhost '${vhost}' refused for user '${principal.name}'`,
    );
  }
}
