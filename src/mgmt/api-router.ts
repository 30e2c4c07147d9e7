// Dispatches /api requests: finds the route by method and path, authenticates, checks the
// route's tag requirement, runs the handler, and turns every failure into RabbitMQ's JSON error
// body with its status. Network thread only.

import { type Broker, OperationError } from '../net/index.js';
import type { ApiContext, ApiReply, Route } from './api-types.js';
import {
  authenticateRequest,
  requireAdministrator,
  requireMonitor,
  requirePolicymaker,
} from './auth.js';
import { HttpError } from './http-errors.js';
import type { HttpReply, HttpRequest } from './http-server.js';
import { accessRoutes } from './routes/access.js';
import { bindingRoutes } from './routes/bindings.js';
import { clientRoutes } from './routes/clients.js';
import { definitionRoutes } from './routes/definitions.js';
import { exchangeRoutes } from './routes/exchanges.js';
import { healthRoutes } from './routes/health.js';
import { logLevelRoutes } from './routes/log-level.js';
import { overviewRoutes } from './routes/overview.js';
import { policyRoutes } from './routes/policies.js';
import { queueRoutes } from './routes/queues.js';
import { selectColumns } from './pagination.js';
import type { StatsSampler } from './stats-sampler.js';

interface CompiledRoute {
  route: Route;
  segments: string[];
}

const ROUTES: CompiledRoute[] = [
  ...healthRoutes,
  ...logLevelRoutes,
  ...overviewRoutes,
  ...accessRoutes,
  ...exchangeRoutes,
  ...queueRoutes,
  ...bindingRoutes,
  ...clientRoutes,
  ...definitionRoutes,
  ...policyRoutes,
].map((route) => ({ route, segments: route.path.split('/').slice(1) }));

function match(pattern: string[], segments: string[]): Record<string, string> | null {
  if (pattern.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const part = pattern[i]!;
    const segment = segments[i]!;
    if (part.startsWith(':')) params[part.slice(1)] = segment;
    else if (part !== segment) return null;
  }
  return params;
}

/** JSON with 64-bit integers from field tables written as numbers (or text beyond 2^53). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, entry: unknown) =>
    typeof entry === 'bigint'
      ? entry <= BigInt(Number.MAX_SAFE_INTEGER) && entry >= BigInt(Number.MIN_SAFE_INTEGER)
        ? Number(entry)
        : String(entry)
      : entry,
  );
}

export function errorReply(error: HttpError): HttpReply {
  return {
    status: error.status,
    contentType: 'application/json',
    body: toJson({ error: error.error, reason: error.reason }),
    headers: error.headers,
  };
}

/** An OperationError's AMQP reply code as RabbitMQ's API reports it. */
function fromOperationError(error: OperationError): HttpError {
  // The reply text starts with the AMQP constant name ("NOT_FOUND - ..."); RabbitMQ's API
  // puts the whole text in the reason.
  switch (error.replyCode) {
    case 404:
      return new HttpError(404, 'not_found', error.message);
    case 403:
      return new HttpError(403, 'access_refused', error.message);
    case 405:
      return new HttpError(400, 'resource_locked', error.message);
    case 406:
      return new HttpError(400, 'precondition_failed', error.message);
    default:
      return new HttpError(400, 'bad_request', error.message);
  }
}

export class ApiRouter {
  private readonly broker: Broker;
  private readonly sampler: StatsSampler;
  private readonly ports: { amqp: number; http: number };

  constructor(broker: Broker, sampler: StatsSampler, ports: { amqp: number; http: number }) {
    this.broker = broker;
    this.sampler = sampler;
    this.ports = ports;
  }

  async handle(request: HttpRequest): Promise<HttpReply> {
    try {
      return this.toHttp(await this.dispatch(request), request);
    } catch (error) {
      if (error instanceof HttpError) return errorReply(error);
      if (error instanceof OperationError) return errorReply(fromOperationError(error));
      throw error;
    }
  }

  private async dispatch(request: HttpRequest): Promise<ApiReply> {
    let found: { route: Route; params: Record<string, string> } | null = null;
    let isPathKnown = false;
    for (const compiled of ROUTES) {
      const params = match(compiled.segments, request.segments);
      if (params === null) continue;
      isPathKnown = true;
      if (compiled.route.method === request.method) {
        found = { route: compiled.route, params };
        break;
      }
    }
    if (found === null) {
      if (isPathKnown) throw new HttpError(405, 'method_not_allowed', 'Method Not Allowed');
      throw new HttpError(404, 'Object Not Found', 'Not Found');
    }
    const isBrowserPrompt = !request.headers.has('x-requested-with');
    const principal = await authenticateRequest(
      this.broker,
      request.headers.get('authorization'),
      request.remoteAddress,
      isBrowserPrompt,
    );
    if (found.route.access === 'administrator') requireAdministrator(principal);
    if (found.route.access === 'monitor') requireMonitor(principal);
    if (found.route.access === 'policymaker') requirePolicymaker(principal);
    const context: ApiContext = {
      broker: this.broker,
      sampler: this.sampler,
      principal,
      params: found.params,
      request,
      ports: this.ports,
    };
    return found.route.handle(context);
  }

  private toHttp(reply: ApiReply, request: HttpRequest): HttpReply {
    if (reply.json !== undefined) {
      return {
        status: reply.status,
        contentType: 'application/json',
        body: toJson(selectColumns(reply.json, request.query)),
        ...(reply.headers === undefined ? {} : { headers: reply.headers }),
      };
    }
    return {
      status: reply.status,
      contentType: reply.contentType ?? 'text/plain; charset=utf-8',
      body: reply.text ?? '',
      ...(reply.headers === undefined ? {} : { headers: reply.headers }),
    };
  }
}
