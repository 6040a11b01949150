/**
 * The App Home tab end to end: the real Bolt app against the loopback Slack stand-in. Opening the
 * Home tab (app_home_opened) publishes a view (views.publish) built from the core's own answers
 * (/start, /portfolio, /alerts), so the figures are the ones /pulse portfolio shows.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSlackBot, type SlackBot } from '../adapters/slack/bot';
import { fitHomeBlocks, HOME_VIEW_MAX_BLOCKS } from '../adapters/slack/home';
import type { Logger } from '../core/ports';
import { makeTestBot, type TestBot } from './support/harness';
import { SLACK_LIMITS, startSlackStandin, textOf, validateBlocks, type HomeView, type SlackStandin } from './support/slack-standin';

type Line = { level: string; msg?: string; obj: Record<string, unknown> };
function recordingLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const log = (level: string) => (obj: object, msg?: string) => void lines.push({ level, msg, obj: obj as Record<string, unknown> });
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

let core: TestBot;
let standin: SlackStandin;
let logger: ReturnType<typeof recordingLogger>;
let slack: SlackBot;
const ANN = 'U0ANN';
const BOB = 'U0BOB';
const GENERAL = 'C0GENERAL';

beforeEach(async () => {
  core = await makeTestBot();
  logger = recordingLogger();
  standin = await startSlackStandin();
  standin.user(ANN, 'ann');
  standin.user(BOB, 'bob');
  standin.channel(GENERAL, 'general');
  slack = createSlackBot({
    botToken: standin.botToken, signingSecret: standin.signingSecret, apiUrl: standin.apiUrl,
    port: 0, host: '127.0.0.1', core: core.core, logger,
  });
  await slack.start();
  standin.requestUrl = `${slack.url()}/slack/events`;
});

afterEach(async () => {
  await slack.stop();
  await standin.close();
  await core.close();
});

async function pulse(user: string, text: string): Promise<string> {
  const result = await standin.slashCommand(user, GENERAL, '/pulse', text);
  expect(result.status).toBe(200);
  const post = await standin.waitFor(() => standin.responsesOf(result.invocation)[0]);
  return textOf(post.body);
}

/** Opens the user's Home tab and waits for the view the bot publishes for it. */
async function openHome(user: string): Promise<{ home: HomeView; text: string }> {
  const before = standin.homeOf(user)?.hash;
  const result = await standin.openHome(user);
  expect(result.status).toBe(200);
  const home = await standin.waitFor(() => {
    const h = standin.homeOf(user);
    return h && h.hash !== before ? h : undefined;
  });
  expect(validateBlocks(home.view.blocks, SLACK_LIMITS.viewBlocks)).toEqual([]);
  expect(home.view.blocks.length).toBeLessThanOrEqual(HOME_VIEW_MAX_BLOCKS);
  expect(home.view.type).toBe('home');
  return { home, text: textOf({ blocks: home.view.blocks }) };
}

describe('Slack App Home', () => {
  it("shows a linked user's portfolio (cash, holdings, total, P&L) and active alerts", async () => {
    expect(await pulse(ANN, 'signup ann ann@example.com')).toContain('Welcome, ann!');
    expect(await pulse(ANN, 'buy btc $500')).toMatch(/Bought/);
    expect(await pulse(ANN, 'alert btc above 200000')).toMatch(/Alert \w+ set/);
    const [alert] = await core.store.listAlerts('ann');

    const { text } = await openHome(ANN);
    expect(text).toContain('Welcome back, ann.');
    expect(text).toContain('Portfolio of ann');
    expect(text).toMatch(/Cash\*?\s+\$9,500\.00/);
    expect(text).toMatch(/Holdings\*?\s+\$500\.00/);
    expect(text).toMatch(/Total value\*?\s+\$10,000\.00/);
    expect(text).toMatch(/Unrealized P&(amp;)?L\*?\s+\$0\.00/);
    expect(text).toContain('BTC');
    expect(text).toContain('Your alerts (1 live, at most');
    expect(text).toContain(alert!.alertId);
    expect(text).toMatch(/above/);
    // Commands are named the Slack way, and the Home tab has no buttons (no response_url there).
    expect(text).toContain('/pulse alert remove');
    expect(text).not.toMatch(/(^|\s)\/alert remove/);
    expect(standin.homeOf(ANN)!.view.blocks.some((b: { type: string }) => b.type === 'actions')).toBe(false);
    // The view is published for Ann alone.
    expect(standin.homeOf(BOB)).toBeUndefined();
  });

  it('shows a user with no linked account a welcome saying how to /pulse signup', async () => {
    const { text } = await openHome(BOB);
    expect(text).toContain('Welcome to CryptoPulse');
    expect(text).toContain('/pulse signup');
    expect(text).not.toContain('Portfolio');
    expect(text).not.toContain('Your alerts');
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('is refreshed each time it is opened: new prices, trades and alerts show', async () => {
    await pulse(ANN, 'signup ann ann@example.com');
    await pulse(ANN, 'buy btc $500');
    const first = await openHome(ANN);
    expect(first.text).toMatch(/Holdings\*?\s+\$500\.00/);
    expect(first.text).toContain('Your alerts (0 live, at most');

    core.feed.set('bitcoin', '174000'); // doubles
    await pulse(ANN, 'alert eth below 100');
    const second = await openHome(ANN);
    expect(second.home.id).toBe(first.home.id);
    expect(second.text).toMatch(/Holdings\*?\s+\$1,000\.00/);
    expect(second.text).toMatch(/Total value\*?\s+\$10,500\.00/);
    expect(second.text).toMatch(/Unrealized P&(amp;)?L\*?\s+\$500\.00/);
    expect(second.text).toContain('Your alerts (1 live, at most');
    // Each open sent back the hash of the view the user saw.
    const publishes = standin.callsTo('views.publish');
    expect(publishes).toHaveLength(2);
    expect(publishes[1]!.params.hash).toBe(first.home.hash);
  });

  it('ignores the Messages tab, and never throws when publishing fails (logged)', async () => {
    await standin.event('app_home_opened', { user: ANN, channel: standin.dmChannel(ANN), tab: 'messages' });
    // A user Slack does not know: views.publish answers user_not_found.
    const result = await standin.event('app_home_opened', { user: 'U0GHOST', tab: 'home' });
    expect(result.status).toBe(200);
    const line = await vi.waitFor(() => {
      const found = logger.lines.find((l) => l.msg === 'slack home view could not be published');
      if (!found) throw new Error('not logged yet');
      return found;
    });
    expect(line.obj.slackError).toBe('user_not_found');
    expect(standin.callsTo('views.publish')).toHaveLength(1);
    expect(standin.homeOf(ANN)).toBeUndefined();
    // The bot still answers.
    expect(await pulse(ANN, 'price btc')).toMatch(/BTC/);
  });

  it('keeps a view within Slack\'s 100 blocks', () => {
    const many = Array.from({ length: 150 }, () => ({ type: 'divider' as const }));
    const fitted = fitHomeBlocks(many);
    expect(fitted).toHaveLength(HOME_VIEW_MAX_BLOCKS);
    expect(fitted.at(-1)!.type).toBe('context');
  });
});
