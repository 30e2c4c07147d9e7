// The shapes shared by every API route: the context a handler receives, what it returns, and
// the route table entry. Network thread only.

import type { Broker } from '../net/index.js';
import type { Principal } from './auth.js';
import { badRequest } from './http-errors.js';
import type { HttpRequest } from './http-server.js';
import { StatsDetails } from './stats-details.js';
import type { StatsSampler } from './stats-sampler.js';

/** Who may call a route: anyone with a management tag, monitors, policymakers or administrators. */
export type RouteAccess = 'management' | 'monitor' | 'policymaker' | 'administrator';

export interface ApiContext {
  broker: Broker;
  sampler: StatsSampler;
  principal: Principal;
  /** The `:name` parts of the route's path, percent-decoded. */
  params: Record<string, string>;
  request: HttpRequest;
  /** The ports the broker listens on, for /api/overview and the port-listener check. */
  ports: { amqp: number; http: number };
}

export interface ApiReply {
  status: number;
  /** Sent as JSON unless undefined (then the body is empty). */
  json?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Like '/api/queues/:vhost/:name'. */
  path: string;
  access: RouteAccess;
  handle(context: ApiContext): Promise<ApiReply> | ApiReply;
}

/** A fresh enough sample, and details shaped by the request's *_age/*_incr parameters. */
export async function sampledStats(context: ApiContext): Promise<StatsDetails> {
  await context.sampler.latest();
  return new StatsDetails(context.sampler, context.request.query);
}

export function ok(json: unknown): ApiReply {
  return { status: 200, json };
}

/** 201 for a resource that is new, 204 for one that was updated (RabbitMQ's answers to PUT). */
export function createdOrUpdated(isNew: boolean): ApiReply {
  return { status: isNew ? 201 : 204 };
}

export function noContent(): ApiReply {
  return { status: 204 };
}

/** The request body as a JSON object; an empty body is {}. 400 for anything else. */
export function jsonBody(context: ApiContext): Record<string, unknown> {
  const body = context.request.body;
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw badRequest(`failed to decode json: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('expected a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Reads an optional boolean field; RabbitMQ also accepts "true"/"false" strings. */
export function booleanField(
  body: Record<string, unknown>,
  name: string,
  fallback: boolean,
): boolean {
  const value = body[name];
  if (value === undefined || value === null) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw badRequest(`${name} must be true or false`);
}

export function stringField(
  body: Record<string, unknown>,
  name: string,
  fallback: string | null,
): string {
  const value = body[name];
  if (value === undefined || value === null) {
    if (fallback === null) throw badRequest(`missing field '${name}'`);
    return fallback;
  }
  if (typeof value !== 'string') throw badRequest(`${name} must be a string`);
  return value;
}

export function objectField(body: Record<string, unknown>, name: string): Record<string, unknown> {
  const value = body[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest(`${name} must be an object`);
  }
  return value as Record<string, unknown>;
}
