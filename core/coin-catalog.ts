import type { Coin } from './domain';
import type { Clock, PriceFeed, Store } from './ports';
import { UserError } from './errors';

/**
 * The tracked coins, read through a short cache (several bot instances may share one store, so
 * an admin's change elsewhere shows up within `ttlMs`). Keeps the price feed tracking the same set.
 */
export class CoinCatalog {
  private cached?: { coins: Coin[]; at: number };

  constructor(private readonly store: Store, private readonly prices: PriceFeed, private readonly clock: Clock, private readonly ttlMs = 30_000) {}

  async list(): Promise<Coin[]> {
    if (!this.cached || this.clock.now() - this.cached.at > this.ttlMs) {
      const coins = (await this.store.listCoins()).sort((a, b) => a.id.localeCompare(b.id));
      this.cached = { coins, at: this.clock.now() };
      this.prices.track(coins.map((c) => c.id));
    }
    return this.cached.coins;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  /** By id or symbol, case-insensitive; a symbol several coins share gets a "which one?". */
  async resolve(token: string): Promise<Coin> {
    const wanted = token.toLowerCase();
    const coins = await this.list();
    const byId = coins.find((c) => c.id === wanted);
    if (byId) return byId;
    const bySymbol = coins.filter((c) => c.symbol === wanted);
    if (bySymbol.length === 1) return bySymbol[0]!;
    if (bySymbol.length > 1) {
      throw new UserError(`Several tracked coins use the symbol ${wanted.toUpperCase()}: which one? ${bySymbol.map((c) => `${c.id} (${c.name})`).join(', ')}. Use the id.`);
    }
    throw new UserError(`“${token}” is not a tracked coin. /coins lists them.`);
  }
}
