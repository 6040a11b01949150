/**
 * `npm start` with a Telegram token: the entry point wires the Telegram adapter to the core, runs
 * until SIGTERM, and exits cleanly. The real telegraf bot talks to the loopback Bot API stand-in.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTelegramStandin, type TelegramStandin } from './support/telegram-standin';

const ROOT = resolve(import.meta.dirname, '..');
let standin: TelegramStandin;
let dataDir: string;

beforeAll(async () => {
  standin = await startTelegramStandin();
  dataDir = mkdtempSync(join(tmpdir(), 'cp-entry-tg-'));
});
afterAll(async () => {
  await standin.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start with TELEGRAM_BOT_TOKEN', () => {
  it('serves Telegram users from the same core, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PRICE_FEED: 'simulated', LOG_LEVEL: 'warn', LOG_FORMAT: 'json',
        TELEGRAM_BOT_TOKEN: standin.token, TELEGRAM_API_ROOT: standin.apiRoot,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((done) => child.on('close', done));
    try {
      await standin.waitFor(() => standin.commands({ type: 'all_private_chats' }), 30_000);
      const ann = standin.user(501, 'Ann');
      await standin.send(ann, '/signup ann ann@example.com');
      const welcome = await standin.waitFor(() => standin.botMessages(ann.id)[0], 15_000);
      expect(welcome.text).toContain('Welcome, ann!');
      await standin.send(ann, '/buy btc $100');
      const bought = await standin.waitFor(() => standin.botMessages(ann.id)[1], 15_000);
      expect(bought.text).toMatch(/Bought [\d.]+ BTC/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/"level":50/);
  });
});
