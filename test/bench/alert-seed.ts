/** What both alert benchmarks start from: tracked coins, and users each with a linked chat. */
import type { TestBot } from '../support/harness';

export const coinId = (c: number) => `coin-${String(c).padStart(3, '0')}`;
/** Coin c trades at 1000 + c. */
export const basePrice = (c: number) => 1000 + c;

export async function seedCoinsAndUsers(bot: TestBot, coins: number, users: number): Promise<void> {
  for (let c = 0; c < coins; c++) await bot.store.addCoin({ id: coinId(c), symbol: `c${c}`, name: `Coin ${c}` });
  bot.core.services.coins.invalidate();
  for (let u = 0; u < users; u++) {
    await bot.store.createAccount(
      { username: `u${u}`, email: `u${u}@example.com`, passwordHash: null, role: 'user', createdAt: bot.clock.now(), currency: 'usd', emailNotifications: false },
      '10000',
      { key: `console:u${u}`, platform: 'console', username: `u${u}`, linkedAt: bot.clock.now() },
    );
  }
}
