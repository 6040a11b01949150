/**
 * Keyset pagination for the SQLite store. A cursor is the sort key of the last row returned, as
 * base64url JSON. Pages are fetched with one extra row to learn whether another page exists, so
 * `next` is absent on the last page.
 */
import type { Page, PageRequest } from '../../core/ports';

export type CursorKey = (string | number)[];

export function pageLimit(page: PageRequest): number {
  return Math.max(1, Math.floor(page.limit));
}

export function toPage<R, T>(rows: R[], limit: number, map: (row: R) => T, key: (row: R) => CursorKey): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  if (rows.length <= limit || last === undefined) return { items: items.map(map) };
  return { items: items.map(map), next: Buffer.from(JSON.stringify(key(last))).toString('base64url') };
}

export function decodeCursor<const K extends readonly ('string' | 'number')[]>(
  cursor: string,
  shape: K,
): { [I in keyof K]: K[I] extends 'string' ? string : number } {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  if (!Array.isArray(key) || key.length !== shape.length || key.some((v, i) => typeof v !== shape[i])) {
    throw new Error('Invalid page cursor');
  }
  return key as never;
}
