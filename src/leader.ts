/**
 * Which instance runs the scheduled jobs (src/jobs.ts): the job leader.
 *
 * On DynamoDB several instances share the tables, and the leader is whoever holds the `jobs`
 * lease in the store (Store.acquireLease: a conditional write with an expiry). The holder renews
 * it every third of LEASE_SECONDS; the others try as often, and one of them takes it over once a
 * dead holder's lease has expired, so the jobs move within LEASE_SECONDS (plus one try).
 *
 * The holder stops acting as leader a margin BEFORE its lease expires when it could not renew
 * (the store was unreachable, the process stalled), so that it has stopped before anyone else can
 * have started. The lease is an economy (one poll, one matcher, one digest run per tick), not the
 * only guard: alert firings, outbox messages and digests are claimed in the store, so a run that
 * overlaps a takeover by a moment still fires and announces each thing once.
 *
 * On the embedded SQLite store there is one process, which always leads (soleLeader): no lease.
 * Two processes on one SQLite file would both lead, which is one reason the embedded store is for
 * a single instance.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock, Logger, Store } from '../core/ports';

export interface Leadership {
  /** This instance's name in the lease item and the log. */
  readonly holder: string;
  /** True while this instance may run the scheduled jobs. Cheap: the jobs ask at every run. */
  isLeader(): boolean;
  /** Called with true when this instance starts leading and false when it stops. */
  onChange(listener: (leading: boolean) => void): void;
  /** Takes the lease if it is free (resolves after the first try), then keeps trying or renewing. */
  start(): Promise<void>;
  /** Stops renewing and gives the lease up, so that another instance takes over at once. */
  stop(): Promise<void>;
}

/** hostname#pid#random: unique across machines, processes and restarts of one pid. */
export function instanceId(): string {
  return `${hostname()}#${process.pid}#${randomBytes(3).toString('hex')}`;
}

/** The embedded store's single process: always the leader. */
export function soleLeader(): Leadership {
  return { holder: instanceId(), isLeader: () => true, onChange: () => {}, start: async () => {}, stop: async () => {} };
}

export interface LeaseLeadershipOptions {
  store: Pick<Store, 'acquireLease' | 'releaseLease'>;
  ttlMs: number;
  clock: Clock;
  logger: Logger;
  /** Default 'jobs'. */
  name?: string;
  /** Default instanceId(). */
  holder?: string;
  /** Whether start() keeps trying on a timer (default true; tests call attempt() themselves). */
  timer?: boolean;
}

export class LeaseLeadership implements Leadership {
  readonly holder: string;
  private readonly name: string;
  private readonly ttlMs: number;
  /** How long before the lease's expiry the holder stops leading when it could not renew: a
   *  fifth of the lease (6 s of the default 30), room for clock skew between instances and for
   *  a renewal stuck in flight. Renewals come every third, so one failed renewal loses nothing. */
  private readonly marginMs: number;
  /** Leading until then (this clock); 0 when not holding. */
  private validUntil = 0;
  /** What listeners were last told. */
  private leading = false;
  private readonly listeners: Array<(leading: boolean) => void> = [];
  private interval: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: LeaseLeadershipOptions) {
    this.name = options.name ?? 'jobs';
    this.holder = options.holder ?? instanceId();
    this.ttlMs = options.ttlMs;
    this.marginMs = Math.floor(options.ttlMs / 5);
  }

  isLeader(): boolean {
    return !this.stopped && this.options.clock.now() < this.validUntil;
  }

  onChange(listener: (leading: boolean) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    await this.attempt();
    if (this.options.timer === false || this.stopped) return;
    this.interval = setInterval(() => void this.attempt(), Math.floor(this.ttlMs / 3));
    this.interval.unref();
  }

  /** One try to take or renew the lease (skipped while the last one is still in flight). */
  attempt(): Promise<void> {
    this.inFlight ??= this.tryOnce().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async tryOnce(): Promise<void> {
    if (this.stopped) return;
    // The time BEFORE the write: the lease runs from no later than this, whatever the latency.
    const now = this.options.clock.now();
    try {
      if (await this.options.store.acquireLease(this.name, this.holder, now, this.ttlMs)) {
        this.validUntil = now + this.ttlMs - this.marginMs;
      }
    } catch (error) {
      // Unreachable store: keep what we have until it runs out, and try again next time.
      this.options.logger.warn({ err: error, lease: this.name }, 'job lease: could not reach the store');
    }
    this.announce();
  }

  async stop(): Promise<void> {
    if (this.interval) clearInterval(this.interval);
    this.interval = undefined;
    await this.inFlight;
    const held = this.isLeader();
    this.stopped = true;
    this.announce();
    if (!held) return;
    try {
      await this.options.store.releaseLease(this.name, this.holder);
    } catch (error) {
      // It expires on its own; the next leader only waits longer.
      this.options.logger.warn({ err: error, lease: this.name }, 'job lease: could not release it');
    }
  }

  /** Tells listeners when leading changed; also logs it, so that an operator sees who leads. */
  private announce(): void {
    const leading = this.isLeader();
    if (leading === this.leading) return;
    this.leading = leading;
    this.options.logger.info({ holder: this.holder, lease: this.name }, leading ? 'job leader: this instance runs the scheduled jobs' : 'job leader: no longer');
    for (const listener of this.listeners) listener(leading);
  }
}
