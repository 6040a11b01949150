/**
 * An HTTP Retry-After header in milliseconds: delta-seconds ("30") or an HTTP date, which is
 * measured from `now`. Undefined when absent or unreadable, so the caller falls back to its own
 * backoff. Shared by the CoinGecko and exchange clients.
 */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  const trimmed = header?.trim();
  if (!trimmed) return undefined;
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
