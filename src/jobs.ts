/**
 * The scheduled jobs, on node-cron. Each job never overlaps itself: a run that comes due while the
 * last one still works is skipped (by `run`, which scheduled and hand-started runs both go
 * through), so a slow upstream or a large firing cannot pile runs up.
 *
 *   prices        every PRICE_POLL_SECONDS: fetch prices, then match alerts and group broadcast
 *                 rules against them (matching runs when prices arrive, not on its own timer),
 *                 then deliver what fired;
 *   outbox        every 5 s: deliver queued messages (retries, the per-minute cap's summaries,
 *                 messages another instance left behind when it died);
 *   digest        every 15 min (time zones with half-hour offsets): daily digests due this hour;
 *   housekeeping  daily: expired link codes, buttons and claims, old activity, settled outbox rows,
 *                 finished alerts;
 *   snapshots     daily at 00:05 UTC: every user's portfolio value for the day, for /chart
 *                 portfolio and /leaderboard. Also run once after this process's first price
 *                 refresh, so a day the bot was down at 00:05 still gets its snapshot (valued at
 *                 real prices, not before any arrived); it is claimed once per UTC day in the
 *                 store, so that run, a restart or another instance records nothing twice.
 *
 * With several instances (STORE=dynamodb) every job but the outbox runs only on the job leader
 * (src/leader.ts), checked at each scheduled run through node-cron's run coordinator. The outbox
 * runs everywhere: its messages are leased one caller at a time, and each instance delivers
 * through the chat platforms connected to it. Jobs that several instances run at once (for a
 * moment, around a takeover) still stay correct: firing is a conditional claim in the store,
 * outbox messages are leased, a digest is claimed once per user and day, snapshots once per day.
 *
 * The alert engine lives for one term of leadership: built (its index read from the store) when
 * this instance starts leading, dropped when it stops, so a new leader never matches against an
 * index that fell behind while it followed. The price history of move alerts starts over with it.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { AlertEngine } from '../core/alerts/engine';
import type { Services } from '../core/context';
import { runDigest } from '../core/notifications/digest';
import { runHousekeeping } from '../core/notifications/housekeeping';
import { recordDailySnapshots } from '../core/market/snapshots';
import type { OutboxWorker } from '../core/notifications/outbox-worker';
import type { Logger, PriceFeed } from '../core/ports';
import type { Leadership } from './leader';

export interface JobDeps {
  services: Services;
  feed: PriceFeed;
  /** The engine, or how to build one for each term of leadership (see above). */
  alerts: AlertEngine | (() => AlertEngine);
  outbox: OutboxWorker;
  logger: Logger;
  pricePollSeconds: number;
  /** Who runs the scheduled jobs; without it, this process alone (it always leads). */
  leadership?: Pick<Leadership, 'isLeader' | 'onChange'>;
}

export type JobName = 'prices' | 'outbox' | 'digest' | 'housekeeping' | 'snapshots';

export interface Jobs {
  /** Runs a job now, unless it is already running (then resolves false at once). */
  run(name: JobName): Promise<boolean>;
  /** Stops scheduling and waits for runs under way. */
  stop(): Promise<void>;
}

/** A cron expression with a seconds field for "every n seconds" (n divides a minute, or is whole
 *  minutes dividing an hour: src/config.ts checks it). */
export function everySeconds(n: number): string {
  if (n < 60) return `*/${n} * * * * *`;
  return n < 3600 ? `0 */${n / 60} * * * *` : '0 0 * * * *';
}

export function startJobs(deps: JobDeps): Jobs {
  const { services, feed, outbox, logger } = deps;
  const leadership = deps.leadership ?? { isLeader: () => true, onChange: () => {} };
  let engine: AlertEngine | undefined;
  const alerts = (): AlertEngine => {
    if (engine) return engine;
    const built = typeof deps.alerts === 'function' ? deps.alerts() : deps.alerts;
    engine = built;
    // The first tick waits for the build (tick syncs, sync awaits start).
    built.start().then(
      () => logger.info({ alerts: built.matcher.size }, 'alert index built'),
      (error: unknown) => {
        // The next run builds it again (a store outage at takeover must not stop matching for good).
        if (engine === built) engine = undefined;
        logger.error({ err: error }, 'alert index build failed');
      },
    );
    return built;
  };
  let snapshotsCaughtUp = false;
  const bodies: Record<JobName, () => Promise<unknown>> = {
    async prices() {
      await feed.refresh();
      // The first prices this process fetched as leader: today's snapshots, unless recorded
      // already (see above).
      if (!snapshotsCaughtUp) {
        snapshotsCaughtUp = true;
        void run('snapshots');
      }
      const report = await alerts().tick();
      if (report.fired) await outbox.runOnce();
    },
    outbox: () => outbox.runOnce(),
    async digest() {
      const queued = await runDigest(services, services.clock.now());
      if (queued) await outbox.runOnce();
    },
    housekeeping: async () => logger.info({ ...(await runHousekeeping(services, services.clock.now())) }, 'housekeeping done'),
    snapshots: async () => logger.info({ recorded: await recordDailySnapshots(services, services.clock.now()) }, 'portfolio snapshots done'),
  };
  const schedules: Record<JobName, string> = {
    prices: everySeconds(deps.pricePollSeconds),
    outbox: '*/5 * * * * *',
    digest: '*/15 * * * *',
    housekeeping: '17 3 * * *',
    snapshots: '5 0 * * *',
  };
  /** Days are UTC days (snapshots are keyed by them), whatever the server's zone. */
  const zones: Partial<Record<JobName, string>> = { snapshots: 'UTC' };

  const running = new Map<JobName, Promise<unknown>>();
  function run(name: JobName): Promise<boolean> {
    if (running.has(name)) {
      logger.debug?.({ job: name }, 'job still running: this run skipped');
      return Promise.resolve(false);
    }
    const work = bodies[name]()
      .catch((error: unknown) => logger.error({ job: name, err: error }, 'job failed'))
      .finally(() => running.delete(name));
    running.set(name, work);
    return work.then(() => true);
  }

  // node-cron asks the coordinator before each scheduled run; a run it refuses is skipped.
  const onlyTheLeader = { shouldRun: () => leadership.isLeader() };
  const tasks: ScheduledTask[] = (Object.keys(schedules) as JobName[]).map((name) =>
    cron.schedule(schedules[name], () => run(name), {
      name,
      logger: cronLogger(logger),
      ...(zones[name] && { timezone: zones[name] }),
      ...(name !== 'outbox' && { distributed: true, runCoordinator: onlyTheLeader }),
    }));

  if (leadership.isLeader()) alerts();
  leadership.onChange((leading) => {
    if (!leading) {
      engine = undefined;
      return;
    }
    // A new leader fetches prices at once: the followers' prices are as old as the dead leader's.
    alerts();
    void run('prices');
  });

  return {
    run,
    async stop() {
      await Promise.all(tasks.map((task) => task.destroy()));
      await Promise.all(running.values());
    },
  };
}

/** node-cron's own messages (a missed run after the machine slept) into the bot's log. */
function cronLogger(logger: Logger) {
  const text = (m: string | Error) => (m instanceof Error ? m.message : m);
  return {
    info: (m: string) => logger.info({ component: 'cron' }, m),
    warn: (m: string) => logger.warn({ component: 'cron' }, m),
    error: (m: string | Error) => logger.error({ component: 'cron' }, text(m)),
    debug: (m: string | Error) => logger.debug?.({ component: 'cron' }, text(m)),
  };
}
