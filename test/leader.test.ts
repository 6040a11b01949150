/**
 * The job leader's lease (src/leader.ts) and the prices the leader shares (infra/prices/shared-feed.ts),
 * in one process: two "instances" on one store, a manual clock, attempts made by hand. The three
 * real processes on DynamoDB Local are test/multi-instance.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../core/ports';
import { SharedPriceFeed } from '../infra/prices/shared-feed';
import { SqliteStore } from '../infra/sqlite/sqlite-store';
import { LeaseLeadership, instanceId, soleLeader } from '../src/leader';
import { HandFeed, ManualClock, silentLogger } from './support/harness';

const TTL = 30_000;
let store: SqliteStore;
let clock: ManualClock;

beforeEach(() => {
  store = SqliteStore.open({ file: ':memory:' });
  clock = new ManualClock();
});
afterEach(async () => {
  await store.close();
});

function instance(holder: string, on: Pick<Store, 'acquireLease' | 'releaseLease'> = store) {
  const changes: boolean[] = [];
  const leadership = new LeaseLeadership({ store: on, ttlMs: TTL, clock, logger: silentLogger, holder, timer: false });
  leadership.onChange((leading) => changes.push(leading));
  return { leadership, changes };
}

describe('job leader lease', () => {
  it('lets one instance lead; the other takes over once the leader stops renewing, within the lease', async () => {
    const a = instance('a');
    const b = instance('b');
    await a.leadership.start();
    await b.leadership.start();
    expect([a.leadership.isLeader(), b.leadership.isLeader()]).toEqual([true, false]);

    // a renews every third of the lease: b never gets it.
    for (let i = 0; i < 6; i++) {
      clock.advance(TTL / 3);
      await a.leadership.attempt();
      await b.leadership.attempt();
      expect([a.leadership.isLeader(), b.leadership.isLeader()]).toEqual([true, false]);
    }

    // a dies (no more renewals). b's tries fail until the lease has expired, then b leads.
    let waited = 0;
    while (!b.leadership.isLeader()) {
      clock.advance(TTL / 3);
      waited += TTL / 3;
      await b.leadership.attempt();
    }
    expect(waited).toBeLessThanOrEqual(TTL + TTL / 3);
    expect(b.changes).toEqual([true]);
  });

  it('stops leading before its lease expires when it cannot renew, so that no two lead at once', async () => {
    let reachable = true;
    const flaky: Pick<Store, 'acquireLease' | 'releaseLease'> = {
      acquireLease: (...args) => (reachable ? store.acquireLease(...args) : Promise.reject(new Error('store unreachable'))),
      releaseLease: (...args) => store.releaseLease(...args),
    };
    const a = instance('a', flaky);
    const b = instance('b');
    await a.leadership.start();
    reachable = false;
    // Every moment until b can take over, a has already stopped or b cannot yet have started.
    for (let t = 0; t <= TTL + 1000; t += 1000) {
      clock.advance(1000);
      if (t % 10_000 === 0) await a.leadership.attempt();
      await b.leadership.attempt();
      expect(a.leadership.isLeader() && b.leadership.isLeader()).toBe(false);
    }
    expect(a.leadership.isLeader()).toBe(false);
    expect(b.leadership.isLeader()).toBe(true);
    expect(a.changes).toEqual([true, false]);
  });

  it('gives the lease up on stop, so that another instance leads at its next try', async () => {
    const a = instance('a');
    const b = instance('b');
    await a.leadership.start();
    await a.leadership.stop();
    expect(a.leadership.isLeader()).toBe(false);
    expect(a.changes).toEqual([true, false]);
    clock.advance(1);
    await b.leadership.attempt();
    expect(b.leadership.isLeader()).toBe(true);
  });

  it('on the embedded store, the one process always leads', () => {
    expect(soleLeader().isLeader()).toBe(true);
    expect(instanceId()).toMatch(new RegExp(`#${process.pid}#[0-9a-f]{6}$`));
    expect(instanceId()).not.toBe(instanceId());
  });
});

describe('prices shared through the store', () => {
  it('the leader publishes what it fetched; a follower reads the same quotes, as old as they really are', async () => {
    const upstream = new HandFeed(clock);
    const leader = new SharedPriceFeed({ store, upstream, clock, logger: silentLogger, readIntervalMs: 5000 });
    const idle = new HandFeed(clock);
    const follower = new SharedPriceFeed({ store, upstream: idle, clock, logger: silentLogger, readIntervalMs: 5000 });
    leader.track(['bitcoin', 'ethereum']);
    follower.track(['bitcoin', 'ethereum']);
    expect(upstream.tracked).toEqual(['bitcoin', 'ethereum']);

    await follower.follow();
    expect(follower.quote('bitcoin')).toBeUndefined();

    upstream.set('bitcoin', '97000.12').set('ethereum', '3500');
    const fetchedAt = clock.now();
    await leader.refresh();
    expect(upstream.refreshes).toBe(1);
    expect(leader.quote('bitcoin')?.price).toBe('97000.12');

    clock.advance(3000);
    await follower.follow();
    expect(follower.quote('bitcoin')).toEqual({ coinId: 'bitcoin', price: '97000.12', change24hPercent: '1.5', receivedAt: fetchedAt, simulated: false });
    expect(follower.quote('ethereum')?.price).toBe('3500');
    expect(follower.fiatRates().rates).toEqual(upstream.rates);
    // The follower never asked its own upstream.
    expect(idle.refreshes).toBe(0);
  });

  it('keeps the last prices when the store cannot be read, and never steps back to an older snapshot', async () => {
    const upstream = new HandFeed(clock);
    const leader = new SharedPriceFeed({ store, upstream, clock, logger: silentLogger, readIntervalMs: 5000 });
    leader.track(['bitcoin']);
    upstream.set('bitcoin', '100');
    await leader.refresh();
    const old = await store.readQuotes();
    clock.advance(10_000);
    upstream.set('bitcoin', '200');
    await leader.refresh();

    let failing = false;
    let serveOld = false;
    const reader = new SharedPriceFeed({
      store: {
        publishQuotes: () => Promise.resolve(),
        readQuotes: () => (failing ? Promise.reject(new Error('throttled')) : serveOld ? Promise.resolve(old) : store.readQuotes()),
      },
      upstream: new HandFeed(clock), clock, logger: silentLogger, readIntervalMs: 5000,
    });
    reader.track(['bitcoin']);
    await reader.follow();
    expect(reader.quote('bitcoin')?.price).toBe('200');
    failing = true;
    await reader.follow();
    expect(reader.quote('bitcoin')?.price).toBe('200');
    failing = false;
    serveOld = true; // a lagging replica
    await reader.follow();
    expect(reader.quote('bitcoin')?.price).toBe('200');
  });
});
