/**
 * Resident memory of the bot with Telegram, Discord and Slack connected at once, started the way
 * production starts it: the compiled JavaScript (`node dist/src/main.js`, `npm run start:prod`),
 * and for comparison through the TypeScript loader (`node --import tsx src/main.ts`).
 *
 * The three loopback stand-ins run in this process; the bot runs as a child process configured
 * against them (Telegram by long polling, Discord with guild commands, Slack's receiver on a free
 * port that the stand-in learns from the bot's log), with the SQLite store in a temporary folder
 * and simulated prices. Once the bot's JSON log says all three are up, USERS people on each
 * platform sign up and run /price, /buy and /portfolio (COMMANDS_PER_USER commands each, one after
 * the other, CONCURRENCY people at a time per platform, the three platforms at once), every answer
 * is waited for, and then the child's VmRSS (and VmHWM, its peak) is read from /proc.
 *
 * Target: rss_mb at most 150 (compiled). Printed against the target; the benchmark never fails on it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startDiscordStandin, type DiscordStandin, type DiscordUser, type StandinGuild } from '../support/discord-standin';
import { startSlackStandin, type SlackStandin } from '../support/slack-standin';
import { startTelegramStandin, type StandinUser, type TelegramStandin } from '../support/telegram-standin';

const ROOT = resolve(import.meta.dirname, '../..');
const USERS = 50;
const COMMANDS_PER_USER = 4;
const CONCURRENCY = 10;
const TARGET_MB = 150;
const START_TIMEOUT_MS = 60_000;
const ANSWER_TIMEOUT_MS = 30_000;
const BURST_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 15_000;

type Platform = 'telegram' | 'discord' | 'slack';

/** The commands one person runs, in order: COMMANDS_PER_USER of them. */
function script(name: string): Array<{ line: string; command: string; options: Record<string, string> }> {
  return [
    { line: `/signup ${name} ${name}@example.com`, command: 'signup', options: { username: name, email: `${name}@example.com` } },
    { line: '/price btc', command: 'price', options: { coins: 'btc' } },
    { line: '/buy btc $100', command: 'buy', options: { coin: 'btc', amount: '$100' } },
    { line: '/portfolio', command: 'portfolio', options: {} },
  ];
}

interface Run {
  rssMb: number;
  peakMb: number;
  answers: Record<Platform, number>;
  seconds: number;
}

/** `node --max-semi-space-size=1 dist/src/main.js`: a 1 MB young generation keeps the heap small
 *  (about 15 MB less resident memory than V8's default here) at no measurable cost in this burst. */
const PRODUCTION_START: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts['start:prod'];

export async function memory(): Promise<Record<string, number>> {
  if (!existsSync(join(ROOT, 'dist/src/main.js'))) {
    console.log('dist/ is missing: npm run build');
    const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (built.status !== 0) throw new Error('npm run build failed');
  }
  // Exactly the production start command (package.json's start:prod), and the same with tsx.
  const nodeArgs = PRODUCTION_START.split(/\s+/).slice(1);
  const flags = nodeArgs.filter((a) => a.startsWith('--'));
  const compiled = await measure('compiled', nodeArgs);
  const tsx = await measure('tsx', [...flags, '--import', 'tsx', 'src/main.ts']);
  const sent = USERS * COMMANDS_PER_USER;
  console.log(`rss ${compiled.rssMb} MB compiled (target <= ${TARGET_MB} MB: ${compiled.rssMb <= TARGET_MB ? 'met' : 'NOT met'}), ${tsx.rssMb} MB with tsx`);
  return {
    'memory.rss_mb': compiled.rssMb,
    'memory.rss_peak_mb': compiled.peakMb,
    'memory.target_mb': TARGET_MB,
    'memory.commands_per_platform': sent,
    'memory.answers.telegram': compiled.answers.telegram,
    'memory.answers.discord': compiled.answers.discord,
    'memory.answers.slack': compiled.answers.slack,
    'memory.burst_seconds': compiled.seconds,
    'memory.rss_mb_tsx': tsx.rssMb,
    'memory.rss_peak_mb_tsx': tsx.peakMb,
    'memory.answers_tsx.telegram': tsx.answers.telegram,
    'memory.answers_tsx.discord': tsx.answers.discord,
    'memory.answers_tsx.slack': tsx.answers.slack,
  };
}

async function measure(label: string, args: string[]): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cp-bench-memory-'));
  const telegram = await startTelegramStandin();
  const discord = await startDiscordStandin();
  const slack = await startSlackStandin();
  const guild = discord.guild({ name: 'Bench' });
  let child: ChildProcess | undefined;
  try {
    child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH, HOME: process.env.HOME,
        NODE_ENV: 'production', LOG_FORMAT: 'json', LOG_LEVEL: 'info',
        STORE: 'sqlite', DATA_DIR: dataDir, PRICE_FEED: 'simulated',
        TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.apiRoot,
        DISCORD_TOKEN: discord.token, DISCORD_APPLICATION_ID: discord.applicationId, DISCORD_API_URL: discord.api, DISCORD_GUILD_ID: guild.id,
        SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: slack.signingSecret, SLACK_API_URL: slack.apiUrl, HOST: '127.0.0.1', PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = watchLog(child);
    const started = await log.until('chat adapters running', START_TIMEOUT_MS);
    const platforms = (started.platforms as string[] | undefined) ?? [];
    if (!['telegram', 'discord', 'slack'].every((p) => platforms.includes(p))) throw new Error(`${label}: the bot runs ${platforms.join(', ')}, not all three`);
    // Each adapter said it is up before that line: Discord's commands registered, Telegram polling,
    // Slack's auth.test done and its receiver listening (at the address the stand-in needs).
    for (const msg of ['discord slash commands registered', 'telegram bot receiving updates by long polling']) log.find(msg, true);
    const slackUp = log.find('slack bot listening', true)!;
    const slackUrl = String(slackUp.url);
    slack.requestUrl = slackUrl.endsWith('/slack/events') ? slackUrl : `${slackUrl}/slack/events`;

    const t0 = performance.now();
    const answers = await withTimeout(Promise.all([
      burst('tg', (i) => telegramPerson(telegram, i)),
      burst('dc', (i) => discordPerson(discord, guild, i)),
      burst('sl', (i) => slackPerson(slack, i)),
    ]), BURST_TIMEOUT_MS, `${label}: the burst`);
    const seconds = Math.round(performance.now() - t0) / 1000;
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const mb = (field: string) => Math.round((Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024) * 10) / 10;
    const errors = log.errors();
    if (errors.length) console.log(`${label}: the bot logged ${errors.length} errors, first: ${errors[0]}`);
    const run: Run = { rssMb: mb('VmRSS'), peakMb: mb('VmHWM'), answers: { telegram: answers[0], discord: answers[1], slack: answers[2] }, seconds };
    console.log(`${label}: rss ${run.rssMb} MB (peak ${run.peakMb} MB) after ${USERS * COMMANDS_PER_USER} commands per platform in ${seconds} s; answers ${JSON.stringify(run.answers)}`);
    return run;
  } finally {
    if (child) await stop(child);
    await Promise.allSettled([telegram.close(), discord.close(), slack.close()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** USERS people, CONCURRENCY at a time; each person runs their commands one after the other. Answers counted. */
async function burst(prefix: string, person: (i: number) => (step: ReturnType<typeof script>[number]) => Promise<boolean>): Promise<number> {
  let next = 0;
  let answered = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < USERS) {
      const i = next++;
      const run = person(i);
      for (const step of script(`${prefix}_u${String(i).padStart(4, '0')}`)) if (await run(step).catch(() => false)) answered++;
    }
  }));
  return answered;
}

function telegramPerson(standin: TelegramStandin, i: number) {
  const user: StandinUser = standin.user(700_000 + i, `Tg ${i}`);
  return async (step: { line: string }) => {
    const before = standin.botMessages(user.id).length;
    await standin.send(user, step.line);
    return Boolean(await standin.waitFor(() => standin.botMessages(user.id).length > before, ANSWER_TIMEOUT_MS).catch(() => false));
  };
}

function discordPerson(standin: DiscordStandin, guild: StandinGuild, i: number) {
  const user: DiscordUser = standin.user({ username: `dc${i}` });
  standin.join(guild, user);
  return async (step: { command: string; options: Record<string, string> }) => {
    const interaction = await standin.slash(user, guild, step.command, step.options);
    return Boolean(await standin.waitFor(() => {
      const original = standin.original(interaction);
      return original && !original.loading && (original.embeds.length || original.content);
    }, ANSWER_TIMEOUT_MS).catch(() => false));
  };
}

function slackPerson(standin: SlackStandin, i: number) {
  const id = `U0BENCH${String(i).padStart(4, '0')}`;
  standin.user(id, `sl${i}`);
  const channel = standin.dmChannel(id);
  return async (step: { line: string }) => {
    const { invocation } = await standin.slashCommand(id, channel, '/pulse', step.line.slice(1));
    return Boolean(await standin.waitFor(() => standin.messages(invocation.channel, invocation.user).find((m) => m.invocation === invocation.id), ANSWER_TIMEOUT_MS).catch(() => false));
  };
}

/** The child's JSON log lines (pino), for waiting on start-up messages and counting errors. */
function watchLog(child: ChildProcess) {
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  let exited: number | null | undefined;
  // pino writes to stderr here; either stream is read, and what is not a JSON line is kept for errors.
  const read = (stream: NodeJS.ReadableStream) => {
    let rest = '';
    stream.on('data', (chunk: Buffer) => {
      rest += chunk.toString('utf8');
      const parts = rest.split('\n');
      rest = parts.pop()!;
      for (const part of parts) {
        try {
          lines.push(JSON.parse(part));
        } catch {
          stderr += `${part}\n`;
        }
      }
      waiters.splice(0).forEach((w) => w());
    });
  };
  read(child.stdout!);
  read(child.stderr!);
  child.on('exit', (code) => {
    exited = code;
    waiters.splice(0).forEach((w) => w());
  });
  const find = (msg: string, required = false) => {
    const line = lines.find((l) => l.msg === msg);
    if (!line && required) throw new Error(`the bot did not log "${msg}"`);
    return line;
  };
  return {
    find,
    errors: () => lines.filter((l) => Number(l.level) >= 50).map((l) => String(l.msg)),
    async until(msg: string, timeoutMs: number): Promise<Record<string, unknown>> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = find(msg);
        if (line) return line;
        if (exited !== undefined) throw new Error(`the bot exited (${exited}) before "${msg}": ${stderr.trim().slice(0, 2000)}`);
        if (Date.now() > deadline) throw new Error(`the bot did not log "${msg}" within ${timeoutMs} ms: ${stderr.trim().slice(0, 2000)}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, 250);
          waiters.push(() => (clearTimeout(t), r()));
        });
      }
    },
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
