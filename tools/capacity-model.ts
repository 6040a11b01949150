/**
 * The capacity model behind docs/scaling.md: what a number of instances carries and what DynamoDB,
 * SNS and the chat platforms charge or allow, for a number of users. Deterministic arithmetic on
 * three kinds of input, each marked where it is declared:
 *   - MEASURED: figures from `npm run bench` (names as in bench-results.json) and from
 *     `npm run capacity -- --measure` (the CPU a command costs the bot's own process);
 *   - COMPUTED: DynamoDB units from the sizes of the very items the store writes (built here with
 *     infra/dynamodb/items.ts, sized by DynamoDB's published rules);
 *   - ASSUMED: the activity profile, prices and quotas (published values; check current ones).
 *
 *   npm run capacity              prints the tables (no I/O, same output every run)
 *   npm run capacity -- --measure runs the two trade benchmarks and prints the bot's CPU per command
 */
import {
  portfolioItem,
  transactionFields,
  transactionItem,
  tradeKeyId,
  ttlSeconds,
  type Item,
} from '../infra/dynamodb/items';
import type { Portfolio, Transaction } from '../core/domain';
import { provisionedCapacity } from '../infra/deploy/template';

// ---- MEASURED -----------------------------------------------------------------------------------

/** CPU milliseconds of the bot's own process, from `npm run capacity -- --measure` on the 2-core
 *  build machine (2026-11-26, load average ~8, so an upper bound): per command through the whole
 *  core on SQLite (buy, sell, portfolio in turn), and per trade straight through the DynamoDB store
 *  (3 requests: two reads and the transaction; table and account setup included). */
const CPU_MS = { sqliteCommand: 0.45, dynamodbTrade: 6.43 };
/** So one DynamoDB request (SDK middleware, SigV4 signing, HTTP, parsing) costs about this much. */
const CPU_MS_PER_REQUEST = CPU_MS.dynamodbTrade / 3;
/** Requests a command makes on DynamoDB (core/dispatcher.ts): identity, account, activity, and its
 *  own: a portfolio read (1) for most commands, the once-claim, two reads and the transaction for a trade. */
const REQUESTS = { trade: 3 + 1 + 3, other: 3 + 1 };
/** `npm run bench -- alerts` (1,000,000 armed alerts, 250 coins): the index's memory and timings,
 *  from the quieter recorded run; on 2026-11-26 at load 5.5: match 7.3 ms, tick 385 ms, 440 MB. */
const ALERT_INDEX = { bytesPerAlert: 439, tickMs: 162, matchMs: 2.96, buildS: 8.4, benchAlerts: 1_000_000 };
/** `npm run bench -- memory`: the bot's resident memory with three platforms connected (target). */
const BOT_RSS_MB = 150;

// ---- ASSUMED ------------------------------------------------------------------------------------

/** Who does what. Peak hour = PEAK_FACTOR x the day's average rate. */
const PROFILE = {
  dailyActiveShare: 0.05,
  commandsPerActiveUserPerDay: 10,
  tradesPerActiveUserPerDay: 2,
  armedAlertsPerUser: 2,
  /** Of armed alerts, fired per day (each one pushed message). */
  alertFiresPerAlertPerDay: 0.1,
  /** Users who take a daily digest (one pushed message each). */
  digestShare: 0.1,
  /** Users with email on (an SNS topic each, and trade and alert emails). */
  emailShare: 0.05,
  peakFactor: 10,
  /** A sharp market move: this share of all armed alerts fires in one price tick. */
  burstFireShare: 0.01,
  /** Where users are: the platforms' global limits apply to each platform's share. */
  platforms: { telegram: 0.5, discord: 0.3, slack: 0.2 },
};
/** The profile's average command on each store (on DynamoDB a trade makes more requests). */
const tradeShare = PROFILE.tradesPerActiveUserPerDay / PROFILE.commandsPerActiveUserPerDay;
const CPU_MS_PER_COMMAND = {
  sqlite: CPU_MS.sqliteCommand,
  dynamodb: CPU_MS.sqliteCommand + CPU_MS_PER_REQUEST * (tradeShare * REQUESTS.trade + (1 - tradeShare) * REQUESTS.other),
};
const USERS = [1_000, 10_000, 100_000, 1_000_000];
const INSTANCES = [1, 2, 4, 10];
/** Plan for this much of a vCPU per instance: above it latency grows (scale out at 60% sustained). */
const CPU_TARGET = 0.6;
/** t2.micro: 1 vCPU, t3.micro: 2 vCPUs, both earn a 10% per-vCPU baseline (AWS burstable table).
 *  Node runs the bot on one thread, so one vCPU is the ceiling and the credit baseline the floor. */
const T_MICRO = { ramMb: 1024, osMb: 250, baselineShareT2: 0.1, baselineShareT3: 0.2 };

/** us-east-1, as published in 2025: check current pricing. */
const PRICE = {
  onDemandWritePerMillion: 1.25,
  onDemandReadPerMillion: 0.25,
  provisionedWcuHour: 0.00065,
  provisionedRcuHour: 0.00013,
  snsEmailPer100k: 2.0,
  snsFreeEmailsPerMonth: 1_000,
};
/** Global send limits, messages per second (../shared/platform-facts.md). */
const QUOTA = {
  telegramPerS: 30,
  discordPerS: 50,
  slackPerChannelPerS: 1,
  snsTopicsPerAccount: 100_000,
  snsPublishPerS: 30_000,
  coingeckoCallsPerMin: 30,
};
const HOURS_PER_MONTH = 730;
const SECONDS_PER_DAY = 86_400;

// ---- COMPUTED: DynamoDB units from the items the store writes ------------------------------------

/** An attribute value's size by DynamoDB's rules: strings their UTF-8 bytes, numbers about one
 *  byte per two significant digits plus one, maps and lists 3 bytes plus 1 per element. */
function valueSize(v: unknown): number {
  if (v === null || v === undefined || typeof v === 'boolean') return 1;
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v === 'number') return Math.ceil(String(Math.abs(v)).replace(/[.-]|e.*$/g, '').replace(/^0+/, '').length / 2) + 1;
  if (Array.isArray(v)) return 3 + v.reduce((n: number, e) => n + 1 + valueSize(e), 0);
  return 3 + Object.entries(v as Item).reduce((n, [k, e]) => n + 1 + Buffer.byteLength(k) + valueSize(e), 0);
}
const itemSize = (item: Item) => Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + valueSize(v), 0);
const kb = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
/** An index entry costs its projected attributes plus 100 bytes; KEYS_ONLY projects the keys only. */
const INDEX_OVERHEAD = 100;

/** A representative account a few weeks in: 5 coins held, realistic id and number lengths. */
const now = Date.UTC(2026, 10, 26, 12);
const username = 'trader_000123';
const coins = ['bitcoin', 'ethereum', 'solana', 'dogecoin', 'cardano'];
function examplePortfolio(holdings: number): Portfolio {
  return {
    username, cash: '8734.5612837465', reservedCash: '0', realizedPnl: '-123.4567891234', version: 187, createdAt: now - 30 * 86_400_000, lastTradeAt: now,
    holdings: Object.fromEntries(
      Array.from({ length: holdings }, (_, i) => {
        const coinId = coins[i] ?? `coin-number-${i}`;
        return [coinId, { coinId, quantity: '0.0123456789012345', costBasis: '1067.4512345678' }];
      }),
    ),
  };
}
const transaction: Transaction = {
  transactionId: 'f3c1b8a2-6d4e-4f1a-9b7c-2e5d8a9f0c13', username, type: 'buy', coinId: 'bitcoin', quantity: '0.00114942528735632',
  price: '87000.12', amount: '100.00', fee: '0.10', timestamp: now, platform: 'telegram', marketPrice: '87000.12',
};

const portfolioBytes = itemSize(portfolioItem(examplePortfolio(5)));
const ledgerItem = transactionItem(transaction);
const ledgerBytes = itemSize(ledgerItem);
const idempotencyBytes = itemSize({ id: tradeKeyId(username, 'telegram:123456789:987654'), transaction: transactionFields(transaction), ttl: ttlSeconds(now) });
/** A counters shard after a while: the ADD is billed on the item as it ends up. */
const counterBytes = itemSize({ shard: 'stats#07', transactions: 123456, buyVolume: '1234567.891234', sellVolume: '987654.321987', accounts_user: 4321, identities: 4400, alertsFired: 9876 });
/** The activity entry every command writes (dynamodb-store.ts recordActivity). */
const activityBytes = itemSize({
  owner: username, sk: '0001795700000000#00001a2b#p1c3', at: now, identityKey: 'telegram:123456789', platform: 'telegram', username,
  command: 'buy', detail: '/buy btc $100', outcome: 'ok', timeShard: 'act#2', ttl: ttlSeconds(now),
});
/** Holdings at which a portfolio passes 1 KB and its transactional put doubles in price. */
const holdingsPer1Kb = (() => {
  let n = 1;
  while (itemSize(portfolioItem(examplePortfolio(n))) <= 1024) n++;
  return n;
})();

/** One /buy or /sell on DynamoDB, as dynamodb-store.ts executeTrade and the dispatcher do it. */
const TRADE = {
  // Transactional writes cost 2 units per KB of each item: portfolio, ledger, idempotency, counters.
  write: 2 * (kb(portfolioBytes) + kb(ledgerBytes) + kb(idempotencyBytes) + kb(counterBytes))
    // The ledger's feed-index (projection ALL) is an ordinary write.
    + kb(ledgerBytes + INDEX_OVERHEAD),
  // Two consistent reads: the idempotency record (absent) and the portfolio.
  read: 1 + Math.ceil(portfolioBytes / 4096),
};
/** What every command costs besides its own work (core/dispatcher.ts): a consistent read of the
 *  identity and of the account, the activity put (and its KEYS_ONLY time-index entry); a command
 *  that changes state also claims its message id once (a conditional put). */
const COMMAND = { read: 2, write: kb(activityBytes) + 1 };
const CLAIM_WRITE = 1;
/** The same /buy, write units by table or index: with TableCapacity=PROVISIONED each has its own
 *  few units (infra/deploy/template.ts provisionedCapacity), and the scarcest one sets the pace. */
const TRADE_WRITES_BY_TABLE: Record<string, number> = {
  portfolios: 2 * kb(portfolioBytes),
  transactions: 2 * kb(ledgerBytes),
  'transactions/feed-index': kb(ledgerBytes + INDEX_OVERHEAD),
  idempotency: 2 * kb(idempotencyBytes) + CLAIM_WRITE,
  counters: 2 * kb(counterBytes),
  activity: kb(activityBytes),
  'activity/time-index': 1,
};
/** A pushed message (alert, digest, email) goes through the outbox: put (and its queue-index
 *  entry), lease, settle. About 4 writes; its reads are the queue queries, counted below. */
const PUSH = { write: 4, read: 1 };

/** Per instance, whatever the traffic: the price snapshot every 5 s (eventually consistent, about
 *  250 coins at ~90 bytes: 22 KB = 3 units), the outbox queue every 5 s (4 shards, 0.5 each), the
 *  lease renewed or tried every 10 s (a conditional put; a failed one is billed too).
 *  On the leader: the change feed (4 x 0.5) and the snapshot put (22 KB) each 30 s poll. */
const SNAPSHOT_BYTES = 250 * 90;
const BACKGROUND = {
  readPerInstancePerS: (Math.ceil(SNAPSHOT_BYTES / 4096) / 2 + 2) / 5,
  writePerInstancePerS: 1 / 10,
  leaderReadPerS: 2 / 30,
  leaderWritePerS: kb(SNAPSHOT_BYTES) / 30,
};

// ---- the model ----------------------------------------------------------------------------------

interface Load {
  commandsPeakPerS: number;
  tradesPerDay: number;
  pushesPerDay: number;
  pushesPeakPerS: number;
  armedAlerts: number;
  wcuPeak: number;
  rcuPeak: number;
  writeUnitsPerMonth: number;
  readUnitsPerMonth: number;
  emailsPerMonth: number;
}

function load(users: number, instances: number): Load {
  const active = users * PROFILE.dailyActiveShare;
  const commandsPerDay = active * PROFILE.commandsPerActiveUserPerDay;
  const tradesPerDay = active * PROFILE.tradesPerActiveUserPerDay;
  const armedAlerts = users * PROFILE.armedAlertsPerUser;
  const pushesPerDay = armedAlerts * PROFILE.alertFiresPerAlertPerDay + users * PROFILE.digestShare;
  const emailsPerDay = users * PROFILE.emailShare * (PROFILE.tradesPerActiveUserPerDay * PROFILE.dailyActiveShare + PROFILE.armedAlertsPerUser * PROFILE.alertFiresPerAlertPerDay);
  const writesPerDay = commandsPerDay * COMMAND.write + tradesPerDay * (TRADE.write + CLAIM_WRITE) + (pushesPerDay + emailsPerDay) * PUSH.write;
  const readsPerDay = commandsPerDay * COMMAND.read + tradesPerDay * TRADE.read + (pushesPerDay + emailsPerDay) * PUSH.read;
  const bgRead = BACKGROUND.readPerInstancePerS * instances + BACKGROUND.leaderReadPerS;
  const bgWrite = BACKGROUND.writePerInstancePerS * instances + BACKGROUND.leaderWritePerS;
  const peak = PROFILE.peakFactor / SECONDS_PER_DAY;
  const month = (perDay: number, perS: number) => perDay * 30 + perS * SECONDS_PER_DAY * 30;
  return {
    commandsPeakPerS: commandsPerDay * peak,
    tradesPerDay,
    pushesPerDay,
    pushesPeakPerS: pushesPerDay * peak,
    armedAlerts,
    wcuPeak: writesPerDay * peak + bgWrite,
    rcuPeak: readsPerDay * peak + bgRead,
    writeUnitsPerMonth: month(writesPerDay, bgWrite),
    readUnitsPerMonth: month(readsPerDay, bgRead),
    emailsPerMonth: emailsPerDay * 30,
  };
}

/** Commands/s a fleet answers at CPU_TARGET of one vCPU each (the bot is one Node thread). */
const commandsCapacity = (instances: number, store: 'sqlite' | 'dynamodb', share = CPU_TARGET) => (instances * share * 1000) / CPU_MS_PER_COMMAND[store];
/** Armed alerts one leader's index holds on a 1 GB micro instance. */
const alertsPerMicroLeader = Math.floor(((T_MICRO.ramMb - T_MICRO.osMb - BOT_RSS_MB) * 1024 * 1024) / ALERT_INDEX.bytesPerAlert);

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const duration = (s: number) => (s < 120 ? `${fmt(s)} s` : `${fmt(s / 60)} min`);
const money = (n: number) => `$${fmt(n, n < 10 ? 2 : 0)}`;
function table(head: string[], rows: (string | number)[][]): void {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  console.log([line(cells[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n'));
}

function report(): void {
  console.log('## DynamoDB units per operation (computed from the items the store writes)\n');
  table(['item', 'bytes'], [
    ['portfolio, 5 holdings', portfolioBytes], ['ledger entry', ledgerBytes], ['idempotency record', idempotencyBytes],
    ['counters shard', counterBytes], ['activity entry', activityBytes], [`portfolio passes 1 KB at holdings`, holdingsPer1Kb],
  ]);
  console.log();
  table(['operation', 'write units', 'read units'], [
    ['trade (executeTrade)', TRADE.write, TRADE.read],
    ['any command (identity, account, activity)', COMMAND.write, COMMAND.read],
    ['state-changing command: once-claim', CLAIM_WRITE, 0],
    ['pushed message (outbox)', PUSH.write, PUSH.read],
  ]);
  const tradeW = TRADE.write + COMMAND.write + CLAIM_WRITE;
  const tradeR = TRADE.read + COMMAND.read;
  const perMillion = (tradeW * PRICE.onDemandWritePerMillion + tradeR * PRICE.onDemandReadPerMillion);
  console.log(`\nOne /buy end to end: ${tradeW} write + ${tradeR} read units = ${money(perMillion)} per million trades on demand` +
    ` (the store's transaction alone: ${money(TRADE.write * PRICE.onDemandWritePerMillion + TRADE.read * PRICE.onDemandReadPerMillion)}).`);
  const units = provisionedCapacity();
  const paces = Object.entries(TRADE_WRITES_BY_TABLE).map(([entity, w]) => ({ entity, perS: (units.get(entity)?.write ?? 1) / w }));
  const slowest = paces.reduce((a, b) => (b.perS < a.perS ? b : a));
  console.log(`With TableCapacity=PROVISIONED (the free tier's 25 WCU spread by the template) trades are sustained at ` +
    `${fmt(slowest.perS, 2)}/s: ${slowest.entity} has ${units.get(slowest.entity)?.write} WCU and a trade writes ${TRADE_WRITES_BY_TABLE[slowest.entity]} there ` +
    `(${paces.map((p) => `${p.entity} ${fmt(p.perS, 2)}/s`).join(', ')}). Unused units accrue as up to 300 s of burst.`);
  // Users that fit: every command writes its activity entry, every trade the tables above, and the
  // idempotency table also takes the price snapshot and the lease (one instance).
  const peak = PROFILE.peakFactor * PROFILE.dailyActiveShare / SECONDS_PER_DAY;
  const perUser = (entity: string) => peak * (entity.startsWith('activity')
    ? PROFILE.commandsPerActiveUserPerDay * (entity === 'activity' ? kb(activityBytes) : 1)
    : PROFILE.tradesPerActiveUserPerDay * TRADE_WRITES_BY_TABLE[entity]!);
  const background = (entity: string) => (entity === 'idempotency' ? BACKGROUND.leaderWritePerS + BACKGROUND.writePerInstancePerS : 0);
  const fits = Object.keys(TRADE_WRITES_BY_TABLE).map((entity) => ({ entity, users: ((units.get(entity)?.write ?? 1) - background(entity)) / perUser(entity) }));
  const first = fits.reduce((a, b) => (b.users < a.users ? b : a));
  console.log(`At the profile's peak hour that is about ${fmt(Math.floor(first.users / 1000) * 1000)} users, ${first.entity} binding first ` +
    `(${fits.map((f) => `${f.entity} ${fmt(f.users)}`).join(', ')}).`);

  console.log(`\n## Commands/s one fleet answers (CPU per command: SQLite ${fmt(CPU_MS_PER_COMMAND.sqlite, 2)} ms measured, DynamoDB ` +
    `${fmt(CPU_MS_PER_COMMAND.dynamodb, 1)} ms = core + ${fmt(CPU_MS_PER_REQUEST, 2)} ms x requests; at 60% of one vCPU, or the micro's credit baseline)\n`);
  table(['instances', 'SQLite', 'DynamoDB', 'DynamoDB on t2.micro baseline (10%)', 'on t3.micro baseline (20%)'],
    INSTANCES.map((n) => [n, n === 1 ? fmt(commandsCapacity(1, 'sqlite')) : '(one instance only)', fmt(commandsCapacity(n, 'dynamodb')),
      fmt(commandsCapacity(n, 'dynamodb', T_MICRO.baselineShareT2)), fmt(commandsCapacity(n, 'dynamodb', T_MICRO.baselineShareT3))]));

  console.log(`\n## Load by users (ASSUMED profile: ${PROFILE.dailyActiveShare * 100}% daily active, ${PROFILE.commandsPerActiveUserPerDay} commands and ` +
    `${PROFILE.tradesPerActiveUserPerDay} trades each a day, ${PROFILE.armedAlertsPerUser} armed alerts per user firing ${PROFILE.alertFiresPerAlertPerDay}/day, ` +
    `${PROFILE.digestShare * 100}% take a digest, ${PROFILE.emailShare * 100}% email, peak = ${PROFILE.peakFactor}x average, a sharp move fires ${PROFILE.burstFireShare * 100}% of alerts at once)\n`);
  table(['users', 'peak commands/s', 'instances (t3.micro, 60% CPU)', 'instances (baseline credits)', 'armed alerts', 'leader index MB', 'peak WCU', 'peak RCU',
    'on-demand $/month', 'provisioned $/month', 'trades/month'],
  USERS.map((u) => {
    const base = load(u, 1);
    const needed = Math.max(1, Math.ceil(base.commandsPeakPerS / commandsCapacity(1, 'dynamodb')));
    const neededBaseline = Math.max(1, Math.ceil(base.commandsPeakPerS / commandsCapacity(1, 'dynamodb', T_MICRO.baselineShareT3)));
    const l = load(u, needed);
    const onDemand = (l.writeUnitsPerMonth * PRICE.onDemandWritePerMillion + l.readUnitsPerMonth * PRICE.onDemandReadPerMillion) / 1e6;
    // Provisioned for the peak (auto scaling follows the day; this is the ceiling), 25 units free.
    const provisioned = Math.max(0, Math.ceil(l.wcuPeak) - 25) * PRICE.provisionedWcuHour * HOURS_PER_MONTH + Math.max(0, Math.ceil(l.rcuPeak) - 25) * PRICE.provisionedRcuHour * HOURS_PER_MONTH;
    const fits = l.armedAlerts <= alertsPerMicroLeader ? '' : ' (> micro)';
    return [fmt(u), fmt(l.commandsPeakPerS, 1), needed, neededBaseline, fmt(l.armedAlerts), `${fmt((l.armedAlerts * ALERT_INDEX.bytesPerAlert) / 1e6)}${fits}`, fmt(l.wcuPeak, 1), fmt(l.rcuPeak, 1),
      money(onDemand), money(provisioned), fmt(l.tradesPerDay * 30)];
  }));
  console.log(`\nOne micro leader (1 GB, ${T_MICRO.osMb} MB OS, ${BOT_RSS_MB} MB bot) holds about ${fmt(alertsPerMicroLeader)} armed alerts in its index` +
    ` (${ALERT_INDEX.bytesPerAlert} B each); a tick over 1,000,000 took ${ALERT_INDEX.tickMs} ms against a ${30_000} ms poll.`);

  console.log('\n## Quotas at the peak hour (pushed messages and command replies, per platform share)\n');
  table(['users', 'Telegram msg/s (limit 30)', 'Discord req/s (limit 50)', 'burst drain on Telegram', 'broadcast to all Telegram chats', 'SNS topics (limit 100,000)', 'SNS email $/month', 'nearest its limit'],
    USERS.map((u) => {
      const l = load(u, 1);
      // Every reply and every pushed message is one send; Discord's interaction replies are not
      // under its global limit, so only its pushed messages count there.
      const telegram = (l.commandsPeakPerS + l.pushesPeakPerS) * PROFILE.platforms.telegram;
      const discord = l.pushesPeakPerS * PROFILE.platforms.discord;
      const broadcastS = (u * PROFILE.platforms.telegram) / QUOTA.telegramPerS;
      // A sharp move: burstFireShare of the alerts fire at once and queue behind Telegram's limit.
      const burstS = (l.armedAlerts * PROFILE.burstFireShare * PROFILE.platforms.telegram) / QUOTA.telegramPerS;
      const topics = u * PROFILE.emailShare;
      const emailCost = (Math.max(0, l.emailsPerMonth - PRICE.snsFreeEmailsPerMonth) / 100_000) * PRICE.snsEmailPer100k;
      // The quota nearest its limit (a broadcast is held to one hour to reach every chat).
      const use: [string, number][] = [['Telegram msg/s', telegram / QUOTA.telegramPerS], ['Discord req/s', discord / QUOTA.discordPerS],
        ['Telegram broadcast hour', broadcastS / 3600], ['SNS topics', topics / QUOTA.snsTopicsPerAccount]];
      const [name, share] = use.reduce((a, b) => (b[1] > a[1] ? b : a));
      const binds = `${name} ${fmt(share * 100)}%`;
      return [fmt(u), fmt(telegram, 1), fmt(discord, 1), duration(burstS), duration(broadcastS), fmt(topics), money(emailCost), binds];
    }));
  console.log(`\nCoinGecko: one poll per PRICE_POLL_SECONDS on the leader only = 2 calls/min at the default 30 s, whatever the fleet size (limit ~${QUOTA.coingeckoCallsPerMin}/min).`);
}

/** Runs the trade benchmarks and divides this process's CPU time by the commands they sent. */
async function measure(): Promise<void> {
  const { loadavg } = await import('node:os');
  const { tradesSqlite } = await import('../test/bench/trades-sqlite.bench');
  const { tradesDynamodb } = await import('../test/bench/trades-dynamodb.bench');
  for (const [name, run, commands] of [['sqlite', tradesSqlite, 'trades.sqlite.commands'], ['dynamodb', tradesDynamodb, 'trades.dynamodb.trades']] as const) {
    const before = process.cpuUsage();
    const figures = await run();
    const used = process.cpuUsage(before);
    // Setup (accounts, tables, warm-up) is included: an upper bound per command.
    const count = figures[commands]! + (name === 'dynamodb' ? 200 : 15);
    console.log(`${name}: ${((used.user + used.system) / 1000 / count).toFixed(2)} CPU ms per ${name === 'dynamodb' ? 'trade' : 'command'} (${count} of them, load ${loadavg()[0]!.toFixed(1)})`);
  }
}

if (process.argv.includes('--measure')) {
  await measure();
  process.exit(0);
} else {
  report();
}
