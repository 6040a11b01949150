/**
 * Graceful shutdown (issue 13): on SIGTERM or SIGINT the bot stops taking new updates, finishes
 * the commands in flight, flushes what is queued for delivery, and exits within a bounded time.
 *
 * The order matters:
 *   1. readiness turns unready (a load balancer stops sending here);
 *   2. the chat adapters stop receiving and finish the commands in flight (stopReceiving(); an
 *      adapter without it keeps receiving until step 5). An update never taken stays with the
 *      platform, which delivers it again (to the next process);
 *   3. the scheduled jobs stop, waiting for runs under way (a price tick's fired alerts are queued);
 *   4. the outbox is run until nothing due remains, while the adapters can still send;
 *   5. the adapters stop (flushing their own send queues and disconnecting), then the rest closes,
 *      the store last.
 * The whole sequence has a budget (SHUTDOWN_TIMEOUT_SECONDS, below systemd's TimeoutStopSec):
 * past it the step still running is logged and the process exits non-zero. Whatever was not
 * finished is safe to abandon: a command is one store transaction (no half trade), an update not
 * confirmed is delivered again, an outbox row not sent stays queued.
 */
import type { ReadinessReport, Readiness } from '../adapters/shared/health';
import type { ChatAdapter } from '../core/chat-adapter';
import type { OutboxRun } from '../core/notifications/outbox-worker';
import type { Logger } from '../core/ports';

export interface ShutdownPlan {
  /** Turns readiness unready (see drainingReadiness). */
  markUnready?: () => void;
  adapters: readonly ChatAdapter[];
  /** Stops the scheduled jobs, waiting for runs under way. */
  stopJobs: () => Promise<void>;
  /** Steps between the jobs and the outbox flush (the leadership lease, the shared price feed). */
  afterJobs?: ReadonlyArray<readonly [name: string, run: () => Promise<void>]>;
  outbox?: { runOnce(): Promise<OutboxRun> };
  /** Steps after the adapters stopped, in order (health routes, price feed, email, the store last). */
  afterAdapters?: ReadonlyArray<readonly [name: string, run: () => Promise<void>]>;
  logger: Logger;
  /** The budget for the whole sequence. */
  timeoutMs: number;
}

export interface ShutdownResult {
  /** Every step finished within the budget. */
  completed: boolean;
  /** The step running when the budget ran out, and those never begun. */
  pending: string[];
  /** Outbox rows sent (or settled) during the flush. */
  flushed: number;
}

/** Runs the shutdown sequence; never rejects (a failing step is logged and the next one runs). */
export async function runShutdown(plan: ShutdownPlan): Promise<ShutdownResult> {
  const { logger } = plan;
  let expired = false;
  let flushed = 0;
  const steps: Array<[string, () => Promise<void>]> = [
    ['readiness', async () => plan.markUnready?.()],
    ['stop receiving', async () => {
      await Promise.allSettled(plan.adapters.map((a) => a.stopReceiving?.()));
    }],
    ['scheduled jobs', plan.stopJobs],
    ...(plan.afterJobs ?? []).map(([name, run]) => [name, run] as [string, () => Promise<void>]),
    ['outbox flush', async () => {
      if (!plan.outbox) return;
      // Each run leases what is due; rows put back for later are not due again at once, so the
      // loop ends when a run finds nothing (or when the budget runs out).
      while (!expired) {
        const run = await plan.outbox.runOnce();
        const settled = run.delivered + run.failed + run.summarised;
        flushed += settled;
        if (settled + run.retried === 0) break;
      }
    }],
    ['chat adapters', async () => {
      const results = await Promise.allSettled(plan.adapters.map((a) => a.stop()));
      results.forEach((r, i) => {
        if (r.status === 'rejected') logger.error({ platform: plan.adapters[i]!.platform, error: String(r.reason) }, 'chat adapter failed to stop');
      });
    }],
    ...(plan.afterAdapters ?? []).map(([name, run]) => [name, run] as [string, () => Promise<void>]),
  ];

  let index = 0;
  const sequence = (async () => {
    for (; index < steps.length && !expired; index++) {
      const [name, run] = steps[index]!;
      try {
        await run();
      } catch (error) {
        logger.error({ step: name, error: error instanceof Error ? error.message : String(error) }, 'shutdown step failed');
      }
    }
  })();

  let timer: ReturnType<typeof setTimeout> | undefined;
  const budget = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), plan.timeoutMs);
    timer.unref?.();
  });
  const outcome = await Promise.race([sequence.then(() => 'done' as const), budget]);
  clearTimeout(timer);
  if (outcome === 'done') {
    logger.info({ flushed }, 'shut down cleanly');
    return { completed: true, pending: [], flushed };
  }
  expired = true;
  const pending = steps.slice(index).map(([name]) => name);
  logger.error({ pending, flushed, timeoutMs: plan.timeoutMs }, 'shutdown budget ran out: exiting with these steps unfinished');
  return { completed: false, pending, flushed };
}

/** A readiness that reports unready, naming the shutdown, once markDraining() was called. */
export function drainingReadiness(inner: Readiness): Readiness & { markDraining(): void } {
  let draining = false;
  return {
    markDraining: () => {
      draining = true;
    },
    async check(): Promise<ReadinessReport> {
      if (!draining) return inner.check();
      return { ready: false, checks: { shutdown: { ok: false, detail: 'shutting down' } } };
    },
  };
}

/**
 * Resolves with the first SIGTERM or SIGINT. A second one exits at once (exit code 130): the
 * operator, or systemd after its own timeout, does not wait for the graceful sequence.
 */
export function firstSignal(logger: Logger, exit: (code: number) => void = (code) => process.exit(code)): Promise<string> {
  return new Promise<string>((resolve) => {
    let received = false;
    const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
      if (received) {
        logger.warn({ signal }, 'second signal: exiting at once');
        exit(130);
        return;
      }
      received = true;
      resolve(signal);
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
  });
}
