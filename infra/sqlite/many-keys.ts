/**
 * Many-key lookups (accounts, identities, chat states by a list of keys) take their keys as one
 * JSON array: one bound variable, so SQLite's limit on variables never applies.
 */

/** Keys per many-key statement: bounds one statement's work and its JSON argument. */
const MANY_KEYS = 500;

/** Distinct `keys` as JSON arrays of at most MANY_KEYS, for `IN (SELECT value FROM json_each(?))`. */
export function jsonChunks(keys: string[]): string[] {
  const unique = [...new Set(keys)];
  const chunks: string[] = [];
  for (let i = 0; i < unique.length; i += MANY_KEYS) chunks.push(JSON.stringify(unique.slice(i, i + MANY_KEYS)));
  return chunks;
}
