/**
 * On several instances (STORE=dynamodb) Discord is answered once because only the job leader
 * holds a Discord gateway session: Discord sends every interaction to each open session of the
 * bot, so two sessions would answer twice. Every other instance runs its Discord adapter
 * send-only (REST), which is all the outbox needs to deliver pushes. See README "Several instances".
 *
 * Leadership changes are applied one after another, never overlapping: losing the lead closes the
 * session (after the interactions in flight are answered) before a later regain opens a new one.
 * Between instances, the lease already keeps them apart: the old leader stops leading a margin
 * before its lease expires (src/leader.ts), and nobody else can take it before then.
 */
import type { Logger } from '../core/ports';
import type { Leadership } from './leader';

/** An adapter that can hold a gateway session or only send (adapters/discord/bot.ts). */
export interface GatewayAdapter {
  readonly platform: string;
  connectGateway(): Promise<void>;
  disconnectGateway(): Promise<void>;
}

export function isGatewayAdapter<T extends object>(adapter: T): adapter is T & GatewayAdapter {
  const candidate = adapter as Partial<GatewayAdapter>;
  return typeof candidate.connectGateway === 'function' && typeof candidate.disconnectGateway === 'function';
}

export interface LeadershipFollower {
  /** Resolves once every leadership change seen so far has been applied (tests, shutdown). */
  settled(): Promise<void>;
}

/**
 * Connects the adapter's gateway while this instance leads, and disconnects it when it stops.
 * A failed connect is logged: the leader's adapter then reports not connected on /readyz (it wants
 * a session it does not have), and the next change tries again.
 */
export function followLeadership(adapter: GatewayAdapter, leadership: Pick<Leadership, 'onChange'>, logger: Logger): LeadershipFollower {
  let wanted = false;
  let chain: Promise<void> = Promise.resolve();

  async function apply(): Promise<void> {
    // The latest wish, not the one queued: a quick lose-and-regain does not reconnect needlessly.
    const leading = wanted;
    try {
      if (leading) await adapter.connectGateway();
      else await adapter.disconnectGateway();
    } catch (error) {
      logger.error({ platform: adapter.platform, leading, error: error instanceof Error ? error.message : String(error) }, leading
        ? 'job leader could not connect the chat gateway: interactions go unanswered until it does'
        : 'chat gateway did not close cleanly');
    }
  }

  leadership.onChange((leading) => {
    wanted = leading;
    chain = chain.then(apply);
  });
  return { settled: () => chain };
}
