// Types for crash-round.mjs.
export const QUEUES: string[];
export const TRANSACTION_QUEUE: string;
export function random(seed: number): () => number;
export function declareQueues(port: number): Promise<void>;

export interface CrashRoundOptions {
  /** The broker's AMQP port for this round's load. */
  port: number;
  round: number;
  /** How long the load runs before `kill()`. */
  delayMs: number;
  kill: () => Promise<void>;
  /** Starts the broker again on the same data; resolves to its AMQP port. */
  restart: () => Promise<number>;
}

export interface CrashRoundResult {
  /** The restarted broker's port. */
  port: number;
  sent: number;
  confirmed: number;
  /** Distinct messages found in the publishers' queues after the restart. */
  recovered: number;
  committed: number;
  attempted: number;
  /** Confirmed but not found. */
  lost: string[];
  /** Found more than once (publishers' queues and the transaction queue). */
  duplicated: string[];
  neverSent: string[];
  /** Found after a later message of the same publisher. */
  outOfOrder: string[];
  /** Messages of committed transactions not found. */
  committedLost: string[];
  /** The first message of each transaction found in part. */
  torn: string[];
}

export function crashRound(options: CrashRoundOptions): Promise<CrashRoundResult>;
