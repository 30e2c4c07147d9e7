// Unit tests for users, password hashes and permissions as RabbitMQ's internal backend has them:
// the rabbit_password_hashing_sha256 format (base64 of a 4-byte salt and SHA-256(salt ++ password))
// with RabbitMQ's own test vectors, sha512 and md5 hashes, and permission regexes that match
// anywhere unless anchored, match nothing when empty, and see the default exchange as amq.default.

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AccessControl, hashPassword, isHashingAlgorithm } from './access-control.js';
import {
  hashNewPassword,
  hashNewPasswordSync,
  scryptComputations,
  SCRYPT_ALGORITHM,
  verifyPassword,
} from './password-hashing.js';

const SALT = Buffer.from('908DC60A', 'hex');

describe('password hashes', () => {
  it('hashes test12 with salt 908DC60A exactly as RabbitMQ does', () => {
    expect(hashPassword('test12', 'rabbit_password_hashing_sha256', SALT)).toBe(
      'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR',
    );
  });

  it.each([
    ['test12', 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR'],
    ['foobarbaz', 'TBybOvomyVw6BqBU/fHCEpVhDO7fLdQ4kxZDUpt6hagCxV8I'],
  ])('reproduces RabbitMQ vector %j from the salt it carries', (password, expected) => {
    const salt = Buffer.from(expected, 'base64').subarray(0, 4);
    expect(hashPassword(password, 'rabbit_password_hashing_sha256', salt)).toBe(expected);
  });

  it('defaults to sha256 with a fresh 4-byte salt', () => {
    const first = Buffer.from(hashPassword('secret'), 'base64');
    const second = Buffer.from(hashPassword('secret'), 'base64');
    expect(first.length).toBe(4 + 32);
    expect(first.equals(second)).toBe(false);
    const salt = first.subarray(0, 4);
    const digest = createHash('sha256').update(salt).update('secret').digest();
    expect(first.subarray(4).equals(digest)).toBe(true);
  });

  it.each([
    ['rabbit_password_hashing_sha512', 4 + 64],
    ['rabbit_password_hashing_md5', 4 + 16],
  ] as const)('%s hashes are salt plus digest (%i bytes)', (algorithm, bytes) => {
    const hash = Buffer.from(hashPassword('pw', algorithm, SALT), 'base64');
    expect(hash.length).toBe(bytes);
    expect(hash.subarray(0, 4).equals(SALT)).toBe(true);
  });

  it('hashes UTF-8 passwords', () => {
    const hash = Buffer.from(
      hashPassword('pässwörd', 'rabbit_password_hashing_sha256', SALT),
      'base64',
    );
    const digest = createHash('sha256')
      .update(SALT)
      .update(Buffer.from('pässwörd', 'utf8'))
      .digest();
    expect(hash.subarray(4).equals(digest)).toBe(true);
  });

  it('knows RabbitMQ algorithm names and Warren scrypt', () => {
    expect(isHashingAlgorithm('warren_password_hashing_scrypt')).toBe(true);
    expect(isHashingAlgorithm('rabbit_password_hashing_sha256')).toBe(true);
    expect(isHashingAlgorithm('rabbit_password_hashing_sha512')).toBe(true);
    expect(isHashingAlgorithm('rabbit_password_hashing_md5')).toBe(true);
    expect(isHashingAlgorithm('sha256')).toBe(false);
    expect(isHashingAlgorithm('toString')).toBe(false);
  });
});

describe('authentication', () => {
  it('accepts the password of an imported RabbitMQ hash and refuses others', async () => {
    const access = new AccessControl();
    access.putUser({
      name: 'u',
      passwordHash: 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR',
      hashingAlgorithm: 'rabbit_password_hashing_sha256',
      tags: [],
    });
    expect((await access.authenticate('u', 'test12'))?.name).toBe('u');
    expect(await access.authenticate('u', 'test13')).toBeNull();
    expect(await access.authenticate('u', '')).toBeNull();
    expect(await access.authenticate('other', 'test12')).toBeNull();
  });

  it.each(['rabbit_password_hashing_sha512', 'rabbit_password_hashing_md5'] as const)(
    'checks %s hashes',
    async (algorithm) => {
      const access = new AccessControl();
      access.putUser({
        name: 'u',
        passwordHash: hashPassword('pw', algorithm),
        hashingAlgorithm: algorithm,
        tags: [],
      });
      expect(await access.authenticate('u', 'pw')).not.toBeNull();
      expect(await access.authenticate('u', 'pW')).toBeNull();
    },
  );

  it('refuses every password for a user with an empty or broken hash', async () => {
    const access = new AccessControl();
    access.putUser({
      name: 'none',
      passwordHash: '',
      hashingAlgorithm: 'rabbit_password_hashing_sha256',
      tags: [],
    });
    access.putUser({
      name: 'short',
      passwordHash: 'AAAA',
      hashingAlgorithm: 'rabbit_password_hashing_sha256',
      tags: [],
    });
    expect(await access.authenticate('none', '')).toBeNull();
    expect(await access.authenticate('none', 'x')).toBeNull();
    expect(await access.authenticate('short', '')).toBeNull();
  });

  it('a hash made with one algorithm does not verify under another', async () => {
    const access = new AccessControl();
    access.putUser({
      name: 'u',
      passwordHash: hashPassword('pw', 'rabbit_password_hashing_sha256', SALT),
      hashingAlgorithm: 'rabbit_password_hashing_sha512',
      tags: [],
    });
    expect(await access.authenticate('u', 'pw')).toBeNull();
  });

  it('deleteUser removes the user and its permissions', async () => {
    const access = new AccessControl();
    access.addUserWithPassword('u', 'pw');
    access.setPermission('/', 'u', { configure: '.*', write: '.*', read: '.*' });
    expect(access.deleteUser('u')).toBe(true);
    expect(await access.authenticate('u', 'pw')).toBeNull();
    expect(access.canAccessVhost('u', '/')).toBe(false);
    expect(access.deleteUser('u')).toBe(false);
  });
});

describe('scrypt passwords', () => {
  it('stores new passwords as scrypt with their parameters, each with its own salt', async () => {
    const first = await hashNewPassword('secret');
    const second = hashNewPasswordSync('secret');
    expect(first.hashingAlgorithm).toBe(SCRYPT_ALGORITHM);
    expect(second.hashingAlgorithm).toBe(SCRYPT_ALGORITHM);
    const bytes = Buffer.from(first.passwordHash, 'base64');
    // log2 N, r, p, a 16-byte salt, a 32-byte key.
    expect(bytes.length).toBe(3 + 16 + 32);
    expect([...bytes.subarray(0, 3)]).toEqual([14, 1, 8]);
    expect(first.passwordHash).not.toBe(second.passwordHash);
    expect(await verifyPassword('secret', first)).toBe(true);
    expect(await verifyPassword('secret', second)).toBe(true);
    expect(await verifyPassword('Secret', first)).toBe(false);
    expect(await verifyPassword('secret', null)).toBe(false);
  });

  it('remembers a verified password, never a wrong one, and not across a new hash', async () => {
    const stored = hashNewPasswordSync('pw');
    const before = scryptComputations();
    expect(await verifyPassword('pw', stored)).toBe(true);
    expect(await verifyPassword('pw', stored)).toBe(true);
    expect(await verifyPassword('pw', stored)).toBe(true);
    expect(scryptComputations() - before).toBe(1);
    // A wrong password always costs scrypt, remembered right one or not.
    expect(await verifyPassword('px', stored)).toBe(false);
    expect(await verifyPassword('px', stored)).toBe(false);
    expect(scryptComputations() - before).toBe(3);
    // The same password under a new hash (a changed password, a new salt) is checked afresh.
    expect(await verifyPassword('pw', hashNewPasswordSync('pw'))).toBe(true);
    expect(scryptComputations() - before).toBe(4);
  });

  it('logs in users added with a plain password, and not with a wrong one', async () => {
    const access = new AccessControl();
    access.addUserWithPassword('u', 'pw');
    expect(access.getUser('u')?.hashingAlgorithm).toBe(SCRYPT_ALGORITHM);
    expect((await access.authenticate('u', 'pw'))?.name).toBe('u');
    expect(await access.authenticate('u', 'pw ')).toBeNull();
    expect(await access.authenticate('nobody', 'pw')).toBeNull();
  });

  it('refuses malformed scrypt hashes and parameters beyond the memory cap', async () => {
    const good = Buffer.from(hashNewPasswordSync('pw').passwordHash, 'base64');
    const withHeader = (header: number[]) =>
      Buffer.concat([Buffer.from(header), good.subarray(3)]).toString('base64');
    for (const passwordHash of [
      '',
      'AAAA',
      good.subarray(0, 40).toString('base64'),
      withHeader([30, 8, 1]),
      withHeader([0, 8, 1]),
      withHeader([14, 0, 1]),
    ]) {
      expect(
        await verifyPassword('pw', { passwordHash, hashingAlgorithm: SCRYPT_ALGORITHM }),
        passwordHash,
      ).toBe(false);
    }
  });

  it('checks many logins at once, a few at a time, each getting its own answer', async () => {
    const stored = hashNewPasswordSync('pw');
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        verifyPassword(index % 2 === 0 ? 'pw' : 'no', stored),
      ),
    );
    expect(results).toEqual([true, false, true, false, true, false, true, false]);
  });

  it('does not accept a password checked against a hash replaced meanwhile', async () => {
    const access = new AccessControl();
    access.addUserWithPassword('u', 'old');
    const pending = access.authenticate('u', 'old');
    access.addUserWithPassword('u', 'new');
    expect(await pending).toBeNull();
  });
});

describe('permissions', () => {
  function accessWith(configure: string, write: string, read: string): AccessControl {
    const access = new AccessControl();
    access.addUserWithPassword('u', 'pw');
    access.setPermission('/', 'u', { configure, write, read });
    return access;
  }

  it('regexes match anywhere in the name unless anchored', () => {
    const access = accessWith('foo', '^foo$', 'foo$');
    expect(access.isAllowed('u', '/', 'configure', 'foo')).toBe(true);
    expect(access.isAllowed('u', '/', 'configure', 'xfooy')).toBe(true);
    expect(access.isAllowed('u', '/', 'configure', 'fo')).toBe(false);
    expect(access.isAllowed('u', '/', 'write', 'foo')).toBe(true);
    expect(access.isAllowed('u', '/', 'write', 'xfoo')).toBe(false);
    expect(access.isAllowed('u', '/', 'read', 'xfoo')).toBe(true);
    expect(access.isAllowed('u', '/', 'read', 'foox')).toBe(false);
  });

  it('an empty regex matches nothing, not even the empty name', () => {
    const access = accessWith('', '', '.*');
    expect(access.isAllowed('u', '/', 'configure', 'q')).toBe(false);
    expect(access.isAllowed('u', '/', 'configure', '')).toBe(false);
    expect(access.isAllowed('u', '/', 'write', 'amq.default')).toBe(false);
    expect(access.isAllowed('u', '/', 'read', 'anything')).toBe(true);
  });

  it('.* matches everything', () => {
    const access = accessWith('.*', '.*', '.*');
    for (const name of ['', 'q', 'amq.gen-abc', 'a.b.c', 'ünïcode']) {
      expect(access.isAllowed('u', '/', 'configure', name)).toBe(true);
    }
  });

  it('checks the default exchange under the name amq.default', () => {
    const access = accessWith('.*', '^amq\\.default$', '^$');
    expect(access.isAllowed('u', '/', 'write', '')).toBe(true);
    expect(access.isAllowed('u', '/', 'write', 'amq.direct')).toBe(false);
    // "^$" would match the empty name itself, but the default exchange is amq.default.
    expect(access.isAllowed('u', '/', 'read', '')).toBe(false);
  });

  it('keeps the three kinds apart', () => {
    const access = accessWith('^c', '^w', '^r');
    expect(access.isAllowed('u', '/', 'configure', 'c1')).toBe(true);
    expect(access.isAllowed('u', '/', 'configure', 'w1')).toBe(false);
    expect(access.isAllowed('u', '/', 'write', 'w1')).toBe(true);
    expect(access.isAllowed('u', '/', 'read', 'r1')).toBe(true);
    expect(access.isAllowed('u', '/', 'read', 'c1')).toBe(false);
  });

  it('are per vhost and per user', () => {
    const access = accessWith('.*', '.*', '.*');
    access.addUserWithPassword('v', 'pw');
    expect(access.isAllowed('u', 'other', 'read', 'q')).toBe(false);
    expect(access.isAllowed('v', '/', 'read', 'q')).toBe(false);
    expect(access.canAccessVhost('u', '/')).toBe(true);
    expect(access.canAccessVhost('u', 'other')).toBe(false);
    expect(access.canAccessVhost('v', '/')).toBe(false);
  });

  it('a permission entry with only empty regexes still opens the vhost', () => {
    const access = accessWith('', '', '');
    expect(access.canAccessVhost('u', '/')).toBe(true);
    expect(access.isAllowed('u', '/', 'read', 'q')).toBe(false);
  });

  it('clearing permissions closes the vhost, and every change bumps the version', () => {
    const access = accessWith('.*', '.*', '.*');
    const before = access.version;
    access.clearPermission('/', 'u');
    expect(access.version).toBeGreaterThan(before);
    expect(access.canAccessVhost('u', '/')).toBe(false);
    expect(access.isAllowed('u', '/', 'read', 'q')).toBe(false);
    access.setPermission('/', 'u', { configure: '', write: '', read: 'q' });
    access.clearVhost('/');
    expect(access.canAccessVhost('u', '/')).toBe(false);
  });

  it('lists what was set', () => {
    const access = accessWith('a', 'b', 'c');
    expect(access.listPermissions()).toEqual([
      { vhost: '/', user: 'u', permission: { configure: 'a', write: 'b', read: 'c' } },
    ]);
  });
});
