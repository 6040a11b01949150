/**
 * The money of limit and stop orders holds together whatever users do (issue 11): random sequences
 * of orders of all four kinds placed (some refused), market trades, price ticks matched by one or
 * two engines, cancels, messages delivered twice, and clock jumps past expiries, through the whole
 * core on an in-memory SQLite store with fees, spread and slippage on.
 *
 * After every step, for every user (bookViolations, test/support/orders.ts): cash and holdings are
 * what the ledger replays to; the cash held is what the open buy orders hold and each coin held
 * what its open sell orders hold; nothing is negative, free cash included; every filled order has
 * exactly one transaction. And no command failed on our side.
 *
 * A failing case throws with the commands it sent, in order, as the user typed them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CORE_CONFIG } from '../core/app';
import { AlertEngine } from '../core/alerts/engine';
import { isLiveAlert } from '../core/domain';
import { Dec, dec } from '../core/money';
import { makeTestBot, silentLogger, type TestBot } from './support/harness';
import { bookViolations, ordersOf } from './support/orders';

const USERS = ['ann', 'bob'] as const;
const COINS = { bitcoin: { symbol: 'btc', start: '50000' }, ethereum: { symbol: 'eth', start: '3000' } } as const;
type CoinId = keyof typeof COINS;
const COIN_IDS = Object.keys(COINS) as CoinId[];
const HOUR = 3_600_000;

const user = fc.constantFrom(...USERS);
const coin = fc.constantFrom(...COIN_IDS);
/** A percentage with up to two decimals, as a string. */
const percent = (min: number, max: number) => fc.integer({ min: min * 100, max: max * 100 }).map((n) => new Dec(n).div(100).toFixed());
const buyAmount = fc.oneof(
  fc.integer({ min: 1, max: 7000 }).map((n) => `$${n}`),
  fc.constantFrom('0.001', '0.01', '0.05', '0.1', '0.5', '1'),
);
const sellAmount = fc.constantFrom('0.001', '0.01', '0.1', '0.3', '1', '25%', '50%', 'all');

const step = fc.oneof(
  { weight: 5, arbitrary: fc.record({
    kind: fc.constant('place' as const), user, coin, side: fc.constantFrom('buy', 'sell' as const), type: fc.constantFrom('limit', 'stop' as const),
    buy: buyAmount, sell: sellAmount,
    // How far from the market the trigger is, the way it must lie; a negative one is already reached (refused).
    distance: percent(-2, 12),
    forHours: fc.constantFrom<number | undefined>(undefined, undefined, 1, 2, 48),
  }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('market' as const), user, coin, side: fc.constantFrom('buy', 'sell' as const), buy: buyAmount, sell: sellAmount }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('tick' as const), moves: fc.tuple(percent(-12, 12), percent(-12, 12)), engines: fc.constantFrom(1, 2) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), user, pick: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('jump' as const), hours: fc.constantFrom(1, 3, 49, 24 * 91) }) },
  // The last command's message delivered again (the platform retried it).
  { weight: 1, arbitrary: fc.constant({ kind: 'again' as const }) },
);
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

const CONFIG = { feePercent: '0.1', spreadBps: '10', slippageBpsPer10k: '1', maxSlippageBps: '50', maxOpenOrders: 6, alertsPerMinute: 1000 };

class Run {
  readonly log: string[] = [];
  private readonly price = new Map<CoinId, Dec>(COIN_IDS.map((c) => [c, dec(COINS[c].start)]));
  private sequence = 0;
  private last?: { user: string; text: string; messageId: string };
  private readonly errorsBefore = silentLogger.errors.length;
  private constructor(readonly bot: TestBot, private readonly engines: AlertEngine[]) {}

  static async start(): Promise<Run> {
    const bot = await makeTestBot({ config: CONFIG });
    const run = new Run(bot, [new AlertEngine(bot.core.services), new AlertEngine(bot.core.services)]);
    run.setPrices();
    for (const u of USERS) await bot.signup(u);
    // Something to sell from the start, so that sell orders are placed early in a sequence too.
    for (const u of USERS) for (const line of ['/buy btc 0.02', '/buy eth 0.5']) await run.say(u, line);
    return run;
  }

  private setPrices(): void {
    for (const [c, p] of this.price) this.bot.feed.set(c, p.toFixed());
  }

  async say(user: string, text: string, messageId = `p${++this.sequence}`): Promise<void> {
    const reply = await this.bot.say(user, text, { messageId });
    this.last = { user, text, messageId };
    this.log.push(`${user}: ${text}  ->  ${reply.split('\n')[0]}`);
  }

  private async tick(engines: number): Promise<void> {
    const reports = await Promise.all(this.engines.slice(0, engines).map((e) => e.tick()));
    const filled = reports.reduce((n, r) => n + r.ordersFilled, 0);
    const ended = reports.reduce((n, r) => n + r.ordersEnded, 0);
    if (filled || ended) this.log.push(`   (${filled} filled, ${ended} ended)`);
  }

  async apply(s: Step): Promise<void> {
    const { bot } = this;
    switch (s.kind) {
      case 'place': {
        const market = this.price.get(s.coin)!;
        // A limit buy and a stop sell wait below the market, the others above.
        const below = (s.side === 'buy') === (s.type === 'limit');
        const factor = dec(s.distance).div(100);
        const trigger = market.mul(below ? new Dec(1).minus(factor) : factor.plus(1)).toDecimalPlaces(2);
        const amount = s.side === 'buy' ? s.buy : s.sell;
        const expiry = s.forHours ? ` for ${s.forHours}h` : '';
        return this.say(s.user, `/${s.side} ${COINS[s.coin].symbol} ${amount} ${s.type === 'limit' ? 'at' : 'stop'} ${trigger.toFixed()}${expiry}`);
      }
      case 'market':
        return this.say(s.user, `/${s.side} ${COINS[s.coin].symbol} ${s.side === 'buy' ? s.buy : s.sell}`);
      case 'cancel': {
        const open = (await ordersOf(bot.store, s.user)).filter((o) => isLiveAlert(o.state));
        return this.say(s.user, `/order cancel ${open.length ? open[s.pick % open.length]!.alertId : 'deadbeef'}`);
      }
      case 'again':
        if (!this.last) return;
        return this.say(this.last.user, this.last.text, this.last.messageId);
      case 'tick': {
        bot.clock.advance(30_000);
        s.moves.forEach((move, i) => {
          const c = COIN_IDS[i]!;
          const next = this.price.get(c)!.mul(dec(move).div(100).plus(1)).toDecimalPlaces(2);
          this.price.set(c, Dec.max(next, new Dec('0.01')));
        });
        this.setPrices();
        this.log.push(`-- tick ${COIN_IDS.map((c) => `${c} ${this.price.get(c)!.toFixed()}`).join(', ')} on ${s.engines} engine(s)`);
        return this.tick(s.engines);
      }
      case 'jump':
        // Quotes are fetched again after the jump (a stale quote neither trades nor matches).
        bot.clock.advance(s.hours * HOUR);
        this.setPrices();
        this.log.push(`-- ${s.hours} h later, same prices`);
        return this.tick(1);
    }
  }

  /** Every violated invariant, with the command that led to it. */
  async check(): Promise<void> {
    const problems: string[] = [];
    for (const u of USERS) for (const p of await bookViolations(this.bot.store, u, DEFAULT_CORE_CONFIG.startBalance)) problems.push(`${u}: ${p}`);
    const errors = silentLogger.errors.slice(this.errorsBefore);
    if (errors.length) problems.push(`failed on our side: ${errors.map((e) => String((e as { err?: unknown }).err)).join('; ')}`);
    if (problems.length) throw new Error(`${problems.join('\n')}\nafter these commands:\n${this.log.join('\n')}`);
  }
}

// A hundred seeded runs of up to 40 steps on a real store: bounded generously, never timed.
describe('orders: property', { timeout: 90_000 }, () => {
  it('cash, holds and holdings always equal the ledger and the open orders, and nothing goes negative', async () => {
    let placed = 0;
    let filled = 0;
    let ended = 0;
    let cancelled = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40, size: 'max' }), async (steps) => {
        const run = await Run.start();
        try {
          for (const s of steps) {
            await run.apply(s);
            await run.check();
          }
          placed += run.log.filter((l) => /->\s+Order [0-9a-f]{8} placed/.test(l)).length;
          filled += run.log.filter((l) => /\((?!0 )\d+ filled/.test(l)).length;
          ended += run.log.filter((l) => /filled, (?!0 )\d+ ended/.test(l)).length;
          cancelled += run.log.filter((l) => /->\s+Order [0-9a-f]{8} cancelled/.test(l)).length;
        } finally {
          await run.bot.close();
        }
      }),
      { numRuns: 100 },
    );
    // The generator reaches what is under test: orders placed, ticks that fill them, orders that
    // expire, and cancels.
    expect(placed).toBeGreaterThan(150);
    expect(filled).toBeGreaterThan(30);
    expect(ended).toBeGreaterThan(15);
    expect(cancelled).toBeGreaterThan(40);
  });
});
