// One contract for both management HTTP engines (uWebSockets.js and node:http), run against each
// that this Node.js can load: requests arrive decoded and whole, limits and failures answer as
// documented, close() stops listening, and a taken port fails start-up with the errno as code.
// Also the engine choice itself: uWebSockets.js wherever its binary loads, node:http elsewhere.

import { createServer } from 'node:net';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type HttpEngineName,
  type HttpReply,
  type HttpRequest,
  type HttpServer,
  startHttpServer,
  uwsUnavailableReason,
} from '../../dist/mgmt/http-server.js';

const T = 15_000;
const HOST = '127.0.0.1';
const uwsReason = uwsUnavailableReason();
const ENGINES: { engine: HttpEngineName; skipReason: string | null }[] = [
  { engine: 'uWebSockets.js', skipReason: uwsReason },
  { engine: 'node:http', skipReason: null },
];

interface Echo {
  method: string;
  segments: string[];
  query: Record<string, string>;
  header: string | null;
  remoteAddress: string;
  bodyBytes: number;
  bodyHead: string;
}

/** The handler every engine gets: echoes the request as JSON, or fails on /fail. */
async function echo(incoming: HttpRequest): Promise<HttpReply> {
  if (incoming.segments[0] === 'fail') throw new Error('handler failed on purpose');
  const body: Echo = {
    method: incoming.method,
    segments: incoming.segments,
    query: Object.fromEntries(incoming.query),
    header: incoming.headers.get('x-warren-test') ?? null,
    remoteAddress: incoming.remoteAddress,
    bodyBytes: incoming.body.byteLength,
    bodyHead: incoming.body.subarray(0, 16).toString('utf8'),
  };
  return {
    status: 200,
    contentType: 'application/json',
    body: JSON.stringify(body),
    headers: { 'X-Echo': 'yes' },
  };
}

const servers: HttpServer[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function start(engine: HttpEngineName, port = 0, errors: Error[] = []): Promise<HttpServer> {
  const server = await startHttpServer(
    { host: HOST, port, tls: null, handle: echo, onUnexpectedError: (error) => errors.push(error) },
    engine,
  );
  servers.push(server);
  return server;
}

/** A port no one listens on (bound then released). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen({ host: HOST, port: 0 }, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** A raw HTTP request whose Content-Length says more than is sent. */
function claimLength(port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request({
      host: HOST,
      port,
      method: 'PUT',
      path: '/big',
      headers: { 'Content-Length': String(bytes) },
    });
    outgoing.on('response', (reply) => {
      reply.resume();
      resolve(reply.statusCode ?? 0);
      outgoing.destroy();
    });
    outgoing.on('error', reject);
    outgoing.write('x'.repeat(1024));
  });
}

describe.each(ENGINES)('management HTTP engine $engine', ({ engine, skipReason }) => {
  // A version without a uWebSockets.js binary runs the node:http half only (the reason shows).
  const test = skipReason === null ? it : it.skip;
  if (skipReason !== null) it.skip(`(skipped: ${skipReason})`, () => {});

  test(
    'hands the handler a decoded request and writes its reply',
    async () => {
      expect.hasAssertions();
      const server = await start(engine);
      expect(server.engine).toBe(engine);
      const response = await fetch(
        `http://${HOST}:${server.port}/api/queues/%2F/a%20b?page=2&name=x%26y`,
        { headers: { 'X-Warren-Test': 'hello' } },
      );
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(response.headers.get('x-echo')).toBe('yes');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      const body = (await response.json()) as Echo;
      expect(body).toMatchObject({
        method: 'GET',
        segments: ['api', 'queues', '/', 'a b'],
        query: { page: '2', name: 'x&y' },
        header: 'hello',
        bodyBytes: 0,
      });
      expect(body.remoteAddress).toMatch(/127\.0\.0\.1$/);
    },
    T,
  );

  test(
    'reads a large body whole',
    async () => {
      expect.hasAssertions();
      const server = await start(engine);
      const payload = Buffer.alloc(3 * 1024 * 1024 + 17, 'q');
      payload.write('{"start":true}', 0);
      const response = await fetch(`http://${HOST}:${server.port}/api/definitions`, {
        method: 'POST',
        body: payload,
      });
      const body = (await response.json()) as Echo;
      expect(body).toMatchObject({
        method: 'POST',
        bodyBytes: payload.byteLength,
        bodyHead: '{"start":true}qq',
      });
    },
    T,
  );

  test(
    'answers 400 to bad percent-encoding, 413 to a body over 32 MiB, 500 when the handler throws',
    async () => {
      expect.hasAssertions();
      const errors: Error[] = [];
      const server = await start(engine, 0, errors);
      const bad = await fetch(`http://${HOST}:${server.port}/api/%E0%A4%A`);
      expect(bad.status).toBe(400);
      expect(await claimLength(server.port, 33 * 1024 * 1024)).toBe(413);
      const failed = await fetch(`http://${HOST}:${server.port}/fail`);
      expect(failed.status).toBe(500);
      expect(await failed.json()).toEqual({
        error: 'internal_server_error',
        reason: 'Error: handler failed on purpose',
      });
      expect(errors.map((error) => error.message)).toEqual(['handler failed on purpose']);
    },
    T,
  );

  test(
    'refuses a taken port with EADDRINUSE, whichever engine or program holds it',
    async () => {
      expect.hasAssertions();
      for (const holder of ENGINES) {
        if (holder.skipReason !== null) continue;
        const first = await start(holder.engine);
        const failure = (await start(engine, first.port).then(
          () => new Error('second server listened'),
          (error: unknown) => error,
        )) as Error & Record<string, unknown>;
        expect(failure.message).toBe(`management port ${first.port} on ${HOST} is already in use`);
        expect(failure).toMatchObject({
          code: 'EADDRINUSE',
          setting: 'mgmtPort',
          port: first.port,
          address: HOST,
        });
        // The first keeps answering alone.
        expect((await fetch(`http://${HOST}:${first.port}/x`)).status).toBe(200);
      }
      const plain = createServer();
      await new Promise<void>((resolve) => plain.listen({ host: HOST, port: 0 }, resolve));
      const { port } = plain.address() as { port: number };
      await expect(start(engine, port)).rejects.toMatchObject({ code: 'EADDRINUSE', port });
      plain.close();
    },
    T,
  );

  test(
    'close() stops listening, also with a keep-alive connection open',
    async () => {
      expect.hasAssertions();
      const server = await start(engine, await freePort());
      const agent = await fetch(`http://${HOST}:${server.port}/keep`, {
        headers: { Connection: 'keep-alive' },
      });
      expect(agent.status).toBe(200);
      await agent.text();
      server.close();
      await expect(fetch(`http://${HOST}:${server.port}/after`)).rejects.toThrow();
      // The port is free again.
      const again = await start(engine, server.port);
      expect(again.port).toBe(server.port);
    },
    T,
  );
});

describe('management HTTP engine choice', () => {
  it('serves with uWebSockets.js exactly where its binary loads', async () => {
    expect.hasAssertions();
    const server = await startHttpServer({
      host: HOST,
      port: 0,
      tls: null,
      handle: echo,
      onUnexpectedError: () => {},
    });
    servers.push(server);
    expect(server.engine).toBe(uwsReason === null ? 'uWebSockets.js' : 'node:http');
    // The package ships binaries for Node 16, 18 and 20 (ABI 93, 108, 115) on linux-x64.
    const hasBinary = ['93', '108', '115'].includes(process.versions.modules);
    if (process.platform === 'linux' && process.arch === 'x64') {
      expect(uwsReason === null).toBe(hasBinary);
    }
  });
});
