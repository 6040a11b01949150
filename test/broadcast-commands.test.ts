/** /broadcast in groups and channels: who may manage them, and add/list/remove/pause/resume. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatRef } from '../core/context';
import { broadcastOwner } from '../core/domain';
import { renderPlainText } from '../core/messages';
import { makeTestBot, type TestBot } from './support/harness';

const COOLDOWN_MS = 30 * 60_000;
const GROUP: ChatRef = { type: 'group', id: 'telegram:-100123' };
const RULES_OF_GROUP = broadcastOwner('telegram:-100123');

let bot: TestBot;
beforeEach(async () => {
  bot = await makeTestBot({ config: { broadcastCooldownMs: COOLDOWN_MS, maxBroadcastsPerChat: 3 } });
  // Telegram users 1-4 have accounts (admin, moderator, user, analyst); 8 and 9 have none.
  for (const [id, name, role] of [['1', 'root', 'admin'], ['2', 'mod', 'moderator'], ['3', 'ann', 'user'], ['4', 'ana', 'analyst']] as const) {
    await bot.staff(name, role);
    await bot.store.linkIdentity({ key: `telegram:${id}`, platform: 'telegram', username: name, linkedAt: 0 });
  }
});
afterEach(() => bot.close());

let sequence = 0;
/** A command from Telegram user `userId` in `chat`; `chatAdmin`: the platform says they
 *  administer it. */
async function say(userId: string, text: string, options: { chat?: ChatRef; chatAdmin?: boolean } = {}): Promise<string> {
  const { message } = await bot.core.dispatcher.dispatch({
    identity: { platform: 'telegram', userId }, chat: options.chat ?? GROUP, text, messageId: `b${++sequence}`,
    isChatAdmin: async () => options.chatAdmin ?? false,
  });
  return renderPlainText(message);
}

const rules = () => bot.store.listAlerts(RULES_OF_GROUP);

describe('who may manage a group\'s broadcasts', () => {
  const REFUSED = /Only this group's administrators, or CryptoPulse moderators and admins, manage its broadcasts\./;
  const cases: Array<[string, string, boolean, boolean]> = [
    // who, Telegram user, the platform's chat-admin answer, allowed
    ['a CryptoPulse admin', '1', false, true],
    ['a CryptoPulse moderator', '2', false, true],
    ['a plain user', '3', false, false],
    ['an analyst', '4', false, false],
    ['a plain user who administers the group', '3', true, true],
    ['a guest (no account) who administers the group', '8', true, true],
    ['a guest who does not', '9', false, false],
  ];
  for (const [who, userId, chatAdmin, allowed] of cases) {
    it(`${who} ${allowed ? 'may' : 'may not'}`, async () => {
      const added = await say(userId, '/broadcast add btc above 100000', { chatAdmin });
      const listed = await say(userId, '/broadcast list', { chatAdmin });
      const paused = await say(userId, '/broadcast pause', { chatAdmin });
      if (allowed) {
        expect(added).toMatch(/^Broadcast [0-9a-f]{12} added: Bitcoin above \$100,000\.00, posted here at most once every 30m\./);
        expect(listed).toMatch(/Broadcasts in this chat \(1 of 3\)/);
        expect(paused).toMatch(/paused/);
        expect(await rules()).toHaveLength(1);
      } else {
        for (const answer of [added, listed, paused]) expect(answer).toMatch(REFUSED);
        expect(await rules()).toEqual([]);
        expect((await bot.store.getChatStates([GROUP.id])).get(GROUP.id)?.broadcastsPaused ?? false).toBe(false);
      }
    });
  }

  it('refuses every caller in a private chat, admins and chat admins included', async () => {
    const dm: ChatRef = { type: 'private', id: 'telegram:1' };
    for (const line of ['/broadcast add btc above 100000', '/broadcast list', '/broadcast remove 3f9a1c2b7d4e', '/broadcast pause', '/broadcast resume']) {
      expect(await say('1', line, { chat: dm, chatAdmin: true })).toMatch(/Broadcasts are for groups and channels: run \/broadcast in the group or channel that should receive them\./);
    }
    expect(await bot.store.listAlerts(broadcastOwner('telegram:1'))).toEqual([]);
  });
});

describe('broadcast rules', () => {
  it('are the group\'s alerts: repeating at the cool-down, priced in USD whatever the caller\'s currency', async () => {
    await say('1', '/settings currency eur');
    expect(await say('1', '/broadcast add eth below 2500')).toMatch(/Ethereum below \$2,500\.00, posted here at most once every 30m/);
    expect(await say('1', '/broadcast add sol move 5% 1h down')).toMatch(/Solana a 5% fall within 1h/);
    const [eth, sol] = await rules();
    expect(eth).toMatchObject({ username: RULES_OF_GROUP, coinId: 'ethereum', condition: 'below', targetPrice: '2500', repeatMs: COOLDOWN_MS, state: 'armed', version: 1, fireCount: 0 });
    expect(eth!.expiresAt).toBeUndefined();
    expect(sol).toMatchObject({ condition: 'move', movePercent: '5', moveWindowMs: 3_600_000, moveDirection: 'down', repeatMs: COOLDOWN_MS });
    // Not the caller's own alerts.
    expect(await bot.store.listAlerts('root')).toEqual([]);
  });

  it('belong to the forum topic they were added in', async () => {
    const topic: ChatRef = { ...GROUP, topic: '7' };
    await say('2', '/broadcast add btc above 100000', { chat: topic });
    expect(await bot.store.listAlerts(broadcastOwner('telegram:-100123/7'))).toHaveLength(1);
    expect(await rules()).toEqual([]);
    expect(await say('2', '/broadcast list')).toMatch(/\(0 of 3\)[\s\S]*\(nothing yet\)/);
  });

  it('refuse repeat and expiry (the cool-down is the bot\'s), bad values, and more than the limit', async () => {
    expect(await say('1', '/broadcast add btc above 100000 repeat 5m')).toMatch(/A broadcast rule takes no repeat/);
    expect(await say('1', '/broadcast add btc above 100000 for 7d')).toMatch(/A broadcast rule takes no for/);
    expect(await say('1', '/broadcast add btc move 5%')).toMatch(/A move alert needs a window[\s\S]*\/broadcast add btc move 5% 1h/);
    expect(await say('1', '/broadcast add btc move 2000% 1h')).toMatch(/at most 1000%/);
    expect(await say('1', '/broadcast add btc above 50000')).toMatch(/already at or above that/);
    expect(await say('1', '/broadcast add nocoin above 1')).toMatch(/not a tracked coin/);
    expect(await rules()).toEqual([]);
    for (const price of ['100000', '110000', '120000']) expect(await say('1', `/broadcast add btc above ${price}`)).toMatch(/^Broadcast \w+ added/);
    expect(await say('1', '/broadcast add btc above 130000')).toMatch(/This chat has 3 broadcast rules, the most allowed\. \/broadcast list shows them; \/broadcast remove <id> frees one\./);
  });

  it('list, remove, pause and resume', async () => {
    await say('1', '/broadcast add btc above 100000');
    await say('1', '/broadcast add eth move 5% 1h');
    const [btc, eth] = await rules();
    const list = await say('2', '/broadcast');
    expect(list).toMatch(/^Broadcasts in this chat \(2 of 3\)\n+Broadcasts are on\./);
    expect(list).toMatch(new RegExp(`${btc!.alertId}\\s+bitcoin\\s+above \\$100,000\\.00\\s+repeats, at most every 30m\\s+no expiry\\s+armed`));
    expect(list).toMatch(new RegExp(`${eth!.alertId}\\s+ethereum\\s+a 5% move either way within 1h`));

    expect(await say('2', `/broadcast remove ${btc!.alertId}`)).toBe(`Broadcast ${btc!.alertId} removed.`);
    expect(await say('2', `/broadcast remove ${btc!.alertId}`)).toMatch(/This chat has no broadcast/);
    // Another chat's rule cannot be removed from here.
    expect(await say('2', `/broadcast remove ${eth!.alertId}`, { chat: { type: 'group', id: 'telegram:-100999' } })).toMatch(/This chat has no broadcast/);
    expect((await rules()).map((r) => r.alertId)).toEqual([eth!.alertId]);

    expect(await say('2', '/broadcast pause')).toBe('Broadcasts in this chat are paused. /broadcast resume turns them back on.');
    expect((await bot.store.getChatStates([GROUP.id])).get(GROUP.id)?.broadcastsPaused).toBe(true);
    expect(await say('2', '/broadcast list')).toMatch(/Broadcasts are paused: \/broadcast resume turns them back on\./);

    // The bot was removed from the group and added back: resume also clears the mark.
    await bot.store.markUnreachable(GROUP.id, 'bot was kicked', bot.clock.now());
    expect(await say('2', '/broadcast list')).toMatch(/I could not post here since 2026-11-25 12:00 UTC \(bot was kicked\)/);
    expect(await say('2', '/broadcast resume')).toBe('Broadcasts in this chat are on.');
    const state = (await bot.store.getChatStates([GROUP.id])).get(GROUP.id);
    expect(state?.broadcastsPaused ?? false).toBe(false);
    expect(state?.unreachableSince).toBeUndefined();
    expect(await say('2', '/broadcast list')).toMatch(/Broadcasts are on\.(?![\s\S]*could not post)/);
  });
});
