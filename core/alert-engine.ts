/**
 * Fires price alerts. Each check looks at every tracked coin's latest quote, loads the active
 * alerts on that coin (an index, not a scan) and fires the ones the price has crossed. Firing is
 * a conditional write in the store, so when several bot instances check at once exactly one of
 * them wins each alert and only that one tells the user: in their linked chats, and by email.
 */
import type { Services } from './context';
import type { PriceAlert, Quote } from './domain';
import { formatPrice, moneyView } from './format';
import { dec } from './money';
import { reply } from './messages';
import type { ChatDelivery } from './ports';

export function crossed(alert: PriceAlert, quote: Quote): boolean {
  const price = dec(quote.price);
  return alert.condition === 'above' ? price.gte(alert.targetPrice) : price.lte(alert.targetPrice);
}

export class AlertEngine {
  constructor(private readonly services: Services, private readonly chats: ChatDelivery) {}

  /** Returns how many alerts this instance fired. */
  async check(): Promise<number> {
    const { store, prices, clock, config } = this.services;
    let fired = 0;
    for (const coin of await this.services.coins.list()) {
      const quote = prices.quote(coin.id);
      // A stale quote is not today's price: firing on it would be a false alarm.
      if (!quote || clock.now() - quote.receivedAt > config.maxQuoteAgeMs) continue;
      for (const alert of await store.listActiveAlertsByCoin(coin.id)) {
        if (!crossed(alert, quote)) continue;
        if (!(await store.markAlertFired(alert.username, alert.alertId, clock.now()))) continue;
        fired++;
        await this.announce(alert, coin.name, coin.symbol.toUpperCase(), quote);
      }
    }
    return fired;
  }

  private async announce(alert: PriceAlert, name: string, symbol: string, quote: Quote): Promise<void> {
    const { store, prices, notifier, logger } = this.services;
    const account = await store.getAccount(alert.username);
    if (!account) return;
    const view = moneyView(account.currency, prices.fiatRates());
    const simulated = quote.simulated ? ' (simulated price)' : '';
    const headline = `${symbol} is ${alert.condition} ${formatPrice(alert.targetPrice, view)}`;
    const text = `${name} is now ${formatPrice(quote.price, view)}${simulated}: your alert ${alert.alertId} (${alert.condition} ${formatPrice(alert.targetPrice, view)}) fired.`;
    const identities = await store.listIdentities(account.username);
    const delivered = await Promise.all(identities.map((identity) =>
      this.chats.deliver(identity, reply('warning', { title: `🔔 ${headline}`, text, buttons: [{ label: 'Price', command: `/price ${alert.coinId}` }] }))));
    if (account.emailNotifications && notifier.enabled) {
      notifier.send(account.username, { subject: `CryptoPulse alert: ${headline}`, body: `${text}\nThis is paper trading with virtual money.` });
    }
    logger.info({ username: account.username, alertId: alert.alertId, chats: delivered.filter(Boolean).length }, 'alert fired');
  }
}
