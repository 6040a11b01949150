import type { Clock } from './ports';

/**
 * Counts failed attempts per key in a sliding window (login per identity and per account).
 * Kept in memory: a restart forgets, which only gives an attacker a few more tries per restart.
 */
export class AttemptLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly clock: Clock, readonly maxFailures = 5, readonly windowMs = 15 * 60_000) {}

  /** Milliseconds until the key may try again, or 0 when it may try now. */
  retryAfter(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.maxFailures) return 0;
    return recent[0]! + this.windowMs - this.clock.now();
  }

  fail(key: string): void {
    this.failures.set(key, [...this.recent(key), this.clock.now()]);
  }

  reset(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.clock.now() - this.windowMs;
    const kept = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (kept.length) this.failures.set(key, kept);
    else this.failures.delete(key);
    return kept;
  }
}
