/** Bounded parallelism: the store's batch writes, the outbox's destinations, the engine's state changes. */

/** Runs `task` over `items` with at most `limit` running at once; `worker` is the slot (0..limit-1). */
export async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T, worker: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async (_, worker) => {
      while (next < items.length) {
        const item = items[next++]!;
        try {
          await task(item, worker);
        } catch (error) {
          // The others carry on (their writes are independent); the first error is reported.
          failure ??= { error };
        }
      }
    }),
  );
  if (failure) throw failure.error;
}
