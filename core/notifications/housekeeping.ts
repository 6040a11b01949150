/**
 * The daily clean-up: what the store no longer needs. Each step runs even when another fails
 * (its count is then -1 and the failure is logged), so one broken table does not let the others grow.
 */
import type { Services } from '../context';

const DAY_MS = 86_400_000;
/** Delivered and given-up outbox rows are kept this long, to answer "did my alert go out?". */
export const OUTBOX_RETENTION_MS = 7 * DAY_MS;
/** Fired, expired and removed alerts are kept this long: /alerts shows recent firings, and other
 *  instances must have seen a removal before the row goes. */
export const FINISHED_ALERT_RETENTION_MS = 30 * DAY_MS;

export interface HousekeepingReport {
  /** Link codes, buttons, once-only claims and attempt windows past their expiry. */
  expired: number;
  activity: number;
  outbox: number;
  alerts: number;
}

export async function runHousekeeping(services: Services, now: number): Promise<HousekeepingReport> {
  const { store, config, logger } = services;
  const step = async (name: keyof HousekeepingReport, work: () => Promise<number>): Promise<number> => {
    try {
      return await work();
    } catch (error) {
      logger.error({ step: name, err: error instanceof Error ? error.message : String(error) }, 'housekeeping step failed');
      return -1;
    }
  };
  return {
    expired: await step('expired', () => store.pruneExpired(now)),
    activity: await step('activity', () => store.pruneActivity(now - config.activityRetentionDays * DAY_MS)),
    outbox: await step('outbox', () => store.pruneOutbox(now - OUTBOX_RETENTION_MS)),
    alerts: await step('alerts', () => store.pruneAlerts(now - FINISHED_ALERT_RETENTION_MS)),
  };
}
