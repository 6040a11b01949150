/**
 * The Fear and Greed index from FEAR_GREED_URL, in alternative.me's format
 * (GET https://api.alternative.me/fng/ ->
 *  {"data":[{"value":"54","value_classification":"Neutral","timestamp":"1732579200"}]}).
 *
 * The index changes once a day, so a reading is kept ten minutes: /market in a busy group asks
 * once, not once per user. Anything wrong (slow, down, a changed format) is logged and answered
 * with null, and /market says the index is unavailable rather than failing as a whole.
 */
import { z } from 'zod';
import type { Clock, FearGreedReading, Logger, SentimentSource } from '../../core/ports';

export interface FearGreedSourceOptions {
  url: string;
  clock: Clock;
  logger?: Logger;
  /** Default 5000. */
  timeoutMs?: number;
  /** Default ten minutes. */
  cacheMs?: number;
}

/** The source writes numbers as strings; both are accepted. */
const integerText = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(Number);
const answerSchema = z.object({
  data: z.array(z.object({
    value: integerText.pipe(z.number().max(100)),
    value_classification: z.string().min(1).max(40),
    timestamp: integerText,
  })).min(1),
});

export class FearGreedSource implements SentimentSource {
  private readonly url: string;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly timeoutMs: number;
  private readonly cacheMs: number;
  private cached: { reading: FearGreedReading; fetchedAt: number } | undefined;
  private inFlight: Promise<FearGreedReading | null> | undefined;

  constructor(options: FearGreedSourceOptions) {
    this.url = options.url;
    this.clock = options.clock;
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.cacheMs = options.cacheMs ?? 10 * 60_000;
  }

  fearGreed(): Promise<FearGreedReading | null> {
    const cached = this.cached;
    if (cached && this.clock.now() - cached.fetchedAt < this.cacheMs) return Promise.resolve(cached.reading);
    // Callers arriving while a fetch runs share it.
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async fetch(): Promise<FearGreedReading | null> {
    try {
      const response = await fetch(this.url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(this.timeoutMs) });
      const text = await response.text();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const parsed = answerSchema.safeParse(JSON.parse(text));
      if (!parsed.success) throw new Error(`unexpected answer: ${parsed.error.issues[0]?.message ?? ''}`);
      const latest = parsed.data.data[0]!;
      const reading: FearGreedReading = { value: latest.value, classification: latest.value_classification, at: latest.timestamp * 1000 };
      this.cached = { reading, fetchedAt: this.clock.now() };
      return reading;
    } catch (error) {
      // A slightly old reading beats none: the index moves once a day.
      this.logger?.warn({ err: error instanceof Error ? error.message : String(error), url: this.url }, this.cached ? 'fear and greed index unavailable; using the last reading' : 'fear and greed index unavailable');
      return this.cached?.reading ?? null;
    }
  }
}
