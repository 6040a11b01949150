/**
 * Runs tasks one at a time per key, in arrival order, within this process.
 *
 * The store's trades are optimistic (a condition on the portfolio's version), which is correct
 * across any number of instances but wasteful when one instance races itself: N concurrent trades
 * on one account would cost O(N^2) attempts. Queueing them per account here leaves only
 * cross-instance races to the optimistic retry.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    // Forget idle keys so the map does not grow with every account ever seen.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
