import type { Clock } from './ports';

/**
 * Counts attempts per key in a sliding window: failed logins per identity and per account, email
 * address changes per account. Kept in memory: a restart forgets, which only gives an abuser a
 * few more tries per restart.
 */
export class AttemptLimiter {
  private readonly attempts = new Map<string, number[]>();

  constructor(private readonly clock: Clock, readonly maxAttempts: number, readonly windowMs: number) {}

  /** Milliseconds until the key may try again, or 0 when it may try now. */
  retryAfter(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.maxAttempts) return 0;
    return recent[0]! + this.windowMs - this.clock.now();
  }

  record(key: string): void {
    this.attempts.set(key, [...this.recent(key), this.clock.now()]);
  }

  reset(key: string): void {
    this.attempts.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.clock.now() - this.windowMs;
    const kept = (this.attempts.get(key) ?? []).filter((t) => t > since);
    if (kept.length) this.attempts.set(key, kept);
    else this.attempts.delete(key);
    return kept;
  }
}
