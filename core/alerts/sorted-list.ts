/**
 * A sorted list for the alert matcher's per-coin indexes: entries ordered by (key, seq), kept in
 * chunks of a few hundred so that adding or removing one costs a binary search plus a short
 * splice however long the list grows (a coin may carry hundreds of thousands of alerts).
 *
 * Adds are buffered and sorted in batches, so building an index of a million alerts costs about
 * one sort rather than a million splices. `seq` must be unique within a list: it makes the order
 * total, so that an entry is found again by search when it is removed.
 */
export interface Keyed {
  readonly key: bigint | number;
  readonly seq: number;
}

export interface SortedListTuning {
  /** Target chunk length; a chunk that doubles it is split. */
  load: number;
  /** Adds buffered before they are merged in. */
  pendingMax: number;
}

const DEFAULT_TUNING: SortedListTuning = { load: 512, pendingMax: 256 };

function compare(a: Keyed, b: Keyed): number {
  if (a.key < b.key) return -1;
  if (a.key > b.key) return 1;
  return a.seq - b.seq;
}

/** The first index in sorted `items` whose entry is not before `entry`. */
function lowerBound<E extends Keyed>(items: readonly E[], entry: Keyed): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(items[mid]!, entry) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SortedList<E extends Keyed> {
  private chunks: E[][] = [];
  private pending: E[] = [];
  private sorted = 0;

  /** `tuning` is for tests, to reach chunk splits with few entries. */
  constructor(private readonly tuning: SortedListTuning = DEFAULT_TUNING) {}

  get size(): number {
    return this.sorted + this.pending.length;
  }

  add(entry: E): void {
    this.pending.push(entry);
    if (this.pending.length >= this.tuning.pendingMax) this.flush();
  }

  /** Removes this very entry (by identity); false when it is not in the list. */
  delete(entry: E): boolean {
    const waiting = this.pending.indexOf(entry);
    if (waiting >= 0) {
      // Pending entries are unordered: move the last one into the gap.
      this.pending[waiting] = this.pending[this.pending.length - 1]!;
      this.pending.pop();
      return true;
    }
    const c = this.chunkFor(entry);
    const chunk = this.chunks[c];
    if (!chunk) return false;
    const i = lowerBound(chunk, entry);
    if (chunk[i] !== entry) return false;
    chunk.splice(i, 1);
    this.sorted--;
    if (chunk.length === 0) this.chunks.splice(c, 1);
    return true;
  }

  /** Calls `visit` for each entry with key <= bound, in order. The list must not change meanwhile. */
  forEachUpTo(bound: bigint | number, visit: (entry: E) => void): void {
    this.flush();
    for (const chunk of this.chunks) {
      for (const entry of chunk) {
        if (entry.key > bound) return;
        visit(entry);
      }
    }
  }

  /** Appends to `out` each entry with key <= bound, in order; returns `out`. The hot path's
   *  form of forEachUpTo: no callback to allocate per call. */
  collectUpTo<O extends E[]>(bound: bigint | number, out: O): O {
    this.flush();
    for (const chunk of this.chunks) {
      for (let i = 0; i < chunk.length; i++) {
        const entry = chunk[i]!;
        if (entry.key > bound) return out;
        out.push(entry);
      }
    }
    return out;
  }

  /** Every entry, in order (tests and diagnostics). */
  toArray(): E[] {
    this.flush();
    return this.chunks.flat();
  }

  /** The chunk that holds, or would hold, `entry`: the first whose last entry is not before it. */
  private chunkFor(entry: Keyed): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (compare(chunk[chunk.length - 1]!, entry) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Sorts the buffered adds in (queries do it first anyway). */
  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending.sort(compare);
    this.pending = [];
    // A batch that is large against the list is merged in one pass (and the list re-chunked);
    // a small one goes in entry by entry. Either way an add costs O(log n) amortised.
    if (batch.length * 8 >= this.sorted) this.mergeAll(batch);
    else for (const entry of batch) this.insert(entry);
  }

  private insert(entry: E): void {
    const c = Math.min(this.chunkFor(entry), this.chunks.length - 1);
    const chunk = this.chunks[c]!;
    chunk.splice(lowerBound(chunk, entry), 0, entry);
    this.sorted++;
    const { load } = this.tuning;
    if (chunk.length >= 2 * load) this.chunks.splice(c, 1, chunk.slice(0, load), chunk.slice(load));
  }

  private mergeAll(batch: E[]): void {
    const merged: E[] = new Array(this.sorted + batch.length);
    let n = 0;
    let b = 0;
    for (const chunk of this.chunks) {
      for (const entry of chunk) {
        while (b < batch.length && compare(batch[b]!, entry) < 0) merged[n++] = batch[b++]!;
        merged[n++] = entry;
      }
    }
    while (b < batch.length) merged[n++] = batch[b++]!;
    this.chunks = [];
    const { load } = this.tuning;
    for (let i = 0; i < merged.length; i += load) this.chunks.push(merged.slice(i, i + load));
    this.sorted = merged.length;
  }
}
