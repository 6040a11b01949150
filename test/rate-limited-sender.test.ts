/**
 * The shared sender (adapters/shared/rate-limited-sender.ts) without Telegram: a made-up platform,
 * "pigeon", with string chat ids ('#room' ones are groups), string message ids, errors of its own
 * shape read by a classify of its own, and a hand-rolled clock and timer queue injected into the
 * sender (no vitest fake timers), so every schedule below is exact.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { RateLimitedSender, type BaseSendOptions, type ChatId, type SendFailure, type SenderLimits } from '../adapters/shared/rate-limited-sender';
import type { Logger } from '../core/ports';

/** Pigeon's payload: a note, and the roost it goes to (a send option of its own). */
interface Note {
  text: string;
}
interface PigeonOptions extends BaseSendOptions {
  roost?: string;
}

/** Pigeon's errors: an object with a status word, not an HTTP code. */
class PigeonError extends Error {
  constructor(readonly status: 'slow-down' | 'no-such-loft' | 'moved' | 'storm' | 'bad-note', readonly detail: { waitSeconds?: number; newLoft?: string } = {}) {
    super(status);
    this.name = 'PigeonError';
  }
}

function classifyPigeon(error: unknown): SendFailure {
  if (!(error instanceof PigeonError)) return { kind: 'transient', reason: String(error) };
  switch (error.status) {
    case 'slow-down': return { kind: 'rate', retryAfterMs: (error.detail.waitSeconds ?? 1) * 1000 };
    case 'no-such-loft': return { kind: 'dead', reason: 'loft is gone' };
    case 'moved': return { kind: 'migrate', to: error.detail.newLoft! };
    case 'storm': return { kind: 'transient', reason: 'storm', code: 503 };
    case 'bad-note': return { kind: 'fatal', reason: 'unreadable note', code: 400 };
  }
}

/** A clock and timer queue the test owns: `advance` runs due timers in order, letting promises settle. */
function manualClock(start = 1_000_000) {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    now: () => now,
    setTimer: (fn: () => void, ms: number) => {
      const id = ++seq;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimer: (handle: unknown) => void timers.delete(handle as number),
    async advance(ms: number) {
      const until = now + ms;
      await settle();
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
        if (!due) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].fn();
        await settle();
      }
      now = until;
      await settle();
    },
  };
}

interface Flight {
  chatId: ChatId;
  text: string;
  roost?: string;
  at: number;
  doneAt?: number;
}

let clock: ReturnType<typeof manualClock>;
let lines: Array<{ level: string; msg?: string; obj: object }>;
const logger: Logger = {
  info: (obj, msg) => void lines.push({ level: 'info', obj, msg }),
  warn: (obj, msg) => void lines.push({ level: 'warn', obj, msg }),
  error: (obj, msg) => void lines.push({ level: 'error', obj, msg }),
};

const LIMITS: SenderLimits = {
  global: { limit: 5, windowMs: 1000 },
  perChat: { limit: 1, windowMs: 500 },
  perGroup: { limit: 2, windowMs: 10_000 },
};

/** Pigeon's API: answers after 10 ms (the test's clock) from a script. */
function pigeon(script: (flight: Flight, n: number) => unknown = (_f, n) => ({ ring: `p-${n}` }), limits = LIMITS) {
  const flights: Flight[] = [];
  const call = (chatId: ChatId, note: Note, options: PigeonOptions) => {
    const flight: Flight = { chatId, text: note.text, roost: options.roost, at: clock.now() };
    flights.push(flight);
    const n = flights.length;
    return new Promise<unknown>((resolve, reject) => {
      clock.setTimer(() => {
        flight.doneAt = clock.now();
        try {
          resolve(script(flight, n));
        } catch (error) {
          reject(error);
        }
      }, 10);
    });
  };
  const sender = new RateLimitedSender<Note, PigeonOptions, string>({
    platform: 'pigeon',
    limits,
    call,
    classify: classifyPigeon,
    messageIdOf: (result) => (result as { ring?: string } | null)?.ring,
    isGroup: (chatId) => String(chatId).startsWith('#'),
    describe: (note) => ({ length: note.text.length }),
    logger,
    now: clock.now,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
  });
  return { flights, sender };
}

const note = (text: string): Note => ({ text });

describe('RateLimitedSender on a made-up platform', () => {
  beforeEach(() => {
    clock = manualClock();
    lines = [];
  });

  it('sends to one chat in order, one per per-chat window, while other chats go on', async () => {
    const { flights, sender } = pigeon();
    const T0 = clock.now();
    const mine = Promise.all(['a', 'b', 'c', 'd'].map((t) => sender.send('alice', note(t), { roost: 'north' })));
    const other = sender.send('bob', note('hi'));
    await clock.advance(5000);
    const outcomes = await mine;
    expect(outcomes.map((o) => o.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
    expect(outcomes[0]).toMatchObject({ chatId: 'alice', messageId: 'p-1', attempts: 1 });
    expect(await other).toMatchObject({ status: 'sent', chatId: 'bob' });

    const toAlice = flights.filter((f) => f.chatId === 'alice');
    expect(toAlice.map((f) => f.text)).toEqual(['a', 'b', 'c', 'd']);
    expect(toAlice.every((f) => f.roost === 'north')).toBe(true);
    // The per-chat window counts from the answer: 500 ms after the previous one finished, exactly.
    for (let i = 1; i < toAlice.length; i++) expect(toAlice[i]!.at - toAlice[i - 1]!.doneAt!).toBe(500);
    expect(flights.find((f) => f.chatId === 'bob')!.at).toBe(T0);
    expect(sender.pending).toBe(0);
    expect(sender.stats).toMatchObject({ sent: 5, rateLimited: 0, failed: 0 });
  });

  it('keeps to the global window and the per-group window of the chats it says are groups', async () => {
    const { flights, sender } = pigeon();
    const T0 = clock.now();
    const report = sender.broadcast(['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7'], note('news'));
    const group = Promise.all(['g1', 'g2', 'g3'].map((t) => sender.send('#plaza', note(t))));
    await clock.advance(30_000);
    expect(await report).toMatchObject({ sent: 7, dead: 0, failed: 0 });
    expect((await group).map((o) => o.status)).toEqual(['sent', 'sent', 'sent']);

    // 5 per second overall: the first 5 start at once, the rest 1000 ms after the answers.
    const starts = flights.map((f) => f.at - T0).sort((a, b) => a - b);
    expect(starts.filter((at) => at < 1000)).toHaveLength(5);
    // 2 per 10 s for the group: the third waits for the first answer's window to pass.
    const plaza = flights.filter((f) => f.chatId === '#plaza');
    expect(plaza.map((f) => f.text)).toEqual(['g1', 'g2', 'g3']);
    expect(plaza[2]!.at - plaza[0]!.doneAt!).toBe(10_000);
  });

  it('waits out a rate-limit answer for that chat only, then delivers once', async () => {
    const { flights, sender } = pigeon((_flight, n) => {
      if (n === 1) throw new PigeonError('slow-down', { waitSeconds: 3 });
      return { ring: `p-${n}` };
    });
    const T0 = clock.now();
    const a = sender.send('alice', note('to alice'));
    const b = sender.send('bob', note('to bob'));
    await clock.advance(10_000);
    expect(await a).toMatchObject({ status: 'sent', attempts: 2 });
    expect(await b).toMatchObject({ status: 'sent', attempts: 1 });
    const toAlice = flights.filter((f) => f.chatId === 'alice');
    expect(toAlice).toHaveLength(2);
    expect(toAlice[1]!.at - toAlice[0]!.doneAt!).toBe(3000);
    expect(flights.find((f) => f.chatId === 'bob')!.at).toBe(T0);
    expect(sender.stats).toMatchObject({ sent: 2, rateLimited: 1, retried: 1 });
    const retry = lines.find((l) => l.msg === 'pigeon rate limited: retrying after its retry-after');
    expect(retry?.obj).toMatchObject({ chatId: 'alice', length: 8, attempt: 1, retryAfterMs: 3000 });
  });

  it('marks a chat dead, drops its queue, answers later sends at once, and sends again once revived', async () => {
    let gone = true;
    const { flights, sender } = pigeon((flight, n) => {
      if (gone && flight.chatId === 'carol') throw new PigeonError('no-such-loft');
      return { ring: `p-${n}` };
    });
    const queued = Promise.all(['a', 'b', 'c'].map((t) => sender.send('carol', note(t))));
    await clock.advance(100);
    expect((await queued).map((o) => o.status)).toEqual(['dead', 'dead', 'dead']);
    expect(flights).toHaveLength(1);
    expect(sender.isDead('carol')).toBe(true);
    expect(await sender.send('carol', note('later'))).toEqual({ status: 'dead', chatId: 'carol', reason: 'loft is gone' });
    expect(flights).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'pigeon chat unreachable: stopped sending there')).toHaveLength(1);

    gone = false;
    sender.revive('carol');
    expect(sender.isDead('carol')).toBe(false);
    const again = sender.send('carol', note('welcome back'));
    await clock.advance(1000);
    expect(await again).toMatchObject({ status: 'sent', messageId: 'p-2' });
  });

  it('follows a chat to its new id, retries transient errors with backoff, and does not retry fatal ones', async () => {
    let storms = 2;
    const { flights, sender } = pigeon((flight, n) => {
      if (flight.chatId === 'old-loft') throw new PigeonError('moved', { newLoft: 'new-loft' });
      if (flight.chatId === 'dave' && storms-- > 0) throw new PigeonError('storm');
      if (flight.chatId === 'erin') throw new PigeonError('bad-note');
      return { ring: `p-${n}` };
    });
    const moved = sender.send('old-loft', note('one'));
    const flaky = sender.send('dave', note('x'));
    const refused = sender.send('erin', note('y'));
    await clock.advance(10_000);
    expect(await moved).toMatchObject({ status: 'sent', chatId: 'new-loft' });
    expect(await flaky).toMatchObject({ status: 'sent', attempts: 3 });
    expect(await refused).toEqual({ status: 'failed', chatId: 'erin', reason: 'unreadable note', code: 400 });
    const toDave = flights.filter((f) => f.chatId === 'dave');
    expect(toDave[1]!.at - toDave[0]!.doneAt!).toBe(500);
    expect(toDave[2]!.at - toDave[1]!.doneAt!).toBe(1000);
    expect(flights.filter((f) => f.chatId === 'erin')).toHaveLength(1);
    // Later sends to the old id go to the new one.
    const later = sender.send('old-loft', note('two'));
    await clock.advance(1000);
    expect(await later).toMatchObject({ status: 'sent', chatId: 'new-loft' });
    expect(flights.filter((f) => f.text === 'one' || f.text === 'two').map((f) => f.chatId)).toEqual(['old-loft', 'new-loft', 'new-loft']);
  });

  it('drains on idle, with its timeout on the injected timers, and refuses once closed', async () => {
    const { sender } = pigeon();
    void sender.send('alice', note('a'));
    void sender.send('alice', note('b'));
    const tooSoon = sender.idle(100);
    await clock.advance(100);
    expect(await tooSoon).toBe(false);
    const drained = sender.idle();
    await clock.advance(1000);
    expect(await drained).toBe(true);
    sender.close();
    expect(await sender.send('alice', note('c'))).toEqual({ status: 'failed', chatId: 'alice', reason: 'sender closed' });
  });
});
