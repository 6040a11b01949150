/**
 * Secrets typed in the wrong place: whatever follows /login, /link or /start is never stored in
 * the activity log or shown to a moderator, wherever it sits on the line and whoever typed it; an
 * unknown word is never echoed into a group; control characters are never echoed anywhere.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActivityEntry } from '../core/domain';
import type { Store } from '../core/ports';
import { createStaffAccount } from '../core/staff-accounts';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { makeTestBot, type TestBot } from './support/harness';

const SECRET = 'Hunter2-Secret';

let bot: TestBot;
/** Every activity entry the dispatcher writes, linked caller or not. */
let recorded: ActivityEntry[];

/** The real SQLite store, with every activity write copied aside for inspection. */
function recordingStore(): Store {
  const store = SqliteStore.open({ file: ':memory:' });
  const recordActivity = store.recordActivity.bind(store);
  store.recordActivity = async (entry) => {
    recorded.push(entry);
    return recordActivity(entry);
  };
  return store;
}

beforeEach(async () => {
  recorded = [];
  bot = await makeTestBot({ store: recordingStore() });
  await createStaffAccount({ ...bot.core.services, startBalance: '10000' }, { username: 'bob', email: 'bob@example.com', role: 'user', password: 'bobs-real-password', identity: 'console:bob' });
  await bot.staff('mod', 'moderator');
});
afterEach(() => bot.close());

describe('secrets typed after /login, /link and /start', () => {
  const lines = [
    `/login ${SECRET}`,
    `/login ${SECRET} bob@example.com`,
    `/login bob@example.com ${SECRET}`,
    `/login bob@example.com ${SECRET} extra words`,
    `/LOGIN@CryptoPulseBot bob@example.com ${SECRET}`,
    `/link ${SECRET}`,
    `/link ABCD1234 ${SECRET}`,
    `/start ${SECRET}`,
  ];

  it('are never recorded or shown to a moderator, typed by a linked user', async () => {
    for (const line of lines) {
      await bot.say('bob', line);
      await bot.say('bob', line, { chat: 'group' });
    }
    expect(recorded.length).toBeGreaterThanOrEqual(lines.length * 2);
    expect(JSON.stringify(recorded)).not.toContain(SECRET);
    const shown = await bot.say('mod', '/activity bob');
    expect(shown).toContain('/login');
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain('bob@example.com');
  });

  it('are never recorded when refused in a group or typed by someone with no account', async () => {
    for (const line of lines) {
      await bot.say('stranger', line);
      await bot.say('stranger', line, { chat: 'group' });
    }
    expect(recorded.filter((e) => e.username === null).length).toBeGreaterThanOrEqual(lines.length * 2);
    expect(JSON.stringify(recorded)).not.toContain(SECRET);
  });

  it('asks for the line to be deleted from a group, whatever its position', async () => {
    expect((await bot.dispatch('bob', `/login ${SECRET}`, { chat: 'group' })).deleteInput).toBe(true);
    expect((await bot.dispatch('bob', `/link ${SECRET}`, { chat: 'group' })).deleteInput).toBe(true);
    expect((await bot.dispatch('bob', '/price btc', { chat: 'group' })).deleteInput).toBe(false);
  });

  it('are still recorded as the command itself, so moderators see that it happened', async () => {
    await bot.say('bob', `/login bob@example.com ${SECRET}`);
    const entries = await bot.store.listActivity('bob', { limit: 5 });
    expect(entries.items[0]).toMatchObject({ command: '/login', detail: '/login', outcome: 'error' });
  });
});

describe('unknown commands', () => {
  it('are not echoed into a group, and not recorded', async () => {
    const reply = await bot.say('bob', `/${SECRET}`, { chat: 'group' });
    expect(reply).toBe('That is not one of my commands. /help lists them.');
    expect(JSON.stringify(recorded)).not.toContain(SECRET.toLowerCase());
  });

  it('are echoed in a private chat with a suggestion', async () => {
    expect(await bot.say('bob', '/portfolo')).toMatch(/^I don't know \/portfolo\. Did you mean \/portfolio\?/);
  });
});

describe('control characters', () => {
  const hostile = ['\u001b[2J\u001b[31m', '\u202e', '\u200b', '\u0007'];

  it('are never echoed back, in unknown commands or in argument errors', async () => {
    const replies = [
      await bot.say('bob', `/po\u001b[31mrtfolo`),
      await bot.say('bob', `/buy btc 1\u202e0\u0007x`),
      await bot.say('bob', `/price btc eth \u001b]0;owned\u0007`),
      await bot.say('bob', `/history 1 extra\u001b[2Jwords`),
    ];
    for (const reply of replies) for (const c of hostile) expect(reply).not.toContain(c);
    // The visible text survives: the user still sees what was wrong.
    expect(replies[0]).toContain("I don't know /po[31mrtfolo");
    expect(replies[3]).toContain('extra[2Jwords');
  });

  it('are not part of a command: a command with an invisible character in it still runs', async () => {
    expect(await bot.say('bob', '/port\u200bfolio')).toContain('Cash');
  });
});
