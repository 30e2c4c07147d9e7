// End-to-end: amqps. The TLS listener speaks the same AMQP as the plain one (amqplib over
// amqps with the test CA), refuses clients without a certificate when peer verification is on,
// logs in with EXTERNAL as the certificate's CN, and a failed TLS handshake harms no one else.
// Certificates: test/fixtures/tls (test-only, see its README).

import { readFileSync } from 'node:fs';
import { connect as connectTls } from 'node:tls';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { rejectionOf, TEST_TIMEOUT_MS } from '../helpers/e2e.js';

const T = TEST_TIMEOUT_MS;
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/tls');
const fixture = (name: string) => join(FIXTURES, name);
const ca = readFileSync(fixture('ca.pem'));

describe('amqps', () => {
  let broker: TestBroker;
  let verifying: TestBroker;
  beforeAll(async () => {
    const tls = {
      tlsPort: 0,
      tlsCertFile: fixture('server.pem'),
      tlsKeyFile: fixture('server.key'),
    };
    broker = await startTestBroker({ shardCount: 1, ...tls });
    verifying = await startTestBroker({
      shardCount: 1,
      ...tls,
      tlsCaFile: fixture('ca.pem'),
      isTlsVerifyPeer: true,
    });
  });
  afterAll(async () => {
    await broker?.close();
    await verifying?.close();
  });

  it(
    'carries AMQP over TLS: publish and get with amqplib',
    async () => {
      expect(broker.tlsPort).toBeGreaterThan(0);
      const connection = await amqp.connect(`amqps://guest:guest@localhost:${broker.tlsPort}`, {
        ca: [ca],
      });
      try {
        const channel = await connection.createConfirmChannel();
        const { queue } = await channel.assertQueue('', { exclusive: true });
        channel.sendToQueue(queue, Buffer.from('over tls'));
        await channel.waitForConfirms();
        const message = await channel.get(queue, { noAck: true });
        expect(message !== false && message.content.toString()).toBe('over tls');
      } finally {
        await connection.close();
      }
    },
    T,
  );

  it(
    'a client that does not trust the certificate fails its handshake; the listener goes on',
    async () => {
      const error = await rejectionOf(
        amqp.connect(`amqps://guest:guest@localhost:${broker.tlsPort}`),
      );
      expect(error.message).toMatch(/self.signed|unable to verify|certificate/i);
      // Plain bytes on the TLS port are a failed handshake too.
      const plain = connectTls({
        port: broker.tlsPort!,
        host: '127.0.0.1',
        ca: [ca],
        servername: 'localhost',
      });
      await new Promise((resolve) => plain.once('secureConnect', resolve));
      plain.destroy();
      const connection = await amqp.connect(`amqps://guest:guest@localhost:${broker.tlsPort}`, {
        ca: [ca],
      });
      expect(connection).toBeDefined();
      await connection.close();
    },
    T,
  );

  it(
    'with peer verification: no certificate is refused, a client certificate logs in with EXTERNAL',
    async () => {
      const refused = await rejectionOf(
        amqp.connect(`amqps://guest:guest@localhost:${verifying.tlsPort}`, { ca: [ca] }),
      );
      expect(refused).toBeInstanceOf(Error);
      const clientTls = {
        ca: [ca],
        cert: readFileSync(fixture('client.pem')),
        key: readFileSync(fixture('client.key')),
      };
      // The certificate's CN is 'guest': EXTERNAL needs no password.
      const connection = await amqp.connect(
        { protocol: 'amqps', hostname: 'localhost', port: verifying.tlsPort!, vhost: '/' },
        { ...clientTls, credentials: amqp.credentials.external() },
      );
      try {
        const channel = await connection.createChannel();
        const { queue } = await channel.assertQueue('', { exclusive: true });
        expect(queue).toMatch(/^amq\.gen-/);
      } finally {
        await connection.close();
      }
      // PLAIN still works on a verified connection.
      const plain = await amqp.connect(
        `amqps://guest:guest@localhost:${verifying.tlsPort}`,
        clientTls,
      );
      await plain.close();
      expect(plain).toBeDefined();
    },
    T,
  );

  it(
    'EXTERNAL without a client certificate is refused with 403',
    async () => {
      const error = await rejectionOf(
        amqp.connect(
          { protocol: 'amqps', hostname: 'localhost', port: broker.tlsPort!, vhost: '/' },
          { ca: [ca], credentials: amqp.credentials.external() },
        ),
      );
      expect(error.message).toMatch(/ACCESS_REFUSED|403|EXTERNAL/);
    },
    T,
  );
});
