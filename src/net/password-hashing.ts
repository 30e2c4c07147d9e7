// Stored passwords: scrypt for every password Warren hashes itself, and RabbitMQ's salted
// SHA-256/512 and MD5 hashes (base64 of a 4-byte salt and hash(salt ++ password)) for users
// imported from RabbitMQ definitions, so those still log in. Verifying scrypt takes ~25 ms, so
// logins use the async form: it runs on libuv's thread pool, not the network thread's loop, and
// a password once verified is remembered as a keyed digest, so reconnecting clients do not pay
// scrypt again (RabbitMQ's auth cache plugin, in spirit).

import {
  createHash,
  createHmac,
  randomBytes,
  scrypt,
  scryptSync,
  timingSafeEqual,
} from 'node:crypto';
import { Fifo } from '../util/index.js';

export const SCRYPT_ALGORITHM = 'warren_password_hashing_scrypt';

export type HashingAlgorithm =
  | 'rabbit_password_hashing_sha256'
  | 'rabbit_password_hashing_sha512'
  | 'rabbit_password_hashing_md5'
  | typeof SCRYPT_ALGORITHM;

const RABBIT_HASH_NAMES: Record<string, string> = {
  rabbit_password_hashing_sha256: 'sha256',
  rabbit_password_hashing_sha512: 'sha512',
  rabbit_password_hashing_md5: 'md5',
};

export function isHashingAlgorithm(name: string): name is HashingAlgorithm {
  return Object.hasOwn(RABBIT_HASH_NAMES, name) || name === SCRYPT_ALGORITHM;
}

const RABBIT_SALT_BYTES = 4;

/** RabbitMQ's salted password hash, base64-encoded (for tests and RabbitMQ-format exports). */
export function hashPassword(
  password: string,
  algorithm: Exclude<HashingAlgorithm, typeof SCRYPT_ALGORITHM> = 'rabbit_password_hashing_sha256',
  salt: Buffer = randomBytes(RABBIT_SALT_BYTES),
): string {
  const digest = createHash(RABBIT_HASH_NAMES[algorithm]!)
    .update(salt)
    .update(password, 'utf8')
    .digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

/**
 * scrypt's cost: N = 2^14, r = 1, p = 8 takes ~25 ms and 2 MiB per computation. (r = 8, p = 1
 * costs the same time but 16 MiB, and glibc keeps such blocks in each of libuv's threads once
 * they have run one: 4 logins left the broker 48 MiB larger for good.) The stored hash carries
 * its parameters (base64 of log2 N, r, p, a 16-byte salt, a 32-byte key), so changing them
 * later leaves existing hashes valid.
 */
const SCRYPT_LOG2_COST = 14;
const SCRYPT_BLOCK_SIZE = 1;
const SCRYPT_PARALLELISM = 8;
const SCRYPT_SALT_BYTES = 16;
const SCRYPT_KEY_BYTES = 32;
const SCRYPT_PARAMETER_BYTES = 3;
/** Refuses stored parameters that would take more memory than this (a hostile import). */
const SCRYPT_MEMORY_MAX_BYTES = 256 * 1024 * 1024;

export interface StoredPassword {
  passwordHash: string;
  hashingAlgorithm: HashingAlgorithm;
}

function scryptHeader(salt: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([SCRYPT_LOG2_COST, SCRYPT_BLOCK_SIZE, SCRYPT_PARALLELISM]),
    salt,
  ]);
}

const scryptOptions = (log2Cost: number, blockSize: number, parallelism: number) => ({
  N: 2 ** log2Cost,
  r: blockSize,
  p: parallelism,
  maxmem: SCRYPT_MEMORY_MAX_BYTES,
});

/** A new password's stored form, blocking ~30 ms: for start-up and the `warren users` command. */
export function hashNewPasswordSync(password: string): StoredPassword {
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const key = scryptSync(
    password,
    salt,
    SCRYPT_KEY_BYTES,
    scryptOptions(SCRYPT_LOG2_COST, SCRYPT_BLOCK_SIZE, SCRYPT_PARALLELISM),
  );
  return {
    passwordHash: Buffer.concat([scryptHeader(salt), key]).toString('base64'),
    hashingAlgorithm: SCRYPT_ALGORITHM,
  };
}

/** A new password's stored form, off the event loop: for the management API. */
export async function hashNewPassword(password: string): Promise<StoredPassword> {
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const key = await scryptAsync(
    password,
    salt,
    SCRYPT_LOG2_COST,
    SCRYPT_BLOCK_SIZE,
    SCRYPT_PARALLELISM,
  );
  return {
    passwordHash: Buffer.concat([scryptHeader(salt), key]).toString('base64'),
    hashingAlgorithm: SCRYPT_ALGORITHM,
  };
}

/**
 * At most this many scrypt computations run at once. libuv's pool (4 threads) is shared with
 * the shards' log writes and fdatasyncs; a login storm must leave them threads, or confirms
 * would wait behind seconds of password checks. Logins beyond it wait their turn (about 80 a
 * second get through).
 */
const SCRYPT_RUNNING_MAX = 2;
let scryptRunning = 0;
let scryptComputationCount = 0;
const scryptWaiting = new Fifo<() => void>();

async function scryptAsync(
  password: string,
  salt: Buffer,
  log2Cost: number,
  blockSize: number,
  parallelism: number,
): Promise<Buffer> {
  if (scryptRunning >= SCRYPT_RUNNING_MAX) {
    await new Promise<void>((resolve) => scryptWaiting.push(resolve));
  } else {
    scryptRunning++;
  }
  scryptComputationCount++;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      scrypt(
        password,
        salt,
        SCRYPT_KEY_BYTES,
        scryptOptions(log2Cost, blockSize, parallelism),
        (error, key) => (error === null ? resolve(key) : reject(error)),
      );
    });
  } finally {
    // Hand the slot straight to the next waiter, or free it.
    const next = scryptWaiting.shift();
    if (next === undefined) scryptRunning--;
    else next();
  }
}

/** How many scrypt checks ran (the verified-password memory's tests count them). */
export function scryptComputations(): number {
  return scryptComputationCount;
}

/** A hash no password matches, verified when the user does not exist so timing tells nothing. */
const DUMMY_SCRYPT_HASH = Buffer.concat([
  scryptHeader(Buffer.alloc(SCRYPT_SALT_BYTES)),
  Buffer.alloc(SCRYPT_KEY_BYTES),
]).toString('base64');

/**
 * Whether `password` matches the stored hash; constant-time in the comparison. A malformed hash
 * (or parameters beyond the memory cap) matches nothing. `stored` null: a missing user, which
 * costs the same as a wrong password.
 */
export async function verifyPassword(
  password: string,
  stored: StoredPassword | null,
): Promise<boolean> {
  if (stored === null) {
    await verifyScrypt(password, DUMMY_SCRYPT_HASH);
    return false;
  }
  if (stored.passwordHash === '') return false;
  if (stored.hashingAlgorithm === SCRYPT_ALGORITHM) {
    const remembered = verifiedDigests.get(stored.passwordHash);
    const digest = remembered === undefined ? null : digestOf(password);
    if (remembered !== undefined && timingSafeEqual(digest!, remembered)) return true;
    // A miss, or a different password than the one remembered: scrypt decides. Failures are
    // never remembered, so guessing always costs scrypt.
    if (!(await verifyScrypt(password, stored.passwordHash))) return false;
    remember(stored.passwordHash, digest ?? digestOf(password));
    return true;
  }
  const expected = Buffer.from(stored.passwordHash, 'base64');
  if (expected.length <= RABBIT_SALT_BYTES) return false;
  const computed = Buffer.from(
    hashPassword(password, stored.hashingAlgorithm, expected.subarray(0, RABBIT_SALT_BYTES)),
    'base64',
  );
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

/**
 * Passwords verified against scrypt hashes, as HMAC-SHA-256 digests under a key made at start
 * and kept only in memory: no plain password is held, a changed password has a new hash (so an
 * old entry never matches it), and the oldest entries go past the bound.
 */
const VERIFIED_DIGESTS_MAX = 1024;
const verifiedDigests = new Map<string, Buffer>();
const digestKey = randomBytes(32);

function digestOf(password: string): Buffer {
  return createHmac('sha256', digestKey).update(password, 'utf8').digest();
}

function remember(passwordHash: string, digest: Buffer): void {
  verifiedDigests.delete(passwordHash);
  verifiedDigests.set(passwordHash, digest);
  if (verifiedDigests.size > VERIFIED_DIGESTS_MAX) {
    verifiedDigests.delete(verifiedDigests.keys().next().value!);
  }
}

async function verifyScrypt(password: string, passwordHash: string): Promise<boolean> {
  const bytes = Buffer.from(passwordHash, 'base64');
  if (bytes.length !== SCRYPT_PARAMETER_BYTES + SCRYPT_SALT_BYTES + SCRYPT_KEY_BYTES) return false;
  const [log2Cost, blockSize, parallelism] = [bytes[0]!, bytes[1]!, bytes[2]!];
  // scrypt needs 128 * N * r bytes; beyond the cap the hash is refused rather than computed.
  if (log2Cost < 1 || log2Cost > 24 || blockSize < 1 || parallelism < 1) return false;
  if (128 * 2 ** log2Cost * blockSize > SCRYPT_MEMORY_MAX_BYTES / 2) return false;
  const salt = bytes.subarray(SCRYPT_PARAMETER_BYTES, SCRYPT_PARAMETER_BYTES + SCRYPT_SALT_BYTES);
  const expected = bytes.subarray(SCRYPT_PARAMETER_BYTES + SCRYPT_SALT_BYTES);
  let key: Buffer;
  try {
    key = await scryptAsync(password, salt, log2Cost, blockSize, parallelism);
  } catch (error) {
    // Parameters node refuses (p too large for r, say): a hash nobody can log in with.
    if (error instanceof RangeError || (error as { code?: string }).code !== undefined)
      return false;
    throw error;
  }
  return timingSafeEqual(key, expected);
}
