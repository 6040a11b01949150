/** Named benchmarks: each returns its figures as a flat object with dotted keys. */
import { alertsDynamodb } from './alerts-dynamodb.bench';
import { alertsSqlite } from './alerts.bench';
import { memory } from './memory.bench';
import { telegramBroadcast } from './telegram-broadcast.bench';
import { tradesDynamodb } from './trades-dynamodb.bench';
import { tradesSqlite } from './trades-sqlite.bench';

export type Benchmark = () => Promise<Record<string, number>>;

export const BENCHMARKS: Record<string, Benchmark> = {
  trades: tradesSqlite,
  'trades-dynamodb': tradesDynamodb,
  telegram: telegramBroadcast,
  memory,
  alerts: alertsSqlite,
  'alerts-dynamodb': alertsDynamodb,
};
