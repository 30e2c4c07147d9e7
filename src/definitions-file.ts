// Edits a RabbitMQ-format definitions file in place: the users, vhosts and permissions the
// `warren users|vhosts|permissions` commands manage. The broker loads the same file at start.
// Passwords are written only as salted hashes (rabbit_password_hashing_sha256).

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { hashPassword } from './net/index.js';
import type { Definitions } from './net/index.js';

export function readDefinitionsFile(path: string): Definitions {
  if (!existsSync(path)) return {};
  return JSON.parse(readFileSync(path, 'utf8')) as Definitions;
}

/** Writes atomically (temp file + rename) so a crash never leaves half a file. */
export function writeDefinitionsFile(path: string, definitions: Definitions): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(definitions, null, 2)}\n`);
  renameSync(temporary, path);
}

export function putUser(
  definitions: Definitions,
  name: string,
  password: string,
  tags: string[],
): void {
  const users = (definitions.users ??= []).filter((user) => user.name !== name);
  users.push({
    name,
    password_hash: hashPassword(password),
    hashing_algorithm: 'rabbit_password_hashing_sha256',
    tags,
  });
  definitions.users = users;
}

export function deleteUser(definitions: Definitions, name: string): boolean {
  const before = definitions.users?.length ?? 0;
  definitions.users = (definitions.users ?? []).filter((user) => user.name !== name);
  definitions.permissions = (definitions.permissions ?? []).filter(
    (permission) => permission.user !== name,
  );
  return definitions.users.length !== before;
}

export function putVhost(definitions: Definitions, name: string): void {
  const vhosts = (definitions.vhosts ??= []);
  if (!vhosts.some((vhost) => vhost.name === name)) vhosts.push({ name });
}

export function deleteVhost(definitions: Definitions, name: string): boolean {
  const before = definitions.vhosts?.length ?? 0;
  definitions.vhosts = (definitions.vhosts ?? []).filter((vhost) => vhost.name !== name);
  definitions.permissions = (definitions.permissions ?? []).filter(
    (permission) => permission.vhost !== name,
  );
  return definitions.vhosts.length !== before;
}

export function setPermission(
  definitions: Definitions,
  vhost: string,
  user: string,
  configure: string,
  write: string,
  read: string,
): void {
  const permissions = (definitions.permissions ?? []).filter(
    (permission) => !(permission.user === user && permission.vhost === vhost),
  );
  permissions.push({ user, vhost, configure, write, read });
  definitions.permissions = permissions;
}

export function clearPermission(definitions: Definitions, vhost: string, user: string): boolean {
  const before = definitions.permissions?.length ?? 0;
  definitions.permissions = (definitions.permissions ?? []).filter(
    (permission) => !(permission.user === user && permission.vhost === vhost),
  );
  return definitions.permissions.length !== before;
}
