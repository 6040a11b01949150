/**
 * Prices shared between instances through the store (STORE=dynamodb, several instances).
 *
 * Every instance's core reads prices from this feed, whatever its role, so commands answer the
 * same way on any instance:
 *   - on the job leader, the price job calls refresh(): the instance's own upstream feed
 *     (CoinGecko or the simulated walk) fetches, and the new quotes are held here at once (the
 *     alert engine matches them in the same run) and published to the store as one snapshot;
 *   - on every instance, a timer reads the published snapshot every few seconds (follow()),
 *     unless this instance published it itself within that time.
 * So CoinGecko is asked once per poll interval however many instances run, and a follower's
 * prices are at most one read interval behind the leader's. Quote.receivedAt stays the leader's
 * time of receipt, so the freshness checks (trades refuse old quotes, /readyz) judge the price's
 * real age on every instance.
 */
import type { Quote } from '../../core/domain';
import type { Clock, FiatRates, Logger, PriceFeed, PriceSnapshot, PriceSourceStatus, Store } from '../../core/ports';

export interface SharedFeedOptions {
  store: Pick<Store, 'publishQuotes' | 'readQuotes'>;
  /** This instance's upstream feed: polled only when this instance leads (by the price job). */
  upstream: PriceFeed;
  clock: Clock;
  logger: Logger;
  /** How often the published snapshot is read. */
  readIntervalMs: number;
}

export class SharedPriceFeed implements PriceFeed {
  private snapshot: PriceSnapshot | undefined;
  private readonly byId = new Map<string, Quote>();
  private tracked: string[] = [];
  /** When this instance last published (its clock), to skip reading back its own snapshot. */
  private publishedAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;

  constructor(private readonly options: SharedFeedOptions) {}

  /** Prices are simulated when the publisher's were (a snapshot's quotes share one source). */
  get simulated(): boolean {
    return this.snapshot?.quotes[0]?.simulated ?? this.options.upstream.simulated;
  }

  quote(coinId: string): Quote | undefined {
    return this.byId.get(coinId);
  }

  /** The publisher's source (CoinGecko, or the fallback standing in for it). */
  source(): PriceSourceStatus {
    return this.snapshot?.source ?? this.options.upstream.source();
  }

  fiatRates(): FiatRates {
    const rates = this.snapshot?.rates ?? this.options.upstream.fiatRates();
    return { rates: { ...rates.rates }, simulated: rates.simulated };
  }

  /** The upstream feed polls these when this instance leads; the snapshot holds them. */
  track(coinIds: string[]): void {
    this.tracked = [...coinIds];
    this.options.upstream.track(coinIds);
  }

  /** The leader's price job: fetch upstream, hold the quotes, publish them. Never rejects: a
   *  failed publish is logged, and the followers keep the last snapshot until the next one. */
  async refresh(): Promise<void> {
    const { upstream, clock, store, logger } = this.options;
    await upstream.refresh();
    const quotes = this.tracked.map((id) => upstream.quote(id)).filter((q): q is Quote => q !== undefined);
    const snapshot: PriceSnapshot = { quotes, rates: upstream.fiatRates(), source: upstream.source(), at: clock.now() };
    this.hold(snapshot);
    try {
      await store.publishQuotes(snapshot);
      this.publishedAt = snapshot.at;
    } catch (error) {
      logger.warn({ err: error }, 'prices: could not publish them to the store for the other instances');
    }
  }

  lookupCoin(coinId: string) {
    return this.options.upstream.lookupCoin(coinId);
  }

  /** Reads the published snapshot now (skipped when this instance published within the read
   *  interval: it holds that one already). Never rejects. */
  follow(): Promise<void> {
    this.reading ??= this.readOnce().finally(() => (this.reading = undefined));
    return this.reading;
  }

  /** Reads once (so the first command has prices), then every readIntervalMs. */
  async start(): Promise<void> {
    await this.follow();
    this.timer = setInterval(() => void this.follow(), this.options.readIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.reading;
  }

  private async readOnce(): Promise<void> {
    const { clock, store, logger, readIntervalMs } = this.options;
    if (clock.now() - this.publishedAt < readIntervalMs) return;
    try {
      const snapshot = await store.readQuotes();
      if (snapshot) this.hold(snapshot);
    } catch (error) {
      logger.warn({ err: error }, 'prices: could not read the published prices; keeping the last ones');
    }
  }

  /** Keeps the newer of the held and the given snapshot: a read that returns after this instance
   *  published a newer one must not step prices back. */
  private hold(snapshot: PriceSnapshot): void {
    if (this.snapshot && snapshot.at < this.snapshot.at) return;
    this.snapshot = snapshot;
    for (const quote of snapshot.quotes) {
      const held = this.byId.get(quote.coinId);
      if (!held || held.receivedAt <= quote.receivedAt) this.byId.set(quote.coinId, quote);
    }
  }
}
