/** Notification settings (/settings alerts, timezone, digest) and times shown in the user's zone. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatRef } from '../core/context';
import { formatTime } from '../core/format';
import { renderPlainText } from '../core/messages';
import { makeTestBot, type TestBot } from './support/harness';

let bot: TestBot;
beforeEach(async () => {
  bot = await makeTestBot();
  await bot.signup('ann');
});
afterEach(() => bot.close());

let sequence = 0;
/** A command from ann's Telegram identity in the given chat (a group, a forum topic). */
async function inChat(chat: ChatRef, text: string): Promise<string> {
  const { message } = await bot.core.dispatcher.dispatch({ identity: { platform: 'telegram', userId: '42' }, chat, text, messageId: `s${++sequence}` });
  return renderPlainText(message);
}

describe('formatTime in a time zone', () => {
  it('keeps UTC as it was, with or without a zone named', () => {
    const t = Date.UTC(2026, 10, 25, 12, 0);
    expect(formatTime(t)).toBe('2026-11-25 12:00 UTC');
    expect(formatTime(t, 'UTC')).toBe('2026-11-25 12:00 UTC');
  });

  it('follows Europe/Athens across the start of summer time (last Sunday of March, 03:00 local)', () => {
    // 00:30 UTC is 02:30 winter time (UTC+2); an hour later the clocks have jumped: 04:30 (UTC+3).
    expect(formatTime(Date.UTC(2026, 2, 29, 0, 30), 'Europe/Athens')).toBe('2026-03-29 02:30 UTC+2');
    expect(formatTime(Date.UTC(2026, 2, 29, 1, 30), 'Europe/Athens')).toBe('2026-03-29 04:30 UTC+3');
  });

  it('follows America/New_York across the end of summer time, where one local hour happens twice', () => {
    // 05:30 and 06:30 UTC are both 01:30 in New York on 1 November 2026: the offset tells them apart.
    expect(formatTime(Date.UTC(2026, 10, 1, 5, 30), 'America/New_York')).toBe('2026-11-01 01:30 UTC-4');
    expect(formatTime(Date.UTC(2026, 10, 1, 6, 30), 'America/New_York')).toBe('2026-11-01 01:30 UTC-5');
  });

  it('shows half-hour offsets and the date change a zone brings', () => {
    expect(formatTime(Date.UTC(2026, 10, 25, 20, 0), 'Asia/Kolkata')).toBe('2026-11-26 01:30 UTC+5:30');
  });
});

describe('/settings timezone', () => {
  it('stores the canonical IANA name, and every time the bot shows follows it', async () => {
    expect(await bot.say('ann', '/settings timezone europe/athens')).toBe('Times now show in Europe/Athens: it is 2026-11-25 14:00 UTC+2 there.');
    expect((await bot.store.getAccount('ann'))!.timezone).toBe('Europe/Athens');
    // /whoami: the account was made at the test clock's 12:00 UTC.
    expect(await bot.say('ann', '/whoami')).toMatch(/Member since:\s+2026-11-25 14:00 UTC\+2[\s\S]*Time zone:\s+Europe\/Athens/);
    expect(await bot.say('ann', '/settings')).toMatch(/Time zone:\s+Europe\/Athens/);
    expect(await bot.say('ann', '/settings timezone utc')).toMatch(/Times now show in UTC: it is 2026-11-25 12:00 UTC there\./);
    expect(await bot.say('ann', '/whoami')).toMatch(/Member since:\s+2026-11-25 12:00 UTC/);
  });

  it("shows a moderator's activity log and user list in the moderator's zone", async () => {
    await bot.say('ann', '/price btc'); // at the test clock's 12:00 UTC
    await bot.staff('mod', 'moderator');
    await bot.say('mod', '/settings timezone America/New_York');
    expect(await bot.say('mod', '/activity ann')).toMatch(/2026-11-25 07:00 UTC-5/);
    expect(await bot.say('mod', '/users')).toMatch(/ann\s.*2026-11-25 07:00 UTC-5/);
  });

  it('refuses what is not an IANA zone, naming the form it wants', async () => {
    for (const zone of ['Mars/Olympus', 'Athens', '+02:00', 'GMT+2;drop']) {
      expect(await bot.say('ann', `/settings timezone ${zone}`)).toMatch(/is not a time zone I know: use an IANA name like Europe\/Athens/);
    }
    expect(await bot.say('ann', '/settings timezone')).toMatch(/Missing zone: IANA time zone, e\.g\. Europe\/Athens/);
    expect((await bot.store.getAccount('ann'))!.timezone).toBeUndefined();
  });
});

describe('/settings alerts', () => {
  it('stores dm, off, and here as the chat the command came from (a forum topic included)', async () => {
    await bot.store.linkIdentity({ key: 'telegram:42', platform: 'telegram', username: 'ann', linkedAt: 0 });
    expect(await bot.say('ann', '/settings alerts off')).toMatch(/no longer go to any chat/);
    expect((await bot.store.getAccount('ann'))!.alertDelivery).toBe('off');

    const topic: ChatRef = { type: 'group', id: 'telegram:-100123', topic: '7' };
    expect(await inChat(topic, '/settings alerts here')).toMatch(/Fired alerts now go to this group \(everyone here will see them\)/);
    expect(await bot.store.getAccount('ann')).toMatchObject({ alertDelivery: 'here', alertChat: 'telegram:-100123/7' });
    expect(await inChat(topic, '/settings')).toMatch(/Fired alerts go to:\s+this chat/);
    expect(await bot.say('ann', '/settings')).toMatch(/Fired alerts go to:\s+one chosen chat \(telegram\)/);

    // In a private chat, "here" is that chat.
    expect(await inChat({ type: 'private', id: 'telegram:42' }, '/settings alerts here')).toMatch(/go to this chat, and to no other/);
    expect((await bot.store.getAccount('ann'))!.alertChat).toBe('telegram:42');

    expect(await bot.say('ann', '/settings alerts dm')).toMatch(/every direct chat/);
    expect((await bot.store.getAccount('ann'))!.alertDelivery).toBe('dm');
    expect(await bot.say('ann', '/settings')).toMatch(/Fired alerts go to:\s+your direct chats/);
  });

  it('refuses other places, and staff accounts (who have no alerts)', async () => {
    expect(await bot.say('ann', '/settings alerts email')).toMatch(/Choose one of: dm, here, off/);
    await bot.staff('root', 'admin');
    expect(await bot.say('root', '/settings alerts dm')).toMatch(/may not run \/settings alerts\. Price alerts belong to user accounts/);
  });
});

describe('/settings digest', () => {
  it('turns on at 08:00 by default, at a chosen hour, and off', async () => {
    expect(await bot.say('ann', '/settings')).toMatch(/Daily digest:\s+off/);
    expect(await bot.say('ann', '/settings digest on')).toMatch(/comes at 08:00 UTC time/);
    expect((await bot.store.getAccount('ann'))!.digestHour).toBe(8);
    await bot.say('ann', '/settings timezone Europe/Athens');
    expect(await bot.say('ann', '/settings digest on 18')).toMatch(/comes at 18:00 Europe\/Athens time/);
    expect((await bot.store.getAccount('ann'))!.digestHour).toBe(18);
    // "on" again without an hour keeps the one chosen.
    await bot.say('ann', '/settings digest on');
    expect((await bot.store.getAccount('ann'))!.digestHour).toBe(18);
    expect(await bot.say('ann', '/settings')).toMatch(/Daily digest:\s+on, daily at 18:00 your time/);
    expect(await bot.say('ann', '/settings digest off')).toBe('The daily digest is off.');
    expect((await bot.store.getAccount('ann'))!.digestHour ?? null).toBeNull();
  });

  it('refuses an hour outside 0-23, a fraction, and an hour with off', async () => {
    for (const hour of ['24', '7.5', '-1', 'noon']) {
      expect(await bot.say('ann', `/settings digest on ${hour}`)).toMatch(/The hour is a whole number from 0 to 23/);
    }
    expect(await bot.say('ann', '/settings digest off 8')).toMatch(/takes no hour/);
    expect(await bot.say('ann', '/settings digest maybe')).toMatch(/Choose one of: on, off/);
    expect((await bot.store.getAccount('ann'))!.digestHour ?? null).toBeNull();
  });
});
