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
import { backoffDelay, type BackoffOptions } from '../infra/support/backoff';
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

export interface FollowOptions {
  /** Waits between failed connects. Default from 2.5–5 s doubling up to 2.5–5 min: a Discord outage
   *  is ridden out without spending the bot's daily IDENTIFY budget (1000). */
  backoff?: BackoffOptions;
  /** Test hook: how a wait is slept (default a timer that does not hold the process open). */
  sleep?: (ms: number) => Promise<void>;
}

const RETRY_BACKOFF: BackoffOptions = { baseMs: 5000, maxMs: 5 * 60_000, jitter: 'equal' };

const timerSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Connects the adapter's gateway while this instance leads, and disconnects it when it stops.
 * A failed connect is logged (the leader's adapter reports not connected on /readyz meanwhile: it
 * wants a session it does not have) and retried with backoff for as long as this instance leads:
 * nobody else may answer interactions, so giving up would leave them unanswered until the next
 * change. Losing the lead cuts the wait short and ends the retries; a stopped (or stopping)
 * adapter's connectGateway() resolves without connecting, which ends them too.
 */
export function followLeadership(adapter: GatewayAdapter, leadership: Pick<Leadership, 'onChange'>, logger: Logger, options: FollowOptions = {}): LeadershipFollower {
  const backoff = options.backoff ?? RETRY_BACKOFF;
  const sleep = options.sleep ?? timerSleep;
  let wanted = false;
  let chain: Promise<void> = Promise.resolve();
  /** Ends the backoff wait under way, when leadership changes during it. */
  let wake: (() => void) | undefined;

  function pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      wake = resolve;
      void sleep(ms).then(resolve);
    }).finally(() => (wake = undefined));
  }

  const reason = (error: unknown) => (error instanceof Error ? error.message : String(error));

  async function apply(): Promise<void> {
    // The latest wish, not the one queued: a quick lose-and-regain does not reconnect needlessly.
    if (!wanted) {
      try {
        await adapter.disconnectGateway();
      } catch (error) {
        logger.error({ platform: adapter.platform, leading: false, error: reason(error) }, 'chat gateway did not close cleanly');
      }
      return;
    }
    for (let retry = 0; wanted; retry++) {
      try {
        await adapter.connectGateway();
        return;
      } catch (error) {
        const delayMs = backoffDelay(retry, backoff);
        logger.error({ platform: adapter.platform, leading: true, retryInMs: delayMs, error: reason(error) }, 'job leader could not connect the chat gateway: interactions go unanswered until it does');
        // The next change waits in the chain behind this loop, so it must wake the wait.
        await pause(delayMs);
      }
    }
  }

  leadership.onChange((leading) => {
    wanted = leading;
    wake?.();
    chain = chain.then(apply);
  });
  return { settled: () => chain };
}
