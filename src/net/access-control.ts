// Users, password checks and per-vhost permissions, as RabbitMQ's internal auth backend has
// them. Network thread only. Passwords are stored only as salted hashes in RabbitMQ's format
// (base64 of a 4-byte salt followed by hash(salt ++ password)), so definitions exported from
// RabbitMQ load unchanged.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type HashingAlgorithm =
  | 'rabbit_password_hashing_sha256'
  | 'rabbit_password_hashing_sha512'
  | 'rabbit_password_hashing_md5';

const HASH_NAMES: Record<HashingAlgorithm, string> = {
  rabbit_password_hashing_sha256: 'sha256',
  rabbit_password_hashing_sha512: 'sha512',
  rabbit_password_hashing_md5: 'md5',
};

export function isHashingAlgorithm(name: string): name is HashingAlgorithm {
  return Object.hasOwn(HASH_NAMES, name);
}

const SALT_BYTES = 4;

/** RabbitMQ's salted password hash, base64-encoded. */
export function hashPassword(
  password: string,
  algorithm: HashingAlgorithm = 'rabbit_password_hashing_sha256',
  salt: Buffer = randomBytes(SALT_BYTES),
): string {
  const digest = createHash(HASH_NAMES[algorithm]).update(salt).update(password, 'utf8').digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

export interface User {
  name: string;
  passwordHash: string;
  hashingAlgorithm: HashingAlgorithm;
  tags: string[];
}

export interface Permission {
  configure: string;
  write: string;
  read: string;
}

interface CompiledPermission {
  source: Permission;
  configure: RegExp;
  write: RegExp;
  read: RegExp;
}

export type PermissionKind = 'configure' | 'write' | 'read';

function compile(pattern: string): RegExp {
  // RabbitMQ matches the pattern anywhere unless anchored; the empty pattern matches nothing.
  if (pattern === '') return /(?!)/;
  return new RegExp(pattern);
}

/** Told of every change, so they can be written down. */
export interface AccessObserver {
  userChanged(name: string, user: User | null): void;
  permissionChanged(vhost: string, user: string, permission: Permission | null): void;
}

export class AccessControl {
  observer: AccessObserver | null = null;
  private readonly users = new Map<string, User>();
  /** permissions.get(vhost).get(user) */
  private readonly permissions = new Map<string, Map<string, CompiledPermission>>();
  /** Bumped on any permission change, so channels can cache their checks. */
  version = 0;

  putUser(user: User): void {
    this.users.set(user.name, user);
    this.version++;
    this.observer?.userChanged(user.name, user);
  }

  addUserWithPassword(name: string, password: string, tags: string[] = []): void {
    this.putUser({
      name,
      passwordHash: hashPassword(password),
      hashingAlgorithm: 'rabbit_password_hashing_sha256',
      tags,
    });
  }

  deleteUser(name: string): boolean {
    const existed = this.users.delete(name);
    for (const [vhost, perVhost] of this.permissions) {
      if (perVhost.delete(name)) this.observer?.permissionChanged(vhost, name, null);
    }
    this.version++;
    if (existed) this.observer?.userChanged(name, null);
    return existed;
  }

  getUser(name: string): User | undefined {
    return this.users.get(name);
  }

  listUsers(): User[] {
    return [...this.users.values()];
  }

  get userCount(): number {
    return this.users.size;
  }

  /** The user if `password` matches, else null. Constant-time in the hash comparison. */
  authenticate(name: string, password: string): User | null {
    const user = this.users.get(name);
    if (user === undefined || user.passwordHash === '') return null;
    const stored = Buffer.from(user.passwordHash, 'base64');
    if (stored.length <= SALT_BYTES) return null;
    const salt = stored.subarray(0, SALT_BYTES);
    const computed = Buffer.from(hashPassword(password, user.hashingAlgorithm, salt), 'base64');
    if (computed.length !== stored.length || !timingSafeEqual(computed, stored)) return null;
    return user;
  }

  setPermission(vhost: string, user: string, permission: Permission): void {
    let perVhost = this.permissions.get(vhost);
    if (perVhost === undefined) {
      perVhost = new Map();
      this.permissions.set(vhost, perVhost);
    }
    perVhost.set(user, {
      source: permission,
      configure: compile(permission.configure),
      write: compile(permission.write),
      read: compile(permission.read),
    });
    this.version++;
    this.observer?.permissionChanged(vhost, user, permission);
  }

  clearPermission(vhost: string, user: string): void {
    if (this.permissions.get(vhost)?.delete(user) === true)
      this.observer?.permissionChanged(vhost, user, null);
    this.version++;
  }

  clearVhost(vhost: string): void {
    this.permissions.delete(vhost);
    this.version++;
  }

  listPermissions(): { vhost: string; user: string; permission: Permission }[] {
    const result: { vhost: string; user: string; permission: Permission }[] = [];
    for (const [vhost, perVhost] of this.permissions) {
      for (const [user, compiled] of perVhost)
        result.push({ vhost, user, permission: compiled.source });
    }
    return result;
  }

  /** Whether the user has any permissions in the vhost (what connection.open needs). */
  canAccessVhost(user: string, vhost: string): boolean {
    return this.permissions.get(vhost)?.has(user) === true;
  }

  /** Whether the user may do `kind` on the named resource in the vhost. */
  isAllowed(user: string, vhost: string, kind: PermissionKind, resourceName: string): boolean {
    const compiled = this.permissions.get(vhost)?.get(user);
    if (compiled === undefined) return false;
    // The default exchange is checked under RabbitMQ's name for it.
    return compiled[kind].test(resourceName === '' ? 'amq.default' : resourceName);
  }
}
