/**
 * What a paper trade really pays: not the market (mid) price but that price moved against the
 * trader by half the bid-ask spread and by slippage that grows with the trade's size, as on an
 * exchange where a bigger order eats further into the book. Market trades and triggered orders
 * pay the same way; every fill shows both prices.
 *
 *   cost (bps) = spread / 2 + min(maxSlippage, slippagePer10k x value / 10,000)
 *   buy price  = market x (1 + cost / 10,000)        sell price = market x (1 - cost / 10,000)
 *
 * where value is the trade's size in the base currency at the market price.
 */
import type { CoreConfig } from '../context';
import type { TradeSide } from '../domain';
import { Dec, dec } from '../money';

/** A fill price keeps this many significant digits: exact enough for any coin, and short. */
const PRICE_DIGITS = 12;
const BPS = new Dec(10_000);

export interface FillPrice {
  /** What the trade pays or gets per coin. */
  price: Dec;
  /** The market price it came from. */
  market: Dec;
  /** The two costs, in basis points. */
  spreadBps: Dec;
  slippageBps: Dec;
}

export type CostConfig = Pick<CoreConfig, 'spreadBps' | 'slippageBpsPer10k' | 'maxSlippageBps'>;

/** The price a trade worth about `value` (base currency, at the market price) gets. */
export function fillPrice(side: TradeSide, market: Dec, value: Dec, config: CostConfig): FillPrice {
  const spreadBps = dec(config.spreadBps).div(2);
  const slippageBps = Dec.min(dec(config.maxSlippageBps), dec(config.slippageBpsPer10k).mul(value).div(BPS));
  const move = spreadBps.plus(slippageBps).div(BPS);
  if (move.isZero()) return { price: market, market, spreadBps, slippageBps };
  const raw = side === 'buy' ? market.mul(move.plus(1)) : market.mul(new Dec(1).minus(move));
  // Rounded against the trader, so the costs shown are never understated.
  const price = raw.toSignificantDigits(PRICE_DIGITS, side === 'buy' ? Dec.ROUND_UP : Dec.ROUND_DOWN);
  return { price, market, spreadBps, slippageBps };
}

/** A limit order never does worse than its limit: a buy pays at most it, a sell gets at least it. */
export function withinLimit(fill: FillPrice, side: TradeSide, limit: Dec): FillPrice {
  const price = side === 'buy' ? Dec.min(fill.price, limit) : Dec.max(fill.price, limit);
  return { ...fill, price };
}

/** "0.05%" from basis points: up to four decimals, no trailing zeros. */
export function bpsAsPercent(bps: Dec): string {
  return `${bps.div(100).toDecimalPlaces(4, Dec.ROUND_HALF_UP).toFixed()}%`;
}
