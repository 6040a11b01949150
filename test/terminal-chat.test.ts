/**
 * The terminal chat end to end, as a new user runs it: `npm start`'s entry point in a child
 * process, commands through a pipe, replies on standard output, exit 0 at end of input.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCoinGeckoStandin, type CoinGeckoStandin } from './support/coingecko-standin';

const ROOT = resolve(import.meta.dirname, '..');
let dataDir: string;
let coingecko: CoinGeckoStandin;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'cp-console-'));
  coingecko = await startCoinGeckoStandin();
  coingecko.setPrice('bitcoin', '50000', '2.5');
});
afterAll(async () => {
  await coingecko.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function runBot(input: string, env: Record<string, string>, script = 'src/main.ts', args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

// Every test starts real bot processes (some start four, one after another): bounded generously,
// never timed, so a busy two-core machine does not fail them.
describe('terminal chat', { timeout: 90_000 }, () => {
  it('trades on live prices from CoinGecko through a pipe and exits 0', async () => {
    const script = [
      '/as ann',
      '/signup ann ann@example.com',
      '/price btc',
      '/buy btc $500',
      '/as bob',
      '/portfolio',
      '/as ann',
      '/portfolio',
    ].join('\n');
    const { code, stdout, stderr } = await runBot(`${script}\n`, { PRICE_FEED: 'coingecko', COINGECKO_BASE_URL: coingecko.url });
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    expect(stdout).toContain('Welcome, ann!');
    expect(stdout).toMatch(/BTC Bitcoin\s+\$50,000\.00\s+\+2\.50%/);
    expect(stdout).not.toContain('simulated');
    // The default spread (10 bps) and slippage (1 bps per $10,000) apply: half the spread plus
    // 0.05 bps above the market price.
    expect(stdout).toContain('Bought 0.00999495 BTC');
    expect(stdout).toMatch(/Price:\s+\$50,025\.25/);
    expect(stdout).toMatch(/Market price:\s+\$50,000\.00/);
    expect(stdout).toContain('You are now bob (console:bob).');
    expect(stdout).toMatch(/You need an account for \/portfolio/);
    expect(stdout).toMatch(/BTC\s+0\.00999495\s+\$50,025\.26\s+\$499\.75/);
    expect(coingecko.requests.some((r) => r.path.endsWith('/simple/price'))).toBe(true);
  });

  it('keeps accounts across restarts (the embedded store is a file)', async () => {
    const { code, stdout } = await runBot('/as ann\n/history\n/about\n', { PRICE_FEED: 'coingecko', COINGECKO_BASE_URL: coingecko.url, PRICE_POLL_SECONDS: '20' });
    expect(code).toBe(0);
    expect(stdout).toContain('Prices come from CoinGecko and refresh every 20 s.');
    expect(stdout).toMatch(/buy\s+bitcoin\s+0\.00999495\s+\$50,025\.25\s+\$500\.00\s+market/);
  });

  it('places limit and stop orders that hold cash and coin back, keeps them across a restart, and cancels one', async () => {
    const env = { PRICE_FEED: 'coingecko', COINGECKO_BASE_URL: coingecko.url };
    const first = await runBot([
      '/as eve',
      '/signup eve eve@example.com',
      '/buy btc 0.02', // $1,000.51 at $50,025.50 (market plus costs)
      '/sell btc 0.01 stop 45000',
      '/buy btc 0.1 at 40000', // $4,000 held: no buttons here, so no confirmation step
      '/buy btc 0.1 at 60000', // already below 60,000: refused, buy now instead
      '/portfolio',
      '/sell btc all', // only what no order holds
    ].join('\n') + '\n', env);
    expect(first.code).toBe(0);
    const stop = /Order ([0-9a-f]{8}) placed\n\nSell 0\.01 BTC once it falls to \$45,000\.00/.exec(first.stdout)?.[1];
    const limit = /Order ([0-9a-f]{8}) placed\n\nBuy 0\.1 BTC at \$40,000\.00 or lower/.exec(first.stdout)?.[1];
    expect(stop).toBeDefined();
    expect(limit).toBeDefined();
    expect(first.stdout).toMatch(/Held back:\s+\$4,000\.00/);
    expect(first.stdout).toContain('BTC is at $50,000.00, already at or below your limit of $60,000.00: /buy bitcoin 0.1 buys now.');
    expect(first.stdout).toMatch(/Free cash:\s+\$4,999\.49/);
    expect(first.stdout).toMatch(/Held for orders:\s+\$4,000\.00/);
    expect(first.stdout).toMatch(/BTC\s+0\.02 \(0\.01 held\)/);
    expect(first.stdout).toContain('Sold 0.01 BTC');

    const second = await runBot(`/as eve\n/orders\n/order cancel ${limit}\n/portfolio\n/order cancel ${limit}\n`, env);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('Your open orders (2)');
    expect(second.stdout).toContain(`Order ${limit} cancelled: buy 0.1 BTC at $40,000.00 or lower. $4,000.00 is free again.`);
    expect(second.stdout).not.toContain('Held for orders');
    expect(second.stdout).toMatch(/BTC\s+0\.01 \(0\.01 held\)/); // the stop-loss still holds its coin
    expect(second.stdout).toContain(`Order ${limit} is already cancelled.`);
  });

  it('falls back to clearly marked simulated prices when CoinGecko cannot be reached', async () => {
    const { code, stdout, stderr } = await runBot('/price eth\n', { PRICE_FEED: 'auto', COINGECKO_BASE_URL: 'http://127.0.0.1:9/api/v3' });
    expect(code).toBe(0);
    expect(stdout).toMatch(/ETH Ethereum\s+\$[\d,.]+ \(simulated\)/);
    expect(stdout).toContain('Prices are simulated');
    expect(stderr).toContain('prices: SIMULATED');
  });

  it('decides on simulated prices within seconds when CoinGecko accepts connections but never answers', async () => {
    // Before, start-up waited out two 10 s pings (21 s) before the first prompt: past this test's limit.
    const silent = createServer((socket) => socket.on('error', () => {}));
    await new Promise<void>((ready) => silent.listen(0, '127.0.0.1', ready));
    const { port } = silent.address() as AddressInfo;
    try {
      const { code, stdout, stderr } = await runBot('/price eth\n', { PRICE_FEED: 'auto', COINGECKO_BASE_URL: `http://127.0.0.1:${port}/api/v3` });
      expect(code).toBe(0);
      expect(stdout).toMatch(/ETH Ethereum\s+\$[\d,.]+ \(simulated\)/);
      expect(stderr).toContain('CoinGecko did not answer within 3 s');
    } finally {
      silent.close();
    }
  }, 12_000);

  it('creates the first admin from the command line, who then manages roles in chat', async () => {
    const created = await runBot('', {}, 'src/scripts/admin.ts', ['create', '--username', 'root', '--email', 'root@example.com', '--identity', 'console:boss']);
    expect(created.stdout).toContain('Created admin root <root@example.com>.');
    const bad = await runBot('', {}, 'src/scripts/admin.ts', ['create', '--username', 'X', '--email', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/username: A username is 3 to 32 characters/);
    const { stdout } = await runBot('/as boss\n/role ann analyst\n/as ann\n/market\n', { PRICE_FEED: 'simulated' });
    expect(stdout).toContain('ann is now analyst (was user).');
    expect(stdout).toContain('Market overview (24 h)');
  });

  it('creates or promotes the configured bootstrap admin at start', async () => {
    const { stdout } = await runBot('/as chief\n/whoami\n', {
      PRICE_FEED: 'simulated', BOOTSTRAP_ADMIN_USERNAME: 'chief', BOOTSTRAP_ADMIN_EMAIL: 'chief@example.com', BOOTSTRAP_ADMIN_IDENTITY: 'console:chief',
    });
    expect(stdout).toMatch(/chief\n\nRole:\s+admin/);
  });

  it('never hands the bootstrap admin role or the operator\'s identity to someone who took the username', async () => {
    await runBot('/as mallory\n/signup operator mallory@evil.io\n', { PRICE_FEED: 'simulated' });
    const env = { PRICE_FEED: 'simulated', BOOTSTRAP_ADMIN_USERNAME: 'operator', BOOTSTRAP_ADMIN_EMAIL: 'ops@company.io', BOOTSTRAP_ADMIN_IDENTITY: 'console:ops' };
    const { code, stdout, stderr } = await runBot('/as ops\n/whoami\n/as mallory\n/whoami\n', env);
    expect(code).toBe(0);
    expect(stderr).toContain('bootstrap admin refused: the account operator exists with a different email address');
    expect(stdout).toMatch(/console:ops\) is not linked to an account/);
    expect(stdout).toMatch(/operator\n\nRole:\s+user/);
    const role = await runBot('', {}, 'src/scripts/admin.ts', ['role', '--username', 'operator', '--email', 'ops@company.io', '--role', 'admin']);
    expect(role.code).toBe(2);
    expect(role.stderr).toContain('the account operator has a different email address: its role was not changed');
    const create = await runBot('', {}, 'src/scripts/admin.ts', ['create', '--username', 'operator', '--email', 'ops@company.io', '--identity', 'console:ops']);
    expect(create.code).toBe(2);
    expect(create.stderr).toContain('exists with a different email address');
  });

  it('stops with a message naming a bad configuration variable', async () => {
    const { code, stderr } = await runBot('', { START_BALANCE: 'lots', PRICE_FEED: 'simulated' });
    expect(code).toBe(2);
    expect(stderr).toMatch(/Invalid configuration:\n\s+START_BALANCE: must be a plain non-negative number/);
  });
});
