/**
 * Graceful shutdown (issue 13, src/shutdown.ts): SIGTERM during a burst of commands loses no
 * accepted command and leaves no half trade. A real bot process (node with tsx's loader, so the
 * signal reaches the bot itself) on SQLite with simulated prices, polling the Telegram stand-in.
 *
 * "Accepted" is what Telegram would consider taken: an update below the last getUpdates offset
 * the bot confirmed. Every accepted /buy must have its reply and its trade; every other one must
 * still be with the stand-in, and a restarted bot must run it exactly once.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Dec } from '../core/money';
import { replayLedger } from '../core/trading';
import type { Transaction } from '../core/domain';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { startTelegramStandin, type StandinUser, type TelegramStandin } from './support/telegram-standin';
import { drainingReadiness, firstSignal, runShutdown } from '../src/shutdown';
import { createTelegramBot } from '../adapters/telegram/bot';
import { makeTestBot } from './support/harness';
import type { ChatAdapter } from '../core/chat-adapter';
import type { Logger } from '../core/ports';

const ROOT = resolve(import.meta.dirname, '..');
const START = '10000';
let standin: TelegramStandin;
let dataDir: string;

beforeAll(async () => {
  standin = await startTelegramStandin();
  dataDir = mkdtempSync(join(tmpdir(), 'cp-shutdown-'));
});
afterAll(async () => {
  await standin.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function startBot() {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PRICE_FEED: 'simulated', LOG_LEVEL: 'info', LOG_FORMAT: 'json',
      TELEGRAM_BOT_TOKEN: standin.token, TELEGRAM_API_ROOT: standin.apiRoot, PORT: '0', SHUTDOWN_TIMEOUT_SECONDS: '20',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const exited = new Promise<number | null>((done) => child.on('close', done));
  return { child, exited, output: () => output };
}

/** The highest offset the bot confirmed with getUpdates: updates below it are taken for good. */
function confirmedOffset(): number {
  return Math.max(0, ...standin.calls.filter((c) => c.method === 'getUpdates').map((c) => Number(c.params.offset ?? 0)));
}

const bought = (user: StandinUser) => standin.botMessages(user.id).filter((m) => /Bought [\d.]+ BTC/.test(m.text ?? ''));

async function ledgerOf(store: SqliteStore, username: string): Promise<Transaction[]> {
  const all: Transaction[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listTransactions(username, { limit: 100, cursor });
    all.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return all.reverse();
}

describe('SIGTERM during a burst of commands', () => {
  it('loses no accepted command, leaves no half trade, and a restarted bot runs the rest exactly once', async () => {
    const users = [601, 602, 603, 604].map((id, i) => standin.user(id, `User${i}`));
    const names = users.map((_, i) => `burst${i}`);
    const sent = new Map<number, StandinUser>(); // update id -> who sent the /buy

    let bot = startBot();
    try {
      await standin.waitFor(() => standin.commands({ type: 'all_private_chats' }), 30_000);
      for (const [i, user] of users.entries()) {
        await standin.send(user, `/signup ${names[i]} ${names[i]}@example.com`);
        await standin.waitFor(() => standin.botMessages(user.id).some((m) => m.text?.includes('Welcome')), 45_000);
      }
      // The burst: 40 purchases from four users. SIGTERM arrives once some are answered, while
      // the rest are still arriving.
      const buy = async (n: number) => {
        const user = users[n % users.length]!;
        const { updateId } = await standin.send(user, '/buy btc $10');
        sent.set(updateId, user);
      };
      for (let n = 0; n < 25; n++) await buy(n);
      await standin.waitFor(() => users.reduce((sum, u) => sum + bought(u).length, 0) >= 3, 30_000);
      bot.child.kill('SIGTERM');
      for (let n = 25; n < 40; n++) await buy(n);
    } catch (error) {
      bot.child.kill('SIGKILL');
      throw error;
    }
    // Exit code 0: the whole sequence finished within SHUTDOWN_TIMEOUT_SECONDS (else 1).
    expect(await bot.exited, bot.output()).toBe(0);
    expect(bot.output()).toContain('shut down cleanly');

    const offset = confirmedOffset();
    const accepted = [...sent.keys()].filter((id) => id < offset);
    const notTaken = [...sent.keys()].filter((id) => id >= offset);
    expect(accepted.length + notTaken.length).toBe(40);
    expect(accepted.length).toBeGreaterThanOrEqual(3);
    // What the bot did not take is still queued at "Telegram", for the next process.
    const info = await (await fetch(`${standin.apiRoot}/bot${standin.token}/getWebhookInfo`, { method: 'POST' })).json() as { result: { pending_update_count: number } };
    expect(info.result.pending_update_count).toBe(notTaken.length);

    // Every accepted command answered and traded; nothing else ran; each portfolio is its ledger.
    let store = await SqliteStore.open({ file: join(dataDir, 'cryptopulse.sqlite') });
    try {
      for (const [i, user] of users.entries()) {
        const acceptedHere = accepted.filter((id) => sent.get(id) === user).length;
        expect(bought(user).length, `${names[i]}: replies to accepted /buy`).toBe(acceptedHere);
        const ledger = await ledgerOf(store, names[i]!);
        expect(ledger.length, names[i]).toBe(acceptedHere);
        await expectPortfolioIsItsLedger(store, names[i]!, ledger);
      }
    } finally {
      await store.close();
    }

    // The restarted bot gets the updates never taken (the stand-in still holds them) and runs
    // each exactly once: ten purchases per user in all, no more.
    bot = startBot();
    try {
      // Up and polling before anything else: when the first bot took every update, nothing would
      // otherwise wait, and a SIGTERM before the bot's handler is installed kills it outright.
      await vi.waitFor(() => expect(bot.output()).toContain('chat adapters running'), { timeout: 60_000, interval: 100 });
      await standin.waitFor(() => users.every((u) => bought(u).length >= 10), 60_000);
      // Settle: whatever was still to come has come once the bot confirmed past the last update.
      const last = Math.max(...sent.keys());
      await standin.waitFor(() => confirmedOffset() > last, 30_000);
    } finally {
      bot.child.kill('SIGTERM');
    }
    expect(await bot.exited, bot.output()).toBe(0);
    store = await SqliteStore.open({ file: join(dataDir, 'cryptopulse.sqlite') });
    try {
      for (const [i, user] of users.entries()) {
        expect(bought(user).length, names[i]).toBe(10);
        const ledger = await ledgerOf(store, names[i]!);
        expect(ledger.length, names[i]).toBe(10);
        await expectPortfolioIsItsLedger(store, names[i]!, ledger);
      }
    } finally {
      await store.close();
    }
  }, 180_000);
});

async function expectPortfolioIsItsLedger(store: SqliteStore, username: string, ledger: Transaction[]): Promise<void> {
  const portfolio = await store.getPortfolio(username);
  expect(portfolio, username).toBeTruthy();
  const replayed = replayLedger(START, ledger);
  expect(new Dec(portfolio!.cash).eq(replayed.cash), `${username} cash ${portfolio!.cash} vs ledger ${replayed.cash.toString()}`).toBe(true);
  expect(Object.keys(portfolio!.holdings).sort()).toEqual([...replayed.holdings.keys()].sort());
  for (const [coinId, quantity] of replayed.holdings) {
    expect(new Dec(portfolio!.holdings[coinId]!.quantity).eq(quantity), `${username} ${coinId}`).toBe(true);
  }
}

/** The sequence itself, with stand-in parts: the order an operator relies on, and the budget. */
describe('runShutdown', () => {
  const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;

  function fakeAdapter(log: string[]): ChatAdapter {
    return {
      platform: 'telegram',
      capabilities: { buttons: false, images: false, privateReplies: 'none', maxMessageLength: Infinity },
      start: async () => undefined,
      stopReceiving: async () => void log.push('stop receiving'),
      stop: async () => void log.push('adapter stop'),
      deliverToUser: async () => ({ status: 'sent' }),
      deliverToChat: async () => ({ status: 'sent' }),
    } as ChatAdapter;
  }

  it('stops receiving, stops the jobs, flushes the outbox while adapters can send, then disconnects and closes the store', async () => {
    const log: string[] = [];
    let due = 3; // rows due: each run sends one
    const readiness = drainingReadiness({ check: async () => ({ ready: true, checks: {} }) });
    const result = await runShutdown({
      markUnready: () => {
        readiness.markDraining();
        log.push('unready');
      },
      adapters: [fakeAdapter(log)],
      stopJobs: async () => void log.push('jobs'),
      outbox: {
        runOnce: async () => {
          const delivered = due > 0 ? 1 : 0;
          due -= delivered;
          if (delivered) log.push('outbox row');
          return { delivered, retried: 0, failed: 0, summarised: 0 };
        },
      },
      afterAdapters: [['store', async () => void log.push('store closed')]],
      logger: quiet,
      timeoutMs: 10_000,
    });
    expect(result).toEqual({ completed: true, pending: [], flushed: 3 });
    expect(log).toEqual(['unready', 'stop receiving', 'jobs', 'outbox row', 'outbox row', 'outbox row', 'adapter stop', 'store closed']);
    expect((await readiness.check()).ready).toBe(false);
  });

  it('starts the shutdown on the first signal and exits at once on the second', async () => {
    const before = { SIGTERM: process.listeners('SIGTERM'), SIGINT: process.listeners('SIGINT') };
    const exits: number[] = [];
    try {
      const signalled = firstSignal(quiet, (code) => void exits.push(code));
      process.emit('SIGTERM');
      expect(await signalled).toBe('SIGTERM');
      expect(exits).toEqual([]);
      process.emit('SIGINT');
      expect(exits).toEqual([130]);
    } finally {
      for (const name of ['SIGTERM', 'SIGINT'] as const) {
        for (const l of process.listeners(name)) if (!before[name].includes(l)) process.removeListener(name, l);
      }
    }
  });

  it('gives up at the budget and names what was unfinished', async () => {
    const errors: unknown[] = [];
    const logger = { ...quiet, error: (o: unknown) => void errors.push(o) } as unknown as Logger;
    const result = await runShutdown({
      adapters: [],
      stopJobs: () => new Promise<void>(() => undefined), // a job run that never ends
      afterAdapters: [['store', async () => undefined]],
      logger,
      timeoutMs: 50,
    });
    expect(result.completed).toBe(false);
    expect(result.pending).toEqual(['scheduled jobs', 'outbox flush', 'chat adapters', 'store']);
    expect(errors).toHaveLength(1);
  });
});

describe('a Telegram webhook during the shutdown', () => {
  it('answers 503 once the bot stopped receiving, so Telegram keeps the update and delivers it again', async () => {
    const test = await makeTestBot();
    const api = await startTelegramStandin({ now: () => test.clock.now() });
    const tg = createTelegramBot({
      token: api.token, apiRoot: api.apiRoot, core: test.core, logger: { info: () => {}, warn: () => {}, error: () => {} } as unknown as Logger,
      webhook: { url: 'https://bot.example.com/telegram/hook', secret: 'hook_secret', port: 0, host: '127.0.0.1' },
    });
    try {
      await tg.start();
      const url = `http://127.0.0.1:${tg.webhookAddress()!.port}/telegram/hook`;
      api.webhookTarget = url;
      const eve = api.user(7001, 'Eve');
      expect((await api.send(eve, '/signup eve eve@example.com')).webhookStatus).toBe(200);
      await api.waitFor(() => api.botMessages(eve.id)[0]);

      await tg.stopReceiving!();
      // Its own server is closed by now; the handler, mounted anywhere, refuses too.
      const { createServer } = await import('node:http');
      const server = createServer((req, res) => void tg.handleWebhookRequest(req, res));
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      try {
        api.webhookTarget = `http://127.0.0.1:${(server.address() as { port: number }).port}/telegram/hook`;
        const { webhookStatus } = await api.send(eve, '/buy btc $10');
        expect(webhookStatus).toBe(503);
      } finally {
        await new Promise((done) => server.close(done));
      }
      expect(api.botMessages(eve.id)).toHaveLength(1); // only the welcome
      expect((await test.store.listTransactions('eve', { limit: 10 })).items).toHaveLength(0);
    } finally {
      await tg.stop();
      await api.close();
      await test.close();
    }
  });
});
