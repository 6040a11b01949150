import type { Attempts, Clock, Store } from './ports';

/**
 * Brute-force limits: failed logins, wrong link codes, email address changes. Counted in the
 * store, so a restart or a second instance does not reset them.
 *
 * A key's attempts are counted in a window that opens with its first attempt. The first `free`
 * attempts go through at once; each further one must wait, after the attempt before it, a delay
 * that doubles every time, up to `maxDelayMs`. A growing delay rather than a lock: limits on an
 * account can be run up by anyone who knows its email, so they may slow its owner down, never
 * shut them out. Attempts that had to wait are not counted, so hammering does not lengthen the wait.
 */
export interface AttemptPolicy {
  /** Prefix of the store key: one counter per policy and key. */
  name: string;
  /** Attempts in a window that never wait. */
  free: number;
  /** The wait before the first attempt past the free ones; doubles with each further one. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** A window lasts this long from its first attempt; then counting starts over. */
  windowMs: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const LIMITS = {
  /** Failed logins from one chat identity: the guesser's own, so the wait may grow long. */
  loginByIdentity: { name: 'login-identity', free: 5, firstDelayMs: MINUTE, maxDelayMs: HOUR, windowMs: DAY },
  /** Failed logins on one account, from any identity: anyone can cause these, so the cap is a few
   *  minutes, which still holds a guesser to a few hundred guesses a day. */
  loginByAccount: { name: 'login-account', free: 5, firstDelayMs: 15_000, maxDelayMs: 5 * MINUTE, windowMs: DAY },
  /** Wrong link codes from one chat identity. */
  linkCodeByIdentity: { name: 'link-identity', free: 5, firstDelayMs: MINUTE, maxDelayMs: HOUR, windowMs: DAY },
  /** Email address changes per account, each of which mails someone: 3 a day, then wait for the
   *  window to end (a delay as long as the window). */
  emailChanges: { name: 'email-change', free: 3, firstDelayMs: DAY, maxDelayMs: DAY, windowMs: DAY },
} as const satisfies Record<string, AttemptPolicy>;

/** One counter: a policy applied to a key (an identity key, an email, a username). */
export interface Counter {
  policy: AttemptPolicy;
  key: string;
}

/** How long an attempt must wait after the window's attempts so far; 0 when it may go now. */
export function waitAfter(window: Attempts | null, policy: AttemptPolicy, now: number): number {
  if (!window || window.count < policy.free) return 0;
  const delay = Math.min(policy.firstDelayMs * 2 ** (window.count - policy.free), policy.maxDelayMs);
  const until = Math.min(window.lastAt + delay, window.firstAt + policy.windowMs);
  return Math.max(0, until - now);
}

export class AttemptLimiter {
  constructor(private readonly store: Store, private readonly clock: Clock) {}

  /**
   * Takes one attempt under every counter: returns 0 when it may go ahead (it is then counted), or
   * the milliseconds to wait (and it is not counted). Check, count, then check the count: if
   * another process counted an attempt in between, this one is judged as coming right after it (and
   * stays counted if that makes it wait), so a burst of simultaneous attempts cannot all slip
   * through on one check.
   */
  async attempt(...counters: Counter[]): Promise<number> {
    const now = this.clock.now();
    const before = await Promise.all(counters.map((c) => this.store.getAttempts(storeKey(c), now)));
    const wait = Math.max(0, ...counters.map((c, i) => waitAfter(before[i]!, c.policy, now)));
    if (wait > 0) return wait;
    const after = await Promise.all(counters.map((c) => this.store.recordAttempt(storeKey(c), now, c.policy.windowMs)));
    return Math.max(0, ...counters.map((c, i) => {
      const counted = after[i]!;
      if (counted.count === (before[i]?.count ?? 0) + 1) return 0;
      return waitAfter({ ...counted, count: counted.count - 1 }, c.policy, now);
    }));
  }

  /** Forgets the counters' attempts: after a successful login or link. */
  async reset(...counters: Counter[]): Promise<void> {
    await Promise.all(counters.map((c) => this.store.clearAttempts(storeKey(c))));
  }
}

const storeKey = (c: Counter) => `${c.policy.name}:${c.key}`;
