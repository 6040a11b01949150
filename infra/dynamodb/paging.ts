/**
 * Opaque page cursors: the DynamoDB key of the last item on the page (what LastEvaluatedKey would
 * be there), as base64url JSON. Decoding checks the shape, so a tampered or foreign cursor is a
 * clear error rather than a DynamoDB ValidationException or, worse, a page of someone else's data.
 */
import type { PageRequest } from '../../core/ports';

export type CursorKey = Record<string, string | number>;
export type CursorShape = Record<string, 'string' | 'number'>;

/** A page request's limit as a whole number of at least one. */
export function pageLimit(page: PageRequest): number {
  return Math.max(1, Math.floor(page.limit));
}

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** `fixed` pins attributes to expected values (the partition being paged, for instance). */
export function decodeCursor(cursor: string, shape: CursorShape, fixed: CursorKey = {}): CursorKey {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  const names = Object.keys(shape);
  const valid =
    typeof key === 'object' && key !== null && !Array.isArray(key) &&
    Object.keys(key).length === names.length &&
    names.every((name) => typeof (key as CursorKey)[name] === shape[name]) &&
    Object.entries(fixed).every(([name, value]) => (key as CursorKey)[name] === value);
  if (!valid) throw new Error('Invalid page cursor');
  return key as CursorKey;
}

/** The cursor for a page fetched with one extra item: present only when that extra item exists. */
export function nextCursor<T extends Record<string, unknown>>(items: T[], limit: number, keyOf: (item: T) => CursorKey): string | undefined {
  return items.length > limit ? encodeCursor(keyOf(items[limit - 1]!)) : undefined;
}
