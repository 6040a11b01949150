/**
 * Remembers which linked users use the bot in which group, for /leaderboard: no platform lets a
 * bot list a group's members, so the group's board ranks those it has seen there. The dispatcher
 * calls `seen` on every command in a group; a write that fails is logged and never fails the
 * command. The same chat and user are written at most once an hour per process (a small
 * in-memory LRU): only an optimisation, as the store's write is idempotent.
 */
import type { Services } from '../context';

const REWRITE_AFTER_MS = 60 * 60 * 1000;
/** Enough for every active pair of a busy bot; the least recently seen go first. */
const MAX_REMEMBERED = 10_000;

export class ChatMemberRecorder {
  /** `chat\nusername` -> when it was last written; a Map keeps insertion order, oldest first. */
  private readonly written = new Map<string, number>();

  constructor(private readonly services: Pick<Services, 'store' | 'logger'>, private readonly max = MAX_REMEMBERED) {}

  async seen(chat: string, username: string, now: number): Promise<void> {
    const key = `${chat}\n${username}`;
    const last = this.written.get(key);
    if (last !== undefined && now - last < REWRITE_AFTER_MS) return;
    try {
      await this.services.store.recordChatMember(chat, username, now);
    } catch (error) {
      this.services.logger.warn({ chat, username, err: error instanceof Error ? error.message : String(error) }, 'could not record a group member');
      return;
    }
    this.written.delete(key);
    this.written.set(key, now);
    if (this.written.size > this.max) this.written.delete(this.written.keys().next().value!);
  }
}
