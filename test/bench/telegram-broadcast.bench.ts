/**
 * A broadcast of one message to 2,000 Telegram chats (private chats, groups, one forum topic)
 * through the real telegraf client and the bot's sender, to the loopback Bot API stand-in
 * enforcing Telegram's limits (30 messages/s overall, 1/s per chat, 20/min per group) with 429s.
 * A few 429s are injected on purpose (Telegram's flood control can strike anyway); the sender must
 * retry those and cause none of its own.
 *
 * The floor: the stand-in admits at most 30 arrivals in any one-second window, so N messages need
 * at least (ceil(N / 30) - 1) seconds from the first to the last. ratio_to_floor is the measured
 * time over that floor (target: at most 1.10); unplanned_429 counts the stand-in's own 429s
 * (target: 0).
 */
import { performance } from 'node:perf_hooks';
import { createTelegramBot } from '../../adapters/telegram/bot';
import type { Logger } from '../../core/ports';
import { makeTestBot } from '../support/harness';
import { REAL_LIMITS, startTelegramStandin } from '../support/telegram-standin';

const CHATS = 2000;
const GROUPS = 200;
const INJECTED_429 = 5;

export async function telegramBroadcast(): Promise<Record<string, number>> {
  const standin = await startTelegramStandin({ limits: REAL_LIMITS });
  const core = await makeTestBot();
  const logger: Logger = { info() {}, warn() {}, error() {} };
  const tg = createTelegramBot({ token: standin.token, apiRoot: standin.apiRoot, core: core.core, logger });
  try {
    const targets: Array<{ chatId: number; threadId?: number }> = [];
    for (let i = 0; i < CHATS - GROUPS; i++) {
      const id = 10_000 + i;
      standin.user(id, `Trader ${i}`);
      standin.chat(id).started = true;
      targets.push({ chatId: id });
    }
    for (let i = 0; i < GROUPS; i++) {
      const id = -1_000_000_000_000 - i;
      const forum = i === 0;
      standin.group({ id, title: `Club ${i}`, forum });
      if (forum) standin.chat(id).topics.add(42);
      targets.push({ chatId: id, threadId: forum ? 42 : undefined });
    }
    // Spread the injected 429s over the run.
    for (let k = 0; k < INJECTED_429; k++) {
      standin.inject({ chatId: targets[Math.floor(((k + 0.5) * CHATS) / INJECTED_429)]!.chatId, errorCode: 429, retryAfter: 2 });
    }
    const message = {
      tone: 'info' as const,
      title: 'Scheduled maintenance',
      text: 'CryptoPulse pauses trading on Sunday 02:00-02:15 UTC. Alerts keep running. <Nothing to do> & nothing is lost.',
    };

    const started = performance.now();
    const report = await tg.broadcast(targets, message);
    const seconds = (performance.now() - started) / 1000;

    const floorSeconds = Math.ceil(CHATS / REAL_LIMITS.global.limit) - 1;
    const accepted = standin.calls.filter((c) => c.ok && c.method === 'sendMessage').length;
    const round = (n: number, places = 3) => Math.round(n * 10 ** places) / 10 ** places;
    return {
      'telegram.broadcast.chats': CHATS,
      'telegram.broadcast.sent': report.sent,
      'telegram.broadcast.failed': report.failed + report.dead,
      'telegram.broadcast.delivered': accepted,
      'telegram.broadcast.seconds': round(seconds),
      'telegram.broadcast.floor_seconds': floorSeconds,
      'telegram.broadcast.ratio_to_floor': round(seconds / floorSeconds),
      'telegram.broadcast.messages_per_s': round(CHATS / seconds, 2),
      'telegram.broadcast.injected_429': standin.counts.injected429,
      'telegram.broadcast.unplanned_429': standin.counts.enforced429,
    };
  } finally {
    await tg.stop();
    await standin.close();
    await core.close();
  }
}
