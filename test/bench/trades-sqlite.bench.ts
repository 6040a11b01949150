/**
 * Buy, sell and portfolio commands through the whole core (dispatcher, validation, activity log)
 * and the SQLite store on a real file: throughput and latency per command.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../infra/sqlite/sqlite-store';
import { makeTestBot } from '../support/harness';
import { throughputFigures } from './measure';

const USERS = 50;
const ROUNDS = 60; // per user: buy, sell, portfolio each round

export async function tradesSqlite(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'cp-bench-'));
  const bot = await makeTestBot({ store: SqliteStore.open({ file: join(dir, 'bench.sqlite') }) });
  try {
    const users = Array.from({ length: USERS }, (_, i) => `trader_${i}`);
    for (const user of users) await bot.signup(user);
    const lines = ['/buy btc $100', '/sell btc 50%', '/portfolio'];
    // Warm-up: JIT and statement caches.
    for (const user of users.slice(0, 5)) for (const line of lines) await bot.send(user, line);

    const latencies: number[] = [];
    let failures = 0;
    const started = performance.now();
    for (let round = 0; round < ROUNDS; round++) {
      for (const user of users) {
        for (const line of lines) {
          const t0 = performance.now();
          const reply = await bot.send(user, line);
          latencies.push(performance.now() - t0);
          if (reply.tone === 'error') failures++;
        }
      }
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      'trades.sqlite.commands': latencies.length,
      'trades.sqlite.failures': failures,
      ...throughputFigures('trades.sqlite', latencies, seconds),
    };
  } finally {
    await bot.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
