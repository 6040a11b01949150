/**
 * Retrying what DynamoDB says is worth retrying: transaction conflicts (another transaction holds
 * one of our items) and throttling. Conditional-check failures are answers, not errors, and are
 * never retried here: callers decide what they mean.
 *
 * Backoff is exponential with full jitter (a random delay between zero and the cap), so that
 * writers that collided once do not collide again in lock-step.
 */
import { backoffDelay, type BackoffOptions } from '../support/backoff';

/** Per-action reasons DynamoDB gives when it cancels a transaction. */
export type CancellationCode =
  | 'None'
  | 'ConditionalCheckFailed'
  | 'TransactionConflict'
  | 'ThrottlingError'
  | 'ProvisionedThroughputExceeded'
  | 'RequestLimitExceeded'
  | 'ItemCollectionSizeLimitExceeded'
  | 'ValidationError'
  | (string & {});

export interface Cancellation {
  codes: CancellationCode[];
  /** The item as it was, for actions sent with ReturnValuesOnConditionCheckFailure ALL_OLD. */
  items: (Record<string, unknown> | undefined)[];
}

const TRANSIENT_REASONS = new Set<string>(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

const TRANSIENT_ERRORS = new Set<string>([
  'TransactionConflictException',
  'TransactionInProgressException',
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
]);

/** The cancellation reasons of a TransactionCanceledException, or undefined for other errors. */
export function cancellation(error: unknown): Cancellation | undefined {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return undefined;
  const reasons = (error as { CancellationReasons?: { Code?: string; Item?: Record<string, unknown> }[] }).CancellationReasons ?? [];
  return { codes: reasons.map((r) => r.Code ?? 'None'), items: reasons.map((r) => r.Item) };
}

/**
 * True for errors where trying the same request again can succeed. A cancelled transaction counts
 * only when no condition failed: a failed condition will fail again.
 */
export function isTransient(error: unknown): boolean {
  const cancelled = cancellation(error);
  if (cancelled) {
    return !cancelled.codes.includes('ConditionalCheckFailed') && cancelled.codes.some((c) => TRANSIENT_REASONS.has(c));
  }
  return error instanceof Error && TRANSIENT_ERRORS.has(error.name);
}

/** Racing writers spread best with full jitter. */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 10, maxMs: 500, jitter: 'full' };

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` until it succeeds or fails with a non-transient error, sleeping with backoff
 * between tries; gives up after `maxAttempts` and rethrows the last error.
 */
export async function retryTransient<T>(
  attempt: () => Promise<T>,
  maxAttempts = 10,
  options: BackoffOptions = DEFAULT_BACKOFF,
): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (n + 1 >= maxAttempts || !isTransient(error)) throw error;
      await sleep(backoffDelay(n, options));
    }
  }
}
