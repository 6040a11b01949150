/**
 * The contract's delivery outcome (core/ports.ts Delivery) from what the shared sender did with
 * each part of one message: a message is 'sent' only when every part went out; 'gone' when the
 * platform said the bot can no longer write there (the sender's 'dead'); 'failed' otherwise.
 */
import type { Delivery } from '../../core/ports';
import type { SendOutcome } from './rate-limited-sender';

export function deliveryOf(outcomes: ReadonlyArray<SendOutcome<unknown>>): Delivery {
  if (!outcomes.length) return { status: 'failed', reason: 'nothing to send' };
  const dead = outcomes.find((o) => o.status === 'dead');
  if (dead && dead.status === 'dead') return { status: 'gone', reason: dead.reason };
  const failed = outcomes.find((o) => o.status === 'failed');
  if (failed && failed.status === 'failed') return { status: 'failed', reason: failed.reason };
  return { status: 'sent' };
}

/** An address or identity of another platform (or malformed): never sent anywhere. */
export const notOurs = (platform: string): Delivery => ({ status: 'failed', reason: `not a ${platform} address` });

/** The adapter is not running (not started yet, or stopped). */
export const notRunning = (platform: string): Delivery => ({ status: 'failed', reason: `the ${platform} adapter is not running` });

/** A short reason from anything thrown, for a Delivery. */
export const reasonOf = (error: unknown): string => (error instanceof Error ? error.message : String(error)).slice(0, 200);
