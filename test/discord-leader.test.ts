/**
 * Several instances, Discord answered once (issue 13): only the job leader holds a gateway
 * session; every instance sends pushes over REST. The real discord.js client against the
 * loopback Discord stand-in, which, like Discord, sends each interaction to every open session
 * of the bot, so a second session would show as a second answer. Leadership is a hand-flipped
 * stand-in for src/leader.ts, so the order of changes is the test's.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDiscordBot, type DiscordBot, type DiscordBotOptions } from '../adapters/discord/bot';
import type { Logger } from '../core/ports';
import { configuredChatAdapters } from '../src/adapters';
import { loadConfig } from '../src/config';
import { followLeadership } from '../src/gateway-leadership';
import type { Leadership } from '../src/leader';
import { startDiscordStandin, type DiscordStandin, type DiscordUser, type StandinGuild, type StandinInteraction } from './support/discord-standin';
import { makeTestBot, type TestBot } from './support/harness';

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** One instance's view of the lease, flipped by the test. */
function handLeadership() {
  const listeners: Array<(leading: boolean) => void> = [];
  return {
    onChange: (listener: (leading: boolean) => void) => void listeners.push(listener),
    set: (leading: boolean) => listeners.forEach((l) => l(leading)),
  } satisfies Pick<Leadership, 'onChange'> & { set(leading: boolean): void };
}

let core: TestBot;
let standin: DiscordStandin;
let ann: DiscordUser;
let guild: StandinGuild;
const bots: DiscordBot[] = [];

function makeBot(overrides: Partial<DiscordBotOptions> = {}): DiscordBot {
  const bot = createDiscordBot({
    token: standin.token, applicationId: standin.applicationId, apiUrl: standin.api, core: core.core, logger: quiet,
    tuning: { restOffsetMs: 0, identifyThrottle: false }, gateway: false, ...overrides,
  });
  bots.push(bot);
  return bot;
}

beforeEach(async () => {
  core = await makeTestBot();
  standin = await startDiscordStandin({ now: () => core.clock.now(), heartbeatIntervalMs: 60_000 });
  ann = standin.user({ username: 'ann' });
  guild = standin.guild({ name: 'Traders', channels: ['general'], members: [ann] });
});

afterEach(async () => {
  for (const bot of bots.splice(0)) await bot.stop();
  await standin.close();
  await core.close();
});

/** Gateway sessions the stand-in has open (identified and not closed). */
const liveSessions = () => standin.connections.filter((c) => c.identified && c.closedWith === undefined);
const callbacks = (interaction: StandinInteraction) => standin.requests.filter((r) => r.path.includes(`/interactions/${interaction.id}/`) && r.route.endsWith('/callback'));

async function answered(interaction: StandinInteraction): Promise<string> {
  const message = await standin.waitFor(() => {
    const original = standin.original(interaction);
    return original && !original.loading && (original.embeds.length || original.content) ? original : undefined;
  });
  return standin.textOf(message);
}

async function signup(user: DiscordUser): Promise<void> {
  const text = await answered(await standin.slash(user, guild, 'signup', { username: user.username, email: `${user.username}@example.com` }));
  expect(text).toContain(`Welcome, ${user.username}!`);
}


/** Holds the core inside the next interaction (at its identity lookup) until release(): an
 *  interaction in flight, for tests of what happens to it when the session closes. */
function holdTheCore(): { release: () => void; reached: () => boolean } {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let reached = false;
  const findIdentity = core.store.findIdentity.bind(core.store);
  vi.spyOn(core.store, 'findIdentity').mockImplementation(async (key) => {
    reached = true;
    await held;
    return findIdentity(key);
  });
  return { release, reached: () => reached };
}

describe('Discord on several instances: only the job leader holds the gateway', () => {
  it('a send-only adapter delivers a DM and a channel message over REST without opening a gateway session', async () => {
    const bot = makeBot();
    await bot.start();
    expect(bot.connected?.()).toBe(true); // it can send: /readyz counts it as connected

    const dm = await bot.deliverToUser({ key: `discord:${ann.id}`, platform: 'discord', username: 'ann', linkedAt: 0 }, { tone: 'info', text: 'BTC is above $55,000.00' });
    expect(dm).toEqual({ status: 'sent' });
    expect(standin.dms(ann).map((m) => standin.textOf(m))).toEqual(['BTC is above $55,000.00']);
    const posted = await bot.deliverToChat(`discord:${guild.channels[0]!.id}`, { tone: 'info', text: 'Maintenance at 13:00 UTC' });
    expect(posted).toEqual({ status: 'sent' });
    expect(standin.messages(guild.channels[0]!.id).map((m) => standin.textOf(m))).toEqual(['Maintenance at 13:00 UTC']);

    expect(standin.counts.identifies).toBe(0);
    expect(standin.connections).toEqual([]);
    // The slash commands are still registered at start (over REST).
    expect(standin.commands().map((c) => c.name)).toContain('signup');
  });

  it('a send-only adapter with a wrong token fails at start, naming DISCORD_TOKEN', async () => {
    await expect(makeBot({ token: 'not-the-token' }).start()).rejects.toThrow(/DISCORD_TOKEN/);
    expect(standin.counts.identifies).toBe(0);
  });

  it('becoming leader opens one gateway session, and interactions are answered', async () => {
    const bot = makeBot();
    await bot.start();
    const leadership = handLeadership();
    const follower = followLeadership(bot, leadership, quiet);

    leadership.set(true);
    await follower.settled();
    expect(standin.counts.identifies).toBe(1);
    expect(liveSessions()).toHaveLength(1);
    expect(bot.connected?.()).toBe(true);
    await signup(ann);
    expect((await core.store.findIdentity(`discord:${ann.id}`))?.username).toBe('ann');
  });

  it('losing leadership closes the session, after the interaction in flight is answered; pushes still go out', async () => {
    const bot = makeBot();
    await bot.start();
    const leadership = handLeadership();
    const follower = followLeadership(bot, leadership, quiet);
    leadership.set(true);
    await follower.settled();
    await signup(ann);

    // The core is held inside an interaction when the lease is lost.
    const { release, reached } = holdTheCore();
    const interaction = await standin.slash(ann, guild, 'portfolio');
    await standin.waitFor(() => reached());

    // What the user had seen when the stand-in saw the session close.
    const atClose = standin.waitFor(() => (liveSessions().length === 0 ? { answer: standin.original(interaction)?.embeds.length ?? 0 } : undefined));
    const destroy = vi.spyOn(bot.client, 'destroy');
    leadership.set(false);
    await new Promise((resolve) => setImmediate(resolve)); // everything not waiting on the interaction has run
    expect(destroy).not.toHaveBeenCalled(); // the session is not closed under the interaction
    expect(liveSessions()).toHaveLength(1);
    release();
    await follower.settled();

    expect(await atClose).toEqual({ answer: 1 }); // answered first, closed after
    expect(await answered(interaction)).toMatch(/Cash/);
    expect(standin.connections[0]!.closedBy).toBe('client');
    vi.restoreAllMocks();
    expect(await bot.deliverToUser({ key: `discord:${ann.id}`, platform: 'discord', username: 'ann', linkedAt: 0 }, { tone: 'info', text: 'still here' })).toEqual({ status: 'sent' });
    expect(bot.connected?.()).toBe(true); // send-only again
  });

  it('a quick lose-and-regain is applied in order: never two sessions from one adapter', async () => {
    const bot = makeBot();
    await bot.start();
    const leadership = handLeadership();
    const follower = followLeadership(bot, leadership, quiet);
    leadership.set(true);
    leadership.set(false);
    leadership.set(true);
    await follower.settled();
    expect(liveSessions()).toHaveLength(1);
    expect(standin.connections.filter((c) => c.identified)).toHaveLength(1);
  });

  it('two instances following one lease: the session moves, never both at once, and each interaction is answered once', async () => {
    const [a, b] = [makeBot(), makeBot()];
    await Promise.all([a.start(), b.start()]);
    const [leaseA, leaseB] = [handLeadership(), handLeadership()];
    const [followA, followB] = [followLeadership(a, leaseA, quiet), followLeadership(b, leaseB, quiet)];

    leaseA.set(true);
    await followA.settled();
    expect(liveSessions()).toHaveLength(1);
    await signup(ann);

    // A's lease runs out (it stops leading first, src/leader.ts), then B takes it.
    leaseA.set(false);
    await followA.settled();
    await standin.waitFor(() => liveSessions().length === 0);
    expect(b.connected?.()).toBe(true);
    leaseB.set(true);
    await followB.settled();
    expect(liveSessions()).toHaveLength(1);
    expect(standin.counts.identifies).toBe(2);

    const interaction = await standin.slash(ann, guild, 'portfolio');
    expect(await answered(interaction)).toMatch(/Cash/);
    expect(callbacks(interaction)).toHaveLength(1);
    // And back again.
    leaseB.set(false);
    await followB.settled();
    await standin.waitFor(() => liveSessions().length === 0);
    leaseA.set(true);
    await followA.settled();
    expect(liveSessions()).toHaveLength(1);
    const again = await standin.slash(ann, guild, 'portfolio');
    expect(await answered(again)).toMatch(/Cash/);
    expect(callbacks(again)).toHaveLength(1);
  });

  it('from the configuration: on DynamoDB the Discord adapter starts send-only; on SQLite it connects', async () => {
    const discord = { DISCORD_TOKEN: standin.token, DISCORD_APPLICATION_ID: standin.applicationId, DISCORD_API_URL: standin.api, DISCORD_REGISTER_AT_START: 'false' };
    const [several] = configuredChatAdapters(loadConfig({ ...discord, STORE: 'dynamodb' }), core.core, quiet) as DiscordBot[];
    bots.push(several!);
    await several!.start();
    expect(standin.counts.identifies).toBe(0);
    const [sole] = configuredChatAdapters(loadConfig({ ...discord, STORE: 'sqlite' }), core.core, quiet) as DiscordBot[];
    bots.push(sole!);
    await sole!.start();
    expect(standin.counts.identifies).toBe(1);
  });
});

describe('Discord at shutdown: stopReceiving()', () => {
  it('answers the interaction in flight, turns a new one away with "I am restarting", and still pushes over REST', async () => {
    const bot = makeBot({ gateway: true });
    await bot.start();
    await signup(ann);

    // The core is held inside an interaction when the shutdown begins.
    const { release, reached } = holdTheCore();
    const inFlight = await standin.slash(ann, guild, 'portfolio');
    await standin.waitFor(() => reached());

    let stoppedReceiving = false;
    const stopping = bot.stopReceiving!().then(() => (stoppedReceiving = true));
    const late = await standin.slash(ann, guild, 'portfolio');
    expect(await answered(late)).toMatch(/I am restarting/);
    expect(stoppedReceiving).toBe(false); // it waits for the interaction in flight
    release();
    await stopping;
    expect(await answered(inFlight)).toMatch(/Cash/);
    vi.restoreAllMocks();

    // The session stays until stop(); the outbox flush that comes next sends over REST.
    expect(liveSessions()).toHaveLength(1);
    const before = standin.requests.length;
    expect(await bot.deliverToUser({ key: `discord:${ann.id}`, platform: 'discord', username: 'ann', linkedAt: 0 }, { tone: 'info', text: 'BTC is above $55,000.00' })).toEqual({ status: 'sent' });
    expect(standin.dms(ann).map((m) => standin.textOf(m))).toContain('BTC is above $55,000.00');
    expect(standin.requests.slice(before).some((r) => r.route === 'POST /channels/:id/messages')).toBe(true);

    // Leadership regained during the shutdown opens no session to turn everything away from.
    await bot.disconnectGateway();
    await bot.connectGateway();
    expect(liveSessions()).toHaveLength(0);
    expect(standin.counts.identifies).toBe(1);
    await bot.stop();
    expect(liveSessions()).toHaveLength(0);
  });
});

describe('Discord on the job leader: a failed gateway connect is retried with backoff', () => {
  /** Sleeps the test ends by hand, so no retry waits for real. */
  function handSleep() {
    const sleeps: Array<{ ms: number; wake: () => void }> = [];
    return { sleeps, sleep: (ms: number) => new Promise<void>((wake) => sleeps.push({ ms, wake })) };
  }
  // discord.js asks GET /gateway/bot before it connects; the REST manager tries 3 times (2 retries).
  const refuseGateway = (logins: number) => standin.inject({ route: 'GET /gateway/bot', status: 500, count: 3 * logins });
  const gatewayAsks = () => standin.requests.filter((r) => r.route === 'GET /gateway/bot').length;

  it('the stand-in refuses the first login: the leader waits out the backoff, retries, and ends with one session', async () => {
    const bot = makeBot();
    await bot.start();
    const leadership = handLeadership();
    const { sleeps, sleep } = handSleep();
    const follower = followLeadership(bot, leadership, quiet, { sleep });
    refuseGateway(1);

    leadership.set(true);
    await vi.waitFor(() => expect(sleeps).toHaveLength(1));
    expect(sleeps[0]!.ms).toBeGreaterThanOrEqual(2500); // equal jitter: never at once
    expect(sleeps[0]!.ms).toBeLessThanOrEqual(5000);
    expect(liveSessions()).toHaveLength(0);
    expect(bot.connected?.()).toBe(false); // /readyz: the leader wants a session it does not have

    sleeps[0]!.wake();
    await follower.settled();
    expect(sleeps).toHaveLength(1);
    expect(liveSessions()).toHaveLength(1);
    expect(standin.counts.identifies).toBe(1);
    expect(bot.connected?.()).toBe(true);
    await signup(ann);
  });

  it('losing leadership during the backoff cancels the retry', async () => {
    const bot = makeBot();
    await bot.start();
    const leadership = handLeadership();
    const { sleeps, sleep } = handSleep();
    const follower = followLeadership(bot, leadership, quiet, { sleep });
    refuseGateway(10);

    leadership.set(true);
    await vi.waitFor(() => expect(sleeps).toHaveLength(1));
    const asked = gatewayAsks();
    leadership.set(false);
    await follower.settled(); // without waking the sleep: the loss cut it short
    sleeps[0]!.wake(); // the old timer firing late does nothing either
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(gatewayAsks()).toBe(asked);
    expect(sleeps).toHaveLength(1);
    expect(standin.counts.identifies).toBe(0);
    expect(bot.connected?.()).toBe(true); // send-only again
  });

  it('a stopped adapter is not retried', async () => {
    const bot = makeBot();
    await bot.start();
    const leadership = handLeadership();
    const { sleeps, sleep } = handSleep();
    const follower = followLeadership(bot, leadership, quiet, { sleep });
    refuseGateway(10);

    leadership.set(true);
    await vi.waitFor(() => expect(sleeps).toHaveLength(1));
    const asked = gatewayAsks();
    await bot.stop();
    sleeps[0]!.wake();
    await follower.settled();
    expect(gatewayAsks()).toBe(asked);
    expect(sleeps).toHaveLength(1);
    expect(standin.counts.identifies).toBe(0);
  });
});
