// Users, password checks and per-vhost permissions, as RabbitMQ's internal auth backend has
// them. Network thread only. Passwords are stored only as hashes (password-hashing.ts): scrypt
// for passwords Warren hashes, RabbitMQ's salted SHA-256 format for users imported from it.

import { hashNewPasswordSync, type HashingAlgorithm, verifyPassword } from './password-hashing.js';

export {
  hashPassword,
  isHashingAlgorithm,
  type HashingAlgorithm,
  SCRYPT_ALGORITHM,
} from './password-hashing.js';

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

  /** Hashes with scrypt synchronously (~30 ms): for start-up, not for requests. */
  addUserWithPassword(name: string, password: string, tags: string[] = []): void {
    this.putUser({ name, ...hashNewPasswordSync(password), tags });
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

  /**
   * The user if `password` matches, else null. Async: scrypt runs off the event loop. A missing
   * user costs as much as a wrong password, so timing does not tell which users exist.
   */
  async authenticate(name: string, password: string): Promise<User | null> {
    const user = this.users.get(name);
    const isMatch = await verifyPassword(password, user ?? null);
    // The user may have changed while scrypt ran: only the stored hash checked counts.
    return isMatch && user !== undefined && this.users.get(name) === user ? user : null;
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
