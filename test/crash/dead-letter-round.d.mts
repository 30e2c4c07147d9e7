// Types for dead-letter-round.mjs.
import type { CrashRoundOptions } from './crash-round.mjs';

export const SOURCE_QUEUE: string;
export const DEAD_LETTER_QUEUE: string;
export const TTL_MS: number;
export function declareDeadLetterQueues(port: number): Promise<void>;

export interface DeadLetterRoundResult {
  /** The restarted broker's port. */
  port: number;
  sent: number;
  confirmed: number;
  /** Distinct messages found in the dead-letter queue. */
  deadLettered: number;
  /** Messages still in the source queue after the restart and their TTL (must be 0). */
  sourceLeft: number;
  /** Confirmed but not dead-lettered: allowed only while dying at the crash (at most once). */
  lost: string[];
  duplicated: string[];
  neverSent: string[];
  /** Dead letters without one x-death entry for 'expired' from the source queue. */
  wrongDeath: string[];
}

export function deadLetterRound(options: CrashRoundOptions): Promise<DeadLetterRoundResult>;
