/**
 * Daily portfolio snapshots and the group members the leaderboard ranks, on DynamoDB (see
 * tables.ts: `portfolio-snapshots` keyed by user and day, `chat-members` by chat and user). Both
 * are plain upserts: a second snapshot of a day replaces the first, a member seen again only moves
 * its last-seen time. Snapshots carry a TTL a year and a bit past the day: the longest chart is
 * 90 days, and the leaderboard's "all" compares with the start balance, not an old snapshot.
 */
import type { PortfolioSnapshot } from '../../core/domain';
import type { StoreIo } from './io';
import type { Item } from './items';
import { ttlSeconds } from './items';

const SNAPSHOT_RETENTION_S = 400 * 24 * 60 * 60;

export class DynamoSnapshots {
  constructor(private readonly io: StoreIo, private readonly snapshotsTable: string, private readonly membersTable: string) {}

  async save(snapshots: PortfolioSnapshot[]): Promise<void> {
    // BatchWriteItem refuses two requests for the same key in one batch: the latest of a
    // user's day wins, as it would written one by one.
    const byKey = new Map<string, Item>();
    for (const s of snapshots) {
      byKey.set(`${s.username}\n${s.day}`, { username: s.username, day: s.day, value: s.value, at: s.at, ttl: ttlSeconds(s.at) + SNAPSHOT_RETENTION_S });
    }
    await this.io.putBatch(this.snapshotsTable, [...byKey.values()]);
  }

  async list(username: string, fromDay: string): Promise<PortfolioSnapshot[]> {
    const items = await this.io.queryAll({
      TableName: this.snapshotsTable,
      KeyConditionExpression: '#u = :u AND #d >= :d',
      ExpressionAttributeNames: { '#u': 'username', '#d': 'day' },
      ExpressionAttributeValues: { ':u': username, ':d': fromDay },
      ConsistentRead: true,
    });
    return items.map((i) => ({ username: i.username as string, day: i.day as string, value: i.value as string, at: i.at as number }));
  }

  /** Conditional on being newer, so a late write of an older sighting does not move it back; a
   *  failed condition (already seen later) is success. */
  async recordMember(chat: string, username: string, at: number): Promise<void> {
    await this.io.update({
      TableName: this.membersTable,
      Key: { chat, username },
      UpdateExpression: 'SET #s = :at',
      ConditionExpression: 'attribute_not_exists(#s) OR #s < :at',
      ExpressionAttributeNames: { '#s': 'lastSeen' },
      ExpressionAttributeValues: { ':at': at },
    });
  }

  /** The sort key keeps them sorted by username (a byte order, as usernames are [a-z0-9_]). */
  async members(chat: string): Promise<string[]> {
    const items = await this.io.queryAll({
      TableName: this.membersTable,
      KeyConditionExpression: '#c = :c',
      ProjectionExpression: '#u',
      ExpressionAttributeNames: { '#c': 'chat', '#u': 'username' },
      ExpressionAttributeValues: { ':c': chat },
      ConsistentRead: true,
    });
    return items.map((i) => i.username as string);
  }
}
