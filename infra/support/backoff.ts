/**
 * Exponential backoff with jitter, for every client that retries (CoinGecko, SNS, DynamoDB).
 * The ceiling doubles per retry up to `maxMs`. "full" jitter draws the whole wait at random,
 * which spreads racing writers best (AWS's advice for conflicts); "equal" keeps half of it fixed,
 * so a client retrying a failing service never retries at once.
 */
export interface BackoffOptions {
  /** The ceiling of the first retry, in ms. */
  baseMs: number;
  /** The largest ceiling, in ms. */
  maxMs: number;
  jitter: 'full' | 'equal';
}

/** The wait before retry number `retry` (0 for the first retry). */
export function backoffDelay(retry: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** retry);
  return options.jitter === 'full' ? random() * ceiling : Math.round(ceiling / 2 + random() * (ceiling / 2));
}
