/**
 * One coin's recent prices, for move alerts ("5% in 1h"): the samples the matcher was given,
 * oldest first, trimmed to the longest window any move alert on the coin has needed.
 */
export interface PriceSample {
  at: number;
  price: string;
}

/** A baseline found for a window: the price as given and its scaled value (./scaled.ts). */
export interface Baseline {
  at: number;
  price: string;
  scaled: bigint;
}

export class PriceHistory {
  // Parallel arrays from `head` on; the dropped front is cut off once it is half the arrays, so
  // trimming is amortised O(1) per sample.
  private at: number[] = [];
  private text: string[] = [];
  private scaled: bigint[] = [];
  private head = 0;

  get length(): number {
    return this.at.length - this.head;
  }

  /** Appends a sample. Times must not go backwards: an earlier `at` is recorded as the latest
   *  time seen, so that the samples stay ordered for search. */
  record(at: number, price: string, scaled: bigint): void {
    const last = this.at[this.at.length - 1];
    this.at.push(last !== undefined && at < last ? last : at);
    this.text.push(price);
    this.scaled.push(scaled);
  }

  /** Drops the samples taken before `since`. */
  trim(since: number): void {
    this.head = this.firstAtOrAfter(since);
    if (this.head > 64 && this.head * 2 > this.at.length) {
      this.at = this.at.slice(this.head);
      this.text = this.text.slice(this.head);
      this.scaled = this.scaled.slice(this.head);
      this.head = 0;
    }
  }

  /** The earliest sample at or after `since`, unless that is the latest sample (the current
   *  price alone shows no move). */
  baseline(since: number): Baseline | undefined {
    const i = this.firstAtOrAfter(since);
    if (i >= this.at.length - 1) return undefined;
    return { at: this.at[i]!, price: this.text[i]!, scaled: this.scaled[i]! };
  }

  samples(): PriceSample[] {
    const out: PriceSample[] = [];
    for (let i = this.head; i < this.at.length; i++) out.push({ at: this.at[i]!, price: this.text[i]! });
    return out;
  }

  private firstAtOrAfter(since: number): number {
    let lo = this.head;
    let hi = this.at.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at[mid]! < since) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
