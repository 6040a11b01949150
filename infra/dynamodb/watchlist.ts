/**
 * Personal watchlists on DynamoDB: a string set `watchlist` on the account item itself, so there
 * is no new table (and no IAM change). One conditional UpdateItem adds a coin: the condition
 * checks that the coin is absent and the set is below the limit, so however many adds race,
 * DynamoDB applies them one at a time and the set never grows past the limit. The set's
 * attribute disappears when its last coin is removed (DynamoDB deletes empty sets).
 */
import type { StoreIo } from './io';

const NAMES = { '#w': 'watchlist', '#u': 'username' };

/** A condition can fail because the coin was just added or the list just filled: each is
 *  re-read and decided; a retry is needed only if the list changed again in between. */
const ATTEMPTS = 5;

export class DynamoWatchlist {
  constructor(private readonly io: StoreIo, private readonly usersTable: string) {}

  async add(username: string, coinId: string, limit: number): Promise<'added' | 'exists' | 'limit'> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const added = await this.io.update({
        TableName: this.usersTable,
        Key: { username },
        UpdateExpression: 'ADD #w :coin',
        // attribute_exists(#u): never create an item for an account that does not exist.
        ConditionExpression: 'attribute_exists(#u) AND NOT contains(#w, :id) AND (attribute_not_exists(#w) OR size(#w) < :limit)',
        ExpressionAttributeNames: NAMES,
        ExpressionAttributeValues: { ':coin': new Set([coinId]), ':id': coinId, ':limit': limit },
      });
      if (added) return 'added';
      const current = await this.read(username);
      if (current === null) throw new Error(`No account ${username} to add a watched coin to`);
      if (current.includes(coinId)) return 'exists';
      if (current.length >= limit) return 'limit';
      // Neither any more: a removal slipped in between; try again.
    }
    throw new Error(`Watchlist of ${username} kept changing; gave up adding ${coinId}`);
  }

  /** Conditional, so that of two racing removals exactly one reports true. */
  async remove(username: string, coinId: string): Promise<boolean> {
    const removed = await this.io.update({
      TableName: this.usersTable,
      Key: { username },
      UpdateExpression: 'DELETE #w :coin',
      ConditionExpression: 'contains(#w, :id)',
      ExpressionAttributeNames: { '#w': NAMES['#w'] },
      ExpressionAttributeValues: { ':coin': new Set([coinId]), ':id': coinId },
    });
    return removed !== null;
  }

  async list(username: string): Promise<string[]> {
    return (await this.read(username)) ?? [];
  }

  /** The sorted set, or null when there is no such account item. */
  private async read(username: string): Promise<string[] | null> {
    const item = await this.io.get(this.usersTable, { username });
    if (!item) return null;
    const set = item.watchlist as Set<string> | undefined;
    return set ? [...set].sort() : [];
  }
}
