/**
 * Configuration from environment variables (and a .env file), validated once at start. A bad
 * value stops the bot with a message naming the variable, never a stack trace.
 */
import { z } from 'zod';

const decimalString = (what: string) => z.string().regex(/^\d+(\.\d+)?$/, `must be a plain non-negative number (${what})`);
const seconds = z.coerce.number().int().positive();
const optionalUrl = z.url().optional();
const optionalText = z.string().min(1).optional();

export const ConfigSchema = z.object({
  STORE: z.enum(['sqlite', 'dynamodb']).default('sqlite'),
  DATA_DIR: z.string().min(1).default('./data'),
  PRICE_FEED: z.enum(['coingecko', 'simulated', 'auto']).default('auto'),
  COINGECKO_BASE_URL: optionalUrl,
  COINGECKO_API_KEY: optionalText,
  COINGECKO_API_PLAN: z.enum(['demo', 'pro']).default('demo'),
  // Price failover (infra/prices/failover-feed.ts): a Binance-compatible public market-data API
  // that serves prices while CoinGecko fails; "off" turns failover off.
  FALLBACK_PRICES_URL: z.union([z.literal('off'), z.url({ protocol: /^https?$/, error: 'must be an http or https URL, or off' })]).default('https://data-api.binance.vision'),
  // Every CoinGecko call (polls, charts, the global market) across every instance on this store
  // takes from one budget per minute (infra/prices/request-budget.ts); 30 is the Demo plan's limit.
  COINGECKO_CALLS_PER_MINUTE: z.coerce.number().int().min(1).max(1000).default(30),
  // The price job's schedule (node-cron): a number of seconds that divides a minute, or whole
  // minutes that divide an hour, so that polls fall on an even beat.
  PRICE_POLL_SECONDS: seconds.refine((n) => (n < 60 ? 60 % n === 0 : n <= 3600 && n % 60 === 0 && 60 % (n / 60) === 0), 'must divide a minute (5, 10, 15, 20, 30) or be whole minutes that divide an hour (60, 120, 300, ... 3600)').default(30),
  // The job leader's lease on STORE=dynamodb (src/leader.ts): renewed every third of it; when the
  // holder dies, another instance takes the jobs over within this long.
  LEASE_SECONDS: seconds.min(3).max(600).default(30),
  SIMULATED_SEED: z.coerce.number().int().default(42),
  START_BALANCE: decimalString('virtual cash for new accounts, in USD').default('10000'),
  TRADE_FEE_PERCENT: decimalString('fee as a percentage of trade value').refine((v) => Number(v) < 50, 'must be below 50').default('0'),
  CONFIRM_TRADES_ABOVE: decimalString('trades worth more ask for confirmation where the chat has buttons, in USD').default('1000'),
  MAX_QUOTE_AGE_SECONDS: seconds.default(60),
  MAX_COMMAND_AGE_SECONDS: seconds.default(300),
  // The budget for a graceful shutdown (src/shutdown.ts): below systemd's TimeoutStopSec=30
  // (infra/deploy/cryptopulse.service), so the bot's own log says what was still pending.
  SHUTDOWN_TIMEOUT_SECONDS: seconds.min(1).max(600).default(20),
  MAX_ALERTS_PER_USER: seconds.default(20),
  // Alerts at scale (issue 10): noise control and group broadcasts.
  ALERT_REARM_PERCENT: decimalString('how far back past its threshold the price must move before a repeating alert re-arms, in percent').refine((v) => Number(v) < 50, 'must be below 50').default('0.5'),
  ALERTS_PER_MINUTE: seconds.default(10),
  BROADCAST_COOLDOWN_MINUTES: seconds.default(30),
  MAX_BROADCASTS_PER_CHAT: seconds.default(10),
  // Paper orders and fill costs (issue 11), in basis points (1 bps = 0.01%).
  SPREAD_BPS: decimalString('the whole bid-ask spread in basis points: a buy pays half above the market price, a sell gets half below').refine((v) => Number(v) <= 1000, 'must be at most 1000 (10%)').default('10'),
  SLIPPAGE_BPS_PER_10K: decimalString('slippage in basis points per 10,000 USD traded').refine((v) => Number(v) <= 1000, 'must be at most 1000').default('1'),
  MAX_SLIPPAGE_BPS: decimalString('the most slippage one trade can have, in basis points').refine((v) => Number(v) <= 1000, 'must be at most 1000 (10%)').default('50'),
  MAX_OPEN_ORDERS: seconds.max(100).default(20),
  MAX_ORDER_DAYS: seconds.max(365).default(90),
  ACTIVITY_RETENTION_DAYS: seconds.default(30),
  // /news (issue 12): RSS or Atom feeds, comma-separated, read at most once per NEWS_CACHE_SECONDS.
  NEWS_FEEDS: z.string()
    .transform((v) => v.split(',').map((u) => u.trim()).filter(Boolean))
    .pipe(z.array(z.url({ protocol: /^https?$/, error: 'each feed must be an http or https URL' })).max(20, 'at most 20 feeds'))
    .default(['https://www.coindesk.com/arc/outboundfeeds/rss/', 'https://cointelegraph.com/rss', 'https://decrypt.co/feed']),
  NEWS_CACHE_SECONDS: seconds.default(600),
  // /chart (issue 12): the QuickChart server that draws charts; the chat platforms fetch the
  // images from it, so it must be reachable from the internet (not only from this host).
  QUICKCHART_BASE_URL: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }).default('https://quickchart.io'),
  // /market's Fear and Greed index, in alternative.me's format; "off" leaves it out.
  FEAR_GREED_URL: z.union([z.literal('off'), z.url({ protocol: /^https?$/, error: 'must be an http or https URL, or off' })]).default('https://api.alternative.me/fng/'),
  BOOTSTRAP_ADMIN_USERNAME: optionalText,
  BOOTSTRAP_ADMIN_EMAIL: optionalText,
  BOOTSTRAP_ADMIN_IDENTITY: optionalText,
  CONSOLE_USER: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only').default('local'),
  // DynamoDB (STORE=dynamodb); credentials come from the standard AWS chain.
  TABLE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]{0,64}$/, 'letters, digits, _ . - only').default('cryptopulse-'),
  DYNAMODB_ENDPOINT: optionalUrl,
  AWS_REGION: z.string().min(1).default('us-east-1'),
  // Email through SNS: off unless SNS_ENABLED=true.
  SNS_ENABLED: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  SNS_ENDPOINT: optionalUrl,
  SNS_TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'letters, digits, _ - only').default('cryptopulse-user-'),
  // Telegram: the bot runs when a token is set.
  TELEGRAM_BOT_TOKEN: optionalText,
  TELEGRAM_API_ROOT: optionalUrl,
  TELEGRAM_WEBHOOK_URL: optionalUrl,
  TELEGRAM_WEBHOOK_SECRET: z.string().regex(/^[A-Za-z0-9_-]{1,256}$/, '1-256 of A-Z a-z 0-9 _ -').optional(),
  // Discord: the bot runs when a token is set (with the application id).
  DISCORD_TOKEN: optionalText,
  DISCORD_APPLICATION_ID: z.string().regex(/^\d{15,21}$/, 'the application id (a number, from the Developer Portal)').optional(),
  DISCORD_GUILD_ID: z.string().regex(/^\d{15,21}$/, 'a server id (a number: Developer Mode, right-click the server, Copy Server ID)').optional(),
  DISCORD_API_URL: optionalUrl,
  DISCORD_REGISTER_AT_START: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  // Slack: the bot runs when the bot token is set, with the signing secret (HTTP: /slack/events on
  // HOST:PORT) or an app-level token (Socket Mode: a WebSocket, nothing served).
  SLACK_BOT_TOKEN: z.string().regex(/^xoxb-[A-Za-z0-9-]+$/, 'the Bot User OAuth Token (xoxb-…, from OAuth & Permissions)').optional(),
  SLACK_SIGNING_SECRET: z.string().regex(/^[A-Za-z0-9]{16,128}$/, 'the Signing Secret (Basic Information → App Credentials)').optional(),
  SLACK_APP_TOKEN: z.string().regex(/^xapp-[A-Za-z0-9-]+$/, 'an App-Level Token (xapp-…, Basic Information → App-Level Tokens, with connections:write)').optional(),
  SLACK_COMMAND: z.string().regex(/^\/[a-z0-9_-]{1,31}$/, 'a slash command such as /pulse (lower case, as created under Slash Commands)').default('/pulse'),
  SLACK_API_URL: optionalUrl,
  // One HTTP server serves every platform that takes HTTP (the Telegram webhook, Slack's
  // /slack/events), each at its own path. It speaks plain HTTP: TLS ends in front of it (a load balancer or a reverse
  // proxy). Loopback by default, so nothing else reaches it unless HOST says so (0.0.0.0, ::).
  HOST: z.string().regex(/^[A-Za-z0-9.:-]{1,253}$/, 'an IP address or host name to listen on (127.0.0.1, 0.0.0.0, ::)').default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  NODE_ENV: z.string().optional(),
});

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads the configuration, or throws a ConfigError listing every bad variable by name. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty variables count as unset, as they do in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = ConfigSchema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const config = result.data;
  if (config.TELEGRAM_WEBHOOK_URL && !config.TELEGRAM_WEBHOOK_SECRET) {
    throw new ConfigError('Invalid configuration:\n  TELEGRAM_WEBHOOK_SECRET: required with TELEGRAM_WEBHOOK_URL, so only Telegram can call the webhook');
  }
  if (Boolean(config.DISCORD_TOKEN) !== Boolean(config.DISCORD_APPLICATION_ID)) {
    throw new ConfigError('Invalid configuration:\n  DISCORD_TOKEN and DISCORD_APPLICATION_ID go together (both from the Developer Portal)');
  }
  const slackReceives = Boolean(config.SLACK_SIGNING_SECRET || config.SLACK_APP_TOKEN);
  if (Boolean(config.SLACK_BOT_TOKEN) !== slackReceives) {
    throw new ConfigError('Invalid configuration:\n  SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET go together, or SLACK_BOT_TOKEN and SLACK_APP_TOKEN for Socket Mode (all from your app at api.slack.com/apps)');
  }
  if (config.TELEGRAM_WEBHOOK_URL && config.SLACK_BOT_TOKEN && !config.SLACK_APP_TOKEN && new URL(config.TELEGRAM_WEBHOOK_URL).pathname === '/slack/events') {
    throw new ConfigError('Invalid configuration:\n  TELEGRAM_WEBHOOK_URL: its path is /slack/events, where Slack is served on the same HTTP server; choose another path');
  }
  const polls = Math.max(1, Math.ceil(60 / config.PRICE_POLL_SECONDS));
  if (config.COINGECKO_CALLS_PER_MINUTE <= polls) {
    throw new ConfigError(`Invalid configuration:\n  COINGECKO_CALLS_PER_MINUTE: must exceed the ${polls} price poll${polls === 1 ? '' : 's'} a minute PRICE_POLL_SECONDS makes, or charts and the market overview get no calls`);
  }
  const bootstrap = [config.BOOTSTRAP_ADMIN_USERNAME, config.BOOTSTRAP_ADMIN_EMAIL];
  if (bootstrap.some(Boolean) && !bootstrap.every(Boolean)) {
    throw new ConfigError('Invalid configuration:\n  BOOTSTRAP_ADMIN_USERNAME and BOOTSTRAP_ADMIN_EMAIL go together');
  }
  return config;
}
