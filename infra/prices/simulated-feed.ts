/**
 * The offline PriceFeed: a deterministic random walk around DEFAULT_COINS' reference prices, used
 * when CoinGecko cannot be reached (and by tests and demos). Same seed, same prices, every run.
 *
 * All arithmetic is Dec: the PRNG yields integers, and the step is derived from them exactly, so
 * the walk does not depend on float formatting and replays identically everywhere.
 */
import { DEFAULT_COINS, REFERENCE_FIAT_RATES } from '../../core/coins';
import type { Coin, Quote } from '../../core/domain';
import { Dec } from '../../core/money';
import type { Clock, FiatRates, PriceFeed, PriceSourceStatus } from '../../core/ports';

export interface SimulatedFeedOptions {
  /** Default 42. */
  seed?: number;
  clock?: Clock;
  /** Largest move per step, in percent. Default 0.5. */
  maxStepPercent?: number;
  /**
   * Fraction of the gap to the reference price closed per step. Default 0.002. Without it a bot
   * left running for weeks drifts anywhere; with it prices wander but stay plausible.
   */
  meanReversion?: number;
  /** Initially tracked coins. Default: every DEFAULT_COINS id. */
  coinIds?: string[];
}

/** Significant digits kept per price: enough for a sub-cent coin, no false precision on bitcoin. */
const SIGNIFICANT_DIGITS = 8;
/** Coins outside DEFAULT_COINS start here. */
const UNKNOWN_REFERENCE = '1.00';
/** Steps are drawn in whole nano-units (1e-9), which keeps every operand short and Dec fast. */
const NANO = new Dec('1e-9');
const NANOS_PER_ONE = 1_000_000_000;

/** mulberry32: a tiny, well-mixed 32-bit PRNG. Returns unsigned 32-bit integers. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

interface Walk {
  reference: Dec;
  /** meanReversion x reference, the per-step pull toward home (precomputed: steps are hot in tests). */
  pull: Dec;
  price: Dec;
  receivedAt: number;
}

export class SimulatedFeed implements PriceFeed {
  readonly simulated = true;

  private readonly next: () => number;
  private readonly clock: Clock;
  /** Largest move per step, in nano-units. */
  private readonly maxStepNanos: number;
  /** 1 - maxStep - meanReversion in nano-units: the constant part of the step factor. */
  private readonly factorBaseNanos: number;
  private readonly meanReversion: Dec;
  private readonly references = new Map(DEFAULT_COINS.map((c) => [c.id, c.referencePriceUsd]));
  /** Every coin ever tracked keeps its walk, so re-tracking resumes rather than resets. */
  private readonly walks = new Map<string, Walk>();
  private tracked: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(options: SimulatedFeedOptions = {}) {
    this.next = mulberry32(options.seed ?? 42);
    this.clock = options.clock ?? { now: () => Date.now() };
    // Integer nano-units: exact and identical on every platform.
    this.maxStepNanos = Math.round(((options.maxStepPercent ?? 0.5) / 100) * NANOS_PER_ONE);
    const reversionNanos = Math.round((options.meanReversion ?? 0.002) * NANOS_PER_ONE);
    this.meanReversion = new Dec(reversionNanos).times(NANO);
    this.factorBaseNanos = NANOS_PER_ONE - this.maxStepNanos - reversionNanos;
    this.track(options.coinIds ?? DEFAULT_COINS.map((c) => c.id));
  }

  quote(coinId: string): Quote | undefined {
    const walk = this.walks.get(coinId);
    if (!walk) return undefined;
    const change = walk.price.div(walk.reference).minus(1).times(100).toDecimalPlaces(2, Dec.ROUND_HALF_UP);
    return {
      coinId,
      price: walk.price.toFixed(),
      change24hPercent: change.toFixed(),
      receivedAt: walk.receivedAt,
      simulated: true,
      source: 'simulated',
    };
  }

  source(): PriceSourceStatus {
    return { active: 'simulated' };
  }

  fiatRates(): FiatRates {
    return { rates: { ...REFERENCE_FIAT_RATES }, simulated: true };
  }

  track(coinIds: string[]): void {
    this.tracked = [...new Set(coinIds.map((id) => id.trim().toLowerCase()).filter(Boolean))];
    const now = this.clock.now();
    for (const id of this.tracked) {
      if (this.walks.has(id)) continue;
      const reference = new Dec(this.references.get(id) ?? UNKNOWN_REFERENCE);
      this.walks.set(id, { reference, pull: reference.times(this.meanReversion), price: reference, receivedAt: now });
    }
  }

  async lookupCoin(coinId: string): Promise<Coin | null> {
    const found = DEFAULT_COINS.find((c) => c.id === coinId.trim().toLowerCase());
    return found ? { id: found.id, symbol: found.symbol, name: found.name } : null;
  }

  /** Moves every tracked coin by a random step of at most ±maxStepPercent, plus a gentle pull home. */
  step(): void {
    const now = this.clock.now();
    for (const id of this.tracked) {
      const walk = this.walks.get(id);
      if (!walk) continue;
      // price' = price x (1 + noise) + meanReversion x (reference - price)
      //        = price x (1 - maxStep - meanReversion + u) + meanReversion x reference,
      // with u uniform in [0, 2 x maxStep] (in nano-units; the modulo bias is below 1e-6).
      // Written this way a step needs no division (the expensive Dec operation), and both terms
      // are positive with the defaults (the factor is at least 0.993), so the price stays above zero.
      const u = this.next() % (2 * this.maxStepNanos + 1);
      const factor = new Dec(this.factorBaseNanos + u).times(NANO);
      const moved = walk.price.times(factor).plus(walk.pull).toSignificantDigits(SIGNIFICANT_DIGITS, Dec.ROUND_HALF_UP);
      if (moved.gt(0)) walk.price = moved;
      walk.receivedAt = now;
    }
  }

  /** The price job's poll: one step. */
  async refresh(): Promise<void> {
    this.step();
  }

  /** Steps every intervalMs (default 30000) until stop(). */
  start(intervalMs = 30_000): void {
    this.stop();
    this.timer = setInterval(() => this.step(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
