/**
 * Brings alerts saved by the release before issue 10 into the current item shape. Run by
 * `npm run db:create` after the tables (and the `change-index` / `state-index` indexes) exist.
 *
 * An old alert item has `active` (boolean), `firedAt`, and while active the sparse keys
 * `activeCoin` / `activeSince` of the retired `active-by-coin` and `active-by-user` indexes; it
 * has no `state`, `version`, `fireCount`, `updatedAt`, change-feed or state keys, so the current
 * store's index queries (listLiveAlerts, listAlertChanges, pruneAlerts) never see it. Each one is
 * rewritten as the SQLite store's migration 5 does: active → armed (fireCount 0), otherwise fired
 * once (fireCount 1); version 1; updatedAt = firedAt, or createdAt if it never fired. Every
 * attribute the current shape has is taken from `alertItem`, so the key formats live in one place.
 *
 * - Idempotent and resumable: only items without `state` are rewritten, each by its own
 *   conditional UpdateItem, so a second run (or a run after an interrupted one) finds what is
 *   left and changes nothing else.
 * - Never overwrites a newer write: the condition is that the item still exists and still lacks
 *   `state`, so an alert the new release wrote or changed meanwhile is left alone, and one the old
 *   release deleted meanwhile is not brought back.
 * - Counts stay as they are: the old release counted an active alert in its owner's
 *   `activeAlerts` and in the stats counters, and stopped counting it when it fired or was deleted;
 *   the current store counts exactly the live (armed, cooling) alerts. Active → armed keeps a
 *   counted alert live and inactive → fired keeps an uncounted one finished, so nothing to adjust.
 *
 * The one table Scan in the code base: a one-off operator step (with the operator policy's
 * `dynamodb:Scan` on the alerts table), never something the bot runs.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PriceAlert } from '../../core/domain';
import { eachLimited } from './io';
import { alertItem, type Item } from './items';
import { retryTransient } from './retry';
import { tableNames } from './tables';

/** Attributes of the old shape that the current one does not have. */
const LEGACY_ATTRIBUTES = ['active', 'activeCoin', 'activeSince'] as const;
/** The table's key: never part of an update's SET. */
const KEY_ATTRIBUTES = new Set(['username', 'alertId']);

export interface AlertMigrationOptions {
  /** Progress lines for a human (db:create prints them). */
  log?: (line: string) => void;
  /** Items per Scan page (DynamoDB's 1 MB page limit applies anyway); tests make it small. */
  pageSize?: number;
  /** Conditional updates in flight at once. */
  concurrency?: number;
}

export interface AlertMigrationResult {
  /** Old-shape alerts found by the scan. */
  found: number;
  /** Rewritten into the current shape by this run. */
  migrated: number;
  /** Found, but changed or deleted by someone else before this run's update: left alone. */
  skipped: number;
}

/** An old-shape item has no `state`; `#live` (a chat's rule count) is not an alert at all. */
const isLegacyAlertItem = (item: Item): boolean =>
  item.state === undefined && typeof item.alertId === 'string' && !item.alertId.startsWith('#');

/** The alert an old-shape item stands for, in the current record. */
function migratedAlert(old: Item): PriceAlert {
  const active = old.active === true;
  const createdAt = old.createdAt as number;
  const firedAt = typeof old.firedAt === 'number' ? old.firedAt : undefined;
  const alert: PriceAlert = {
    alertId: old.alertId as string,
    username: old.username as string,
    coinId: old.coinId as string,
    condition: old.condition as PriceAlert['condition'],
    state: active ? 'armed' : 'fired',
    createdAt,
    fireCount: active ? 0 : 1,
    version: 1,
    updatedAt: firedAt ?? createdAt,
  };
  if (typeof old.targetPrice === 'string') alert.targetPrice = old.targetPrice;
  if (firedAt !== undefined) alert.firedAt = firedAt;
  return alert;
}

/**
 * The UpdateItem that turns `old` into `alertItem(migratedAlert(old))`: SET every attribute of the
 * current shape, REMOVE the legacy ones (and a `firedAt` that is not a time), if it still lacks `state`.
 */
export function migrationUpdate(table: string, old: Item) {
  const current = alertItem(migratedAlert(old));
  const names: Record<string, string> = { '#key': 'alertId', '#state': 'state' };
  const values: Record<string, unknown> = {};
  const set: string[] = [];
  for (const [i, [name, value]] of Object.entries(current).filter(([name]) => !KEY_ATTRIBUTES.has(name)).entries()) {
    names[`#s${i}`] = name;
    values[`:s${i}`] = value;
    set.push(`#s${i} = :s${i}`);
  }
  const removed: string[] = [...LEGACY_ATTRIBUTES];
  if (old.firedAt !== undefined && current.firedAt === undefined) removed.push('firedAt');
  const remove = removed.map((name, i) => {
    names[`#r${i}`] = name;
    return `#r${i}`;
  });
  return {
    TableName: table,
    Key: { username: old.username, alertId: old.alertId },
    UpdateExpression: `SET ${set.join(', ')} REMOVE ${remove.join(', ')}`,
    ConditionExpression: 'attribute_exists(#key) AND attribute_not_exists(#state)',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** Scans the alerts table (page by page) and rewrites every old-shape alert. */
export async function migrateAlerts(client: DynamoDBClient, prefix: string, options: AlertMigrationOptions = {}): Promise<AlertMigrationResult> {
  const log = options.log ?? (() => {});
  const table = tableNames(prefix).priceAlerts;
  const doc = DynamoDBDocumentClient.from(client);
  const result: AlertMigrationResult = { found: 0, migrated: 0, skipped: 0 };
  let start: Record<string, unknown> | undefined;
  do {
    const page = await retryTransient(() =>
      doc.send(
        new ScanCommand({
          TableName: table,
          // Filtered server-side: the scan still reads every item, but only old ones come back.
          FilterExpression: 'attribute_not_exists(#state) AND NOT begins_with(#key, :hash)',
          ExpressionAttributeNames: { '#state': 'state', '#key': 'alertId' },
          ExpressionAttributeValues: { ':hash': '#' },
          ExclusiveStartKey: start,
          Limit: options.pageSize,
          // A write made just before the run is seen; the update's condition guards the rest.
          ConsistentRead: true,
        }),
      ),
    );
    const legacy = (page.Items ?? []).filter(isLegacyAlertItem);
    result.found += legacy.length;
    await eachLimited(legacy, options.concurrency ?? 16, async (old) => {
      if (await updateUnlessChanged(doc, migrationUpdate(table, old))) result.migrated++;
      else result.skipped++;
    });
    start = page.LastEvaluatedKey;
  } while (start);
  log(
    result.found
      ? `migrated ${result.migrated} alert(s) in ${table} to the current shape` +
          (result.skipped ? ` (${result.skipped} changed or deleted meanwhile, left alone)` : '')
      : `alerts in ${table} are all in the current shape`,
  );
  return result;
}

/** The update; false when its condition failed (someone else wrote the item first). */
async function updateUnlessChanged(doc: DynamoDBDocumentClient, input: ReturnType<typeof migrationUpdate>): Promise<boolean> {
  try {
    await retryTransient(() => doc.send(new UpdateCommand(input)));
    return true;
  } catch (error) {
    if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}
