/**
 * The outbound sender. Most tests drive it with a scripted transport and fake timers, so minutes
 * of Telegram time pass in milliseconds and every schedule is exact; the last one sends over real
 * HTTP through telegraf to the stand-in enforcing (scaled-down) limits, and expects no 429 at all.
 * How fast it goes in real time is the `telegram` benchmark's business, not a test's.
 */
import { Telegram, TelegramError } from 'telegraf';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TelegramSender, classifyTelegramError, type OutboundPayload, type SenderOptions } from '../adapters/telegram/sender';
import type { Logger } from '../core/ports';
import { startTelegramStandin } from './support/telegram-standin';

const text = (t: string): OutboundPayload => ({ method: 'sendMessage', params: { text: t } });
const tgError = (error_code: number, description: string, parameters?: Record<string, number>) =>
  new TelegramError({ ok: false, error_code, description, ...(parameters ? { parameters } : {}) } as never);

interface Call {
  method: string;
  params: Record<string, unknown>;
  at: number;
  doneAt?: number;
}

function recordingLogger(): Logger & { lines: Array<{ level: string; msg?: string; obj: object }> } {
  const lines: Array<{ level: string; msg?: string; obj: object }> = [];
  return {
    lines,
    info: (obj, msg) => void lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => void lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => void lines.push({ level: 'error', obj, msg }),
  };
}

/** A transport that answers after `latency` ms (fake time) from a script. */
function transport(script: (call: Call, n: number) => unknown = () => ({ message_id: 1 }), latency = 10) {
  const calls: Call[] = [];
  const call = (method: string, params: Record<string, unknown>) => {
    const record: Call = { method, params, at: Date.now() };
    calls.push(record);
    const n = calls.length;
    return new Promise((resolve, reject) => {
      setTimeout(() => {
        record.doneAt = Date.now();
        try {
          resolve(script(record, n));
        } catch (error) {
          reject(error);
        }
      }, latency);
    });
  };
  return { calls, call };
}

/** Most starts seen inside any window of `windowMs` (what a server counting arrivals sees). */
function peak(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

let logger: ReturnType<typeof recordingLogger>;
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

function sender(call: SenderOptions['call'], extra: Partial<SenderOptions> = {}) {
  return new TelegramSender({ call, logger, ...extra });
}

describe('TelegramSender with fake time', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    logger = recordingLogger();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends at most 30 per second overall, close to the floor', async () => {
    const t = transport();
    const s = sender(t.call);
    const done = s.broadcast(Array.from({ length: 95 }, (_, i) => 1000 + i), text('hello'));
    await vi.advanceTimersByTimeAsync(10_000);
    const report = await done;
    expect(report).toMatchObject({ sent: 95, dead: 0, failed: 0 });
    expect(peak(t.calls.map((c) => c.at), 1000)).toBe(30);
    // 95 messages: batches at about 0, 1, 2 and 3 s (each waits one 10 ms round trip more).
    const last = Math.max(...t.calls.map((c) => c.at)) - T0;
    expect(last).toBeGreaterThanOrEqual(3000);
    expect(last).toBeLessThan(3100);
  });

  it('broadcasts under scaled-down limits within 1.1 times the floor, never over a limit', async () => {
    // The scenario of the stand-in test below, in fake time: 8 private chats and a group, 4 rounds.
    const limits = { global: { limit: 10, windowMs: 200 }, perChat: { limit: 1, windowMs: 100 }, perGroup: { limit: 3, windowMs: 400 } };
    const t = transport(); // every request answers after 10 ms
    const s = sender(t.call, { limits });
    const group = -100900;
    const targets = [...Array.from({ length: 8 }, (_, i) => 5000 + i), group];
    const rounds = 4;
    const done = Promise.all(Array.from({ length: rounds }, (_, round) => s.broadcast(targets, text(`round ${round}`))));
    await vi.advanceTimersByTimeAsync(10_000);
    expect((await done).every((r) => r.sent === targets.length)).toBe(true);
    expect(t.calls).toHaveLength(targets.length * rounds);

    // What a server counting arrivals sees: never more than a limit allows in any window.
    const startsTo = (chat: number) => t.calls.filter((c) => c.params.chat_id === chat).map((c) => c.at);
    expect(peak(t.calls.map((c) => c.at), limits.global.windowMs)).toBe(limits.global.limit);
    for (const chat of targets) expect(peak(startsTo(chat), limits.perChat.windowMs)).toBe(1);
    expect(peak(startsTo(group), limits.perGroup.windowMs)).toBeLessThanOrEqual(limits.perGroup.limit);

    // The floor, from the limits alone: the last of N messages cannot start before
    // (ceil(N / limit) - 1) windows after the first, for the global, per-chat and group limits.
    const floorOf = (n: number, w: { limit: number; windowMs: number }) => (Math.ceil(n / w.limit) - 1) * w.windowMs;
    const floor = Math.max(floorOf(targets.length * rounds, limits.global), floorOf(rounds, limits.perChat), floorOf(rounds, limits.perGroup));
    expect(floor).toBe(600);
    const starts = t.calls.map((c) => c.at);
    const span = Math.max(...starts) - Math.min(...starts);
    expect(span).toBeGreaterThanOrEqual(floor);
    expect(span).toBeLessThanOrEqual(1.1 * floor);
    // Per round, in order, for each chat.
    for (const chat of targets) expect(t.calls.filter((c) => c.params.chat_id === chat).map((c) => c.params.text)).toEqual(['round 0', 'round 1', 'round 2', 'round 3']);
  });

  it('sends one message per second to a chat, in order, while other chats go on', async () => {
    const t = transport();
    const s = sender(t.call);
    const outcomes = Promise.all([1, 2, 3, 4].map((n) => s.send(42, text(`m${n}`))));
    const other = s.send(43, text('other'));
    await vi.advanceTimersByTimeAsync(5000);
    expect((await outcomes).map((o) => o.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
    expect((await other).status).toBe('sent');
    const mine = t.calls.filter((c) => c.params.chat_id === 42);
    expect(mine.map((c) => c.params.text)).toEqual(['m1', 'm2', 'm3', 'm4']);
    for (let i = 1; i < mine.length; i++) expect(mine[i]!.at - mine[i - 1]!.doneAt!).toBeGreaterThanOrEqual(1000);
    expect(t.calls.find((c) => c.params.chat_id === 43)!.at).toBe(T0);
  });

  it('sends at most 20 per minute to a group', async () => {
    const t = transport();
    const s = sender(t.call);
    const all = Promise.all(Array.from({ length: 22 }, (_, i) => s.send(-100123, text(`g${i}`))));
    await vi.advanceTimersByTimeAsync(120_000);
    await all;
    const starts = t.calls.map((c) => c.at);
    expect(peak(starts, 60_000)).toBe(20);
    expect(t.calls[20]!.at - t.calls[0]!.doneAt!).toBeGreaterThanOrEqual(60_000);
  });

  it('waits retry_after on a 429 for that chat only, then delivers once', async () => {
    const t = transport((_call, n) => {
      if (n === 1) throw tgError(429, 'Too Many Requests: retry after 3', { retry_after: 3 });
      return { message_id: n };
    });
    const s = sender(t.call);
    const a = s.send(1, text('to A'));
    const b = s.send(2, text('to B'));
    await vi.advanceTimersByTimeAsync(5000);
    expect(await a).toMatchObject({ status: 'sent', attempts: 2 });
    expect(await b).toMatchObject({ status: 'sent', attempts: 1 });
    const toA = t.calls.filter((c) => c.params.chat_id === 1);
    expect(toA).toHaveLength(2);
    expect(toA[1]!.at - toA[0]!.doneAt!).toBeGreaterThanOrEqual(3000);
    expect(t.calls.find((c) => c.params.chat_id === 2)!.at).toBeLessThan(T0 + 100);
    expect(s.stats.rateLimited).toBe(1);
  });

  it('pauses everything when several chats get 429s at once (a flood), and loses nothing', async () => {
    const floodUntil = T0 + 50;
    const t = transport(() => {
      if (Date.now() < floodUntil) throw tgError(429, 'Too Many Requests: retry after 2', { retry_after: 2 });
      return { message_id: 1 };
    });
    const s = sender(t.call);
    const report = s.broadcast(Array.from({ length: 10 }, (_, i) => i + 1), text('news'));
    await vi.advanceTimersByTimeAsync(10_000);
    expect((await report).sent).toBe(10);
    // Each message was refused once during the flood and delivered once after it...
    expect(t.calls).toHaveLength(20);
    for (let chat = 1; chat <= 10; chat++) expect(t.calls.filter((c) => c.params.chat_id === chat)).toHaveLength(2);
    // ...and once the flood was recognised, nothing at all was tried for retry_after.
    const tries = t.calls.map((c) => c.at - T0);
    expect(tries.filter((at) => at >= 50 && at < 2000)).toEqual([]);
    expect(logger.lines.some((l) => l.msg?.includes('pausing all sends'))).toBe(true);
  });

  it('marks a chat dead on 403, drops its queue, and sends there again once revived', async () => {
    let blocked = true;
    const t = transport((call) => {
      if (blocked && call.params.chat_id === 7) throw tgError(403, 'Forbidden: bot was blocked by the user');
      return { message_id: 5 };
    });
    const s = sender(t.call);
    const queued = Promise.all([s.send(7, text('a')), s.send(7, text('b')), s.send(7, text('c'))]);
    await vi.advanceTimersByTimeAsync(100);
    expect((await queued).map((o) => o.status)).toEqual(['dead', 'dead', 'dead']);
    expect(t.calls).toHaveLength(1);
    expect(await s.send(7, text('later'))).toMatchObject({ status: 'dead', reason: 'Forbidden: bot was blocked by the user' });
    expect(t.calls).toHaveLength(1);
    expect(logger.lines.filter((l) => l.msg?.includes('unreachable'))).toHaveLength(1);

    blocked = false;
    s.revive(7);
    const again = s.send(7, text('welcome back'));
    await vi.advanceTimersByTimeAsync(1500);
    expect(await again).toMatchObject({ status: 'sent', messageId: 5 });
  });

  it('treats "chat not found" and kicked as dead, "not modified" as done, other 400s as failed without retry', async () => {
    const t = transport((call) => {
      const chat = call.params.chat_id;
      if (chat === -1) throw tgError(400, 'Bad Request: chat not found');
      if (chat === -2) throw tgError(403, 'Forbidden: bot was kicked from the supergroup chat');
      if (chat === 3) throw tgError(400, 'Bad Request: message is not modified: specified new message content and reply markup are exactly the same');
      if (chat === 4) throw tgError(400, "Bad Request: can't parse entities: Unsupported start tag");
      return { message_id: 1 };
    });
    const s = sender(t.call);
    const outcomes = Promise.all([-1, -2, 3, 4].map((chat) => s.send(chat, text('x'))));
    await vi.advanceTimersByTimeAsync(1000);
    expect((await outcomes).map((o) => o.status)).toEqual(['dead', 'dead', 'unchanged', 'failed']);
    expect(t.calls).toHaveLength(4);
  });

  it('retries 5xx and network errors with backoff, and gives up cleanly', async () => {
    let failures = 2;
    const t = transport((call) => {
      if (call.params.chat_id === 1 && failures-- > 0) throw tgError(502, 'Bad Gateway');
      if (call.params.chat_id === 2) throw Object.assign(new Error('socket hang up'), { name: 'FetchError' });
      return { message_id: 9 };
    });
    const s = sender(t.call);
    const flaky = s.send(1, text('x'));
    const down = s.send(2, text('y'));
    await vi.advanceTimersByTimeAsync(20_000);
    expect(await flaky).toMatchObject({ status: 'sent', attempts: 3 });
    expect(await down).toMatchObject({ status: 'failed', reason: 'FetchError: socket hang up' });
    const toDown = t.calls.filter((c) => c.params.chat_id === 2);
    expect(toDown).toHaveLength(4);
    expect(toDown[3]!.at - toDown[2]!.doneAt!).toBeGreaterThanOrEqual(2000); // 500, 1000, 2000
  });

  it('follows a group that became a supergroup', async () => {
    const t = transport((call) => {
      if (call.params.chat_id === -5) throw tgError(400, 'Bad Request: group chat was upgraded to a supergroup chat', { migrate_to_chat_id: -1005 });
      return { message_id: 1 };
    });
    const s = sender(t.call);
    const first = s.send(-5, text('one'));
    await vi.advanceTimersByTimeAsync(2000);
    expect(await first).toMatchObject({ status: 'sent', chatId: -1005 });
    const second = s.send(-5, text('two'));
    await vi.advanceTimersByTimeAsync(2000);
    expect(await second).toMatchObject({ status: 'sent', chatId: -1005 });
    expect(t.calls.map((c) => c.params.chat_id)).toEqual([-5, -1005, -1005]);
  });

  it('posts into a forum topic and reports a broadcast', async () => {
    const t = transport((call) => {
      if (call.params.chat_id === 9) throw tgError(403, 'Forbidden: user is deactivated');
      return { message_id: 1 };
    });
    const s = sender(t.call);
    const report = s.broadcast([{ chatId: -100777, threadId: 12 }, { chatId: 8 }, { chatId: 9 }], text('hi'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(await report).toMatchObject({ sent: 2, dead: 1, failed: 0 });
    expect(t.calls.find((c) => c.params.chat_id === -100777)!.params.message_thread_id).toBe(12);
    expect(t.calls.find((c) => c.params.chat_id === 8)!.params).not.toHaveProperty('message_thread_id');
  });

  it('waits for its queue to drain, and a closed sender refuses politely', async () => {
    const t = transport();
    const s = sender(t.call);
    void s.send(1, text('a'));
    void s.send(1, text('b'));
    const idle = s.idle();
    await vi.advanceTimersByTimeAsync(1500);
    expect(await idle).toBe(true);
    s.close();
    expect(await s.send(1, text('c'))).toMatchObject({ status: 'failed', reason: 'sender closed' });
  });

  it('reads telegraf errors', () => {
    expect(classifyTelegramError(tgError(429, 'Too Many Requests', { retry_after: 7 }))).toEqual({ kind: 'rate', retryAfterMs: 7000 });
    expect(classifyTelegramError(tgError(403, "Forbidden: bot can't initiate conversation with a user"))).toMatchObject({ kind: 'dead' });
    expect(classifyTelegramError(new Error('boom'))).toMatchObject({ kind: 'transient' });
  });
});

describe('TelegramSender against the stand-in', () => {
  it('keeps under the limits the server enforces: no 429 at all, every message delivered in order', async () => {
    const limits = { global: { limit: 10, windowMs: 200 }, perChat: { limit: 1, windowMs: 100 }, perGroup: { limit: 3, windowMs: 400 } };
    const standin = await startTelegramStandin({ limits });
    try {
      const users = Array.from({ length: 8 }, (_, i) => standin.user(5000 + i, `U${i}`));
      for (const u of users) await standin.send(u, '/start'); // private chats exist and are started
      standin.group({ id: -100900, title: 'Traders' });
      const telegram = new Telegram(standin.token, { apiRoot: standin.apiRoot });
      const s = new TelegramSender({ call: (m, p) => telegram.callApi(m as never, p as never), logger: recordingLogger(), limits });
      const targets = [...users.map((u) => u.id), -100900];
      const results = await Promise.all(Array.from({ length: 4 }, (_, round) => s.broadcast(targets, text(`round ${round}`))));
      expect(results.every((r) => r.sent === targets.length)).toBe(true);
      expect(standin.counts.enforced429).toBe(0);
      expect(s.stats).toMatchObject({ sent: 36, rateLimited: 0, retried: 0 });
      // How close to the floor it gets is proved in fake time above and measured by the benchmark.
      expect(standin.botMessages(5000).map((m) => m.text)).toEqual(['round 0', 'round 1', 'round 2', 'round 3']);
    } finally {
      await standin.close();
    }
  });
});
