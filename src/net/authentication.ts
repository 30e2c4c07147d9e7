// SASL mechanisms for connection.start-ok: PLAIN ("\0user\0password", RabbitMQ refuses an
// authzid), AMQPLAIN (a field table body with LOGIN and PASSWORD) and, on TLS connections with a
// verified client certificate, EXTERNAL (the user named by the certificate's CN, as RabbitMQ's
// rabbitmq_auth_mechanism_ssl with ssl_cert_login_from = common_name). Network thread only.

import { ByteReader, ConnectionError } from '../codec/index.js';
import type { AccessControl, User } from './access-control.js';

export interface AuthenticationResult {
  user: User | null;
  /** Why a login failed, for the log only (never sent to the client). */
  reason: string;
  mechanism: string;
}

/**
 * `certificateName`: the verified client certificate's CN on a TLS connection, else null.
 * Async because checking a scrypt hash runs on the thread pool (~30 ms).
 */
export async function authenticate(
  access: AccessControl,
  mechanism: string,
  response: Buffer,
  certificateName: string | null = null,
): Promise<AuthenticationResult> {
  if (mechanism === 'EXTERNAL') {
    if (certificateName === null) {
      return { user: null, reason: 'EXTERNAL needs a verified client certificate', mechanism };
    }
    const user = access.getUser(certificateName) ?? null;
    return {
      user,
      reason: user === null ? `user '${certificateName}' (certificate CN) does not exist` : '',
      mechanism,
    };
  }
  const credentials =
    mechanism === 'PLAIN'
      ? parsePlain(response)
      : mechanism === 'AMQPLAIN'
        ? parseAmqplain(response)
        : null;
  if (credentials === null) {
    return { user: null, reason: `unsupported or malformed ${mechanism} response`, mechanism };
  }
  if (credentials.password === '') {
    return { user: null, reason: `user '${credentials.name}' - blank password`, mechanism };
  }
  const user = await access.authenticate(credentials.name, credentials.password);
  return {
    user,
    reason: user === null ? `user '${credentials.name}' - invalid credentials` : '',
    mechanism,
  };
}

function parsePlain(response: Buffer): { name: string; password: string } | null {
  if (response.length < 2 || response[0] !== 0) return null;
  const separator = response.indexOf(0, 1);
  if (separator < 0) return null;
  return {
    name: response.toString('utf8', 1, separator),
    password: response.toString('utf8', separator + 1),
  };
}

function parseAmqplain(response: Buffer): { name: string; password: string } | null {
  const table = Buffer.allocUnsafe(4 + response.length);
  table.writeUInt32BE(response.length, 0);
  response.copy(table, 4);
  try {
    const fields = new ByteReader().reset(table).table();
    const name = fields['LOGIN'];
    const password = fields['PASSWORD'];
    const asText = (value: unknown) =>
      Buffer.isBuffer(value) ? value.toString('utf8') : typeof value === 'string' ? value : null;
    const nameText = asText(name);
    const passwordText = asText(password);
    if (nameText === null || passwordText === null) return null;
    return { name: nameText, password: passwordText };
  } catch (error) {
    if (error instanceof ConnectionError) return null;
    throw error;
  }
}
