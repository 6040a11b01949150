/**
 * Trades straight through the DynamoDB store against DynamoDB Local (started and stopped here):
 * 2,000 trades from 50 users, at most 8 in flight, each a real planBuy/planSell. Measures the
 * store's round trips (two consistent reads and one four-item transaction per trade) through an
 * emulator on this machine, so the figures compare runs, not what AWS would do.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Account } from '../../core/domain';
import { dec, type Dec } from '../../core/money';
import type { TradeOutcome } from '../../core/ports';
import { planBuy, planSell, type TradeTerms } from '../../core/trading';
import { ensureTables } from '../../infra/dynamodb/admin';
import { DynamoDbStore } from '../../infra/dynamodb/dynamodb-store';
import { STORE_TABLES } from '../../infra/dynamodb/tables';
import { LOCAL_CLIENT_CONFIG, startDynamoDbLocal } from '../support/dynamodb-local';
import { throughputFigures } from './measure';

const USERS = 50;
const TRADES = 2_000;
const WARMUP = 200;
/** Past about 8 in flight, DynamoDB Local and Node share two cores and latency is only queueing. */
const CONCURRENCY = 8;


export async function tradesDynamodb(): Promise<Record<string, number>> {
  const local = await startDynamoDbLocal();
  const admin = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint: local.endpoint });
  const prefix = 'bench-';
  let store: DynamoDbStore | undefined;
  try {
    await ensureTables(admin, prefix, { only: STORE_TABLES, pollMs: 50 });
    store = DynamoDbStore.open({ ...LOCAL_CLIENT_CONFIG, endpoint: local.endpoint, tablePrefix: prefix });
    const users = Array.from({ length: USERS }, (_, i) => `trader_${i}`);
    for (const username of users) {
      const account: Account = { username, email: `${username}@example.com`, passwordHash: null, role: 'user', createdAt: Date.now(), currency: 'usd', emailNotifications: false };
      await store.createAccount(account, '1000000');
    }

    const s = store;
    // Trade n: user n mod 50, so concurrent trades are on different accounts, as in real use;
    // even rounds buy $100 of bitcoin, odd rounds sell half of it.
    const trade = (n: number): Promise<TradeOutcome> => {
      const username = users[n % USERS]!;
      const terms: TradeTerms = {
        transactionId: `tx-${n}`, username, coinId: 'bitcoin', coinLabel: 'BTC', price: dec('87000'), feePercent: dec('0.1'),
        timestamp: Date.now(), platform: 'console', money: (amount: Dec) => amount.toFixed(2),
      };
      const buying = Math.floor(n / USERS) % 2 === 0;
      return s.executeTrade(username, `bench-${n}`, (p) =>
        buying ? planBuy(p, { kind: 'cash', value: dec(100) }, terms) : planSell(p, { kind: 'percent', value: dec(50) }, terms),
      );
    };

    const run = async (from: number, count: number, latencies: number[]): Promise<number> => {
      let next = from;
      let failures = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < from + count) {
            const n = next++;
            const t0 = performance.now();
            const outcome = await trade(n);
            latencies.push(performance.now() - t0);
            if (outcome.status !== 'done') failures++;
          }
        }),
      );
      return failures;
    };

    await run(0, WARMUP, []); // JIT on both sides, connection pool
    const latencies: number[] = [];
    const started = performance.now();
    const failures = await run(WARMUP, TRADES, latencies);
    const seconds = (performance.now() - started) / 1000;
    return {
      'trades.dynamodb.trades': latencies.length,
      'trades.dynamodb.failures': failures,
      ...throughputFigures('trades.dynamodb', latencies, seconds),
    };
  } finally {
    await store?.close();
    admin.destroy();
    await local.stop();
  }
}
