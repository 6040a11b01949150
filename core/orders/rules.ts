/**
 * The money rules of limit and stop orders, as pure functions of the portfolio the store hands in
 * (they run inside Store.changeOrder's atomic section, like core/trading.ts's plans).
 *
 * Placing an order holds back what it needs, so that a market trade cannot spend it meanwhile:
 *   buy by cash ($250)       the cash itself (the fee comes out of it, as for a market buy);
 *   buy by quantity (0.5)    its cost at the limit price plus the fee; a stop buy's at the stop
 *                            price after spread and slippage (a price that gaps higher takes the
 *                            rest from free cash, or the order cannot fill and ends);
 *   sell                     the quantity (a share or "all" of what is free, fixed when placed).
 * Filling releases the hold and trades through planBuy/planSell; cancelling or expiring releases it.
 */
import type { BuyOrder, SellOrder } from '../args';
import type { OrderTerms, Platform, Portfolio, PriceAlert, TradeSide } from '../domain';
import { UserError } from '../errors';
import { Dec, cash, dec, quantityDown, toStored } from '../money';
import type { PortfolioPlan, TradePlan } from '../ports';
import { freeCash, freeQuantity, planBuy, planSell, type TradeTerms } from '../trading';
import { fillPrice, withinLimit, type CostConfig, type FillPrice } from './pricing';

export type OrderType = OrderTerms['type'];

/** Which way the price must cross the trigger for the order to fire, as an alert condition:
 *  a limit buy and a stop sell wait for the price to fall to it, the others for it to rise. */
export function triggerCondition(side: TradeSide, type: OrderType): 'above' | 'below' {
  return (side === 'buy') === (type === 'limit') ? 'below' : 'above';
}

export interface TermsInput {
  side: TradeSide;
  type: OrderType;
  amount: BuyOrder | SellOrder;
  /** The limit or stop price, in the base currency. */
  trigger: Dec;
  coinId: string;
  coinLabel: string;
  feePercent: Dec;
  costs: CostConfig;
  money: (amount: Dec) => string;
  platform: Platform;
}

const feeOn = (amount: Dec, feePercent: Dec) => cash(amount.mul(feePercent).div(100));

/**
 * The order's terms (what it trades and holds back), from the portfolio as it is now: a share or
 * "all" of a holding becomes the quantity free now. The placement plan checks the hold again
 * inside the atomic step. Throws a UserError for an order that could never fill.
 */
export function orderTerms(portfolio: Portfolio, input: TermsInput): OrderTerms {
  const { side, type, amount, trigger, feePercent, money, coinLabel, platform } = input;
  if (side === 'buy') {
    const order = amount as BuyOrder;
    if (order.kind === 'cash') {
      const net = order.value.div(feePercent.div(100).plus(1));
      if (quantityDown(net.div(trigger)).lte(0)) throw new UserError(`${money(order.value)} buys less than 0.00000001 ${coinLabel} at ${money(trigger)}: offer more.`);
      return { side, type, amount: { kind: 'cash', value: toStored(order.value) }, reserved: toStored(order.value), platform };
    }
    // The most it can cost: a limit buy pays at most its limit; a stop buy about the stop price
    // with the costs of a market buy of that size.
    const worst = type === 'limit' ? trigger : fillPrice('buy', trigger, order.value.mul(trigger), input.costs).price;
    const value = cash(order.value.mul(worst));
    if (value.lte(0)) throw new UserError(`That is too small an order: it is worth less than ${money(new Dec('0.01'))}.`);
    return { side, type, amount: { kind: 'quantity', value: toStored(order.value) }, reserved: toStored(value.plus(feeOn(value, feePercent))), platform };
  }
  const order = amount as SellOrder;
  const free = freeQuantity(portfolio.holdings[input.coinId]);
  if (free.lte(0)) throw new UserError(portfolio.holdings[input.coinId] ? `All your ${coinLabel} is already held for open orders (/orders).` : `You hold no ${coinLabel}.`);
  const quantity = order.kind === 'all' ? free : order.kind === 'percent' ? quantityDown(free.mul(order.value).div(100)) : order.value;
  if (quantity.lte(0)) throw new UserError(`That share of your ${free.toFixed()} ${coinLabel} rounds to nothing.`);
  if (cash(quantity.mul(trigger)).lte(0)) throw new UserError(`That is too small an order: ${quantity.toFixed()} ${coinLabel} is worth less than a cent at ${money(trigger)}.`);
  return { side, type, amount: { kind: 'quantity', value: toStored(quantity) }, reserved: toStored(quantity), platform };
}

/** Holds back what the order needs, or refuses when it is not free (any more). */
export function placementPlan(order: PriceAlert, money: (amount: Dec) => string, coinLabel: string) {
  const terms = order.order!;
  return (portfolio: Portfolio): PortfolioPlan => {
    const need = dec(terms.reserved);
    if (terms.side === 'buy') {
      const free = freeCash(portfolio);
      if (need.gt(free)) return { ok: false, reason: `Not enough free cash: this order holds back ${money(need)} and you have ${money(free)} free.` };
      return { ok: true, portfolio: { ...portfolio, reservedCash: toStored(dec(portfolio.reservedCash ?? '0').plus(need)), version: portfolio.version + 1 } };
    }
    const holding = portfolio.holdings[order.coinId];
    const free = freeQuantity(holding);
    if (!holding || need.gt(free)) return { ok: false, reason: `You have only ${free.toFixed()} ${coinLabel} free to sell.` };
    const reserved = toStored(dec(holding.reserved ?? '0').plus(need));
    return { ok: true, portfolio: { ...portfolio, holdings: { ...portfolio.holdings, [order.coinId]: { ...holding, reserved } }, version: portfolio.version + 1 } };
  };
}

/** The portfolio with the order's hold given back (same version: the caller's plan bumps it). */
export function released(portfolio: Portfolio, order: PriceAlert): Portfolio {
  const terms = order.order!;
  if (terms.side === 'buy') {
    return { ...portfolio, reservedCash: toStored(dec(portfolio.reservedCash ?? '0').minus(terms.reserved)) };
  }
  const holding = portfolio.holdings[order.coinId];
  if (!holding) return portfolio;
  // Never below zero while holds and orders agree; if they did not, the store's check refuses
  // the plan (core/trading.ts applyPortfolioPlan) rather than this hiding it.
  const left = dec(holding.reserved ?? '0').minus(terms.reserved);
  const { reserved: _dropped, ...rest } = holding;
  return { ...portfolio, holdings: { ...portfolio.holdings, [order.coinId]: left.isZero() ? rest : { ...rest, reserved: toStored(left) } } };
}

/** Cancelling or expiring: the hold is given back. */
export function releasePlan(order: PriceAlert) {
  return (portfolio: Portfolio): PortfolioPlan => ({ ok: true, portfolio: { ...released(portfolio, order), version: portfolio.version + 1 } });
}

/** The price an order fills at when the market is at `market`: a market trade's fill price,
 *  kept within a limit order's limit. */
export function orderFillPrice(order: PriceAlert, market: Dec, costs: CostConfig): FillPrice {
  const terms = order.order!;
  const value = terms.amount.kind === 'cash' ? dec(terms.amount.value) : dec(terms.amount.value).mul(market);
  const fill = fillPrice(terms.side, market, value, costs);
  return terms.type === 'limit' ? withinLimit(fill, terms.side, dec(order.targetPrice!)) : fill;
}

/** Filling: the hold is given back and the trade made from it, in one plan. `terms.price` is
 *  orderFillPrice's. A fill that is no longer possible (a stop buy whose price gapped past what
 *  the cash covers) is rejected with the reason, and the caller ends the order. */
export function fillPlan(order: PriceAlert, terms: TradeTerms) {
  const amount = order.order!.amount;
  return (portfolio: Portfolio): TradePlan => {
    const free = released(portfolio, order);
    return order.order!.side === 'buy'
      ? planBuy(free, { kind: amount.kind, value: dec(amount.value) }, terms)
      : planSell(free, { kind: 'quantity', value: dec(amount.value) }, terms);
  };
}
