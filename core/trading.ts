/**
 * The money rules of a trade, as pure functions of the portfolio the store hands in. They run
 * inside the store's atomic section, so they must not read anything else or cause side effects.
 *
 * Rules: cash is in cents (half-up), quantities to 8 decimals (rounded down when derived from
 * cash, so a purchase never costs more than was offered). The fee is a percentage of the trade's
 * value, in cents. A holding's cost basis is the cash paid for it, fees included; selling part of
 * a holding releases the same share of its basis, and the difference is realized profit or loss.
 *
 * Cash and coin held for open orders (Portfolio.reservedCash, Holding.reserved; core/orders) is
 * not available: a market trade spends and sells only what is free.
 */
import type { BuyOrder, SellOrder } from './args';
import type { Holding, OutboxMessage, Platform, Portfolio, Transaction } from './domain';
import type { PortfolioPlan, TradePlan } from './ports';
import { CASH_DECIMALS, Dec, ZERO, cash, dec, quantityDown, toStored } from './money';

export interface TradeTerms {
  transactionId: string;
  username: string;
  coinId: string;
  coinLabel: string;
  price: Dec;
  feePercent: Dec;
  timestamp: number;
  platform: Platform;
  /** Formats base-currency cash for the reasons given to the user. */
  money: (amount: Dec) => string;
  /** The market price `price` was derived from (spread and slippage, core/orders/pricing.ts). */
  marketPrice?: Dec;
  /** The order this trade fills. */
  orderId?: string;
}

/** Cash free to spend: the balance less what open buy orders hold. */
export const freeCash = (portfolio: Portfolio): Dec => dec(portfolio.cash).minus(portfolio.reservedCash ?? '0');
/** Coin free to sell: the holding less what open sell orders hold. */
export const freeQuantity = (holding: Holding | undefined): Dec => (holding ? dec(holding.quantity).minus(holding.reserved ?? '0') : ZERO);

/** " (X is held for open orders)" when some is, for the reasons given to the user. */
const heldNote = (held: Dec, what: string) => (held.gt(0) ? ` (${what} more is held for your open orders)` : '');

const fee = (amount: Dec, feePercent: Dec) => cash(amount.mul(feePercent).div(100));

export function planBuy(portfolio: Portfolio, order: BuyOrder, terms: TradeTerms): TradePlan {
  const { price, feePercent, money } = terms;
  const available = freeCash(portfolio);
  const reserved = dec(portfolio.reservedCash ?? '0');
  let quantity: Dec;
  if (order.kind === 'cash') {
    if (order.value.gt(available)) {
      return { ok: false, reason: `Not enough cash: you have ${money(available)} free and asked to spend ${money(order.value)}${heldNote(reserved, money(reserved))}.` };
    }
    // Leave room for the fee inside the amount offered.
    const net = order.value.div(feePercent.div(100).plus(1));
    quantity = quantityDown(net.div(price));
    const amount = cash(quantity.mul(price));
    if (amount.plus(fee(amount, feePercent)).gt(order.value)) {
      // The amount and the fee each round up by up to half a cent: size on the whole cents that,
      // with their fee, fit in what was offered (one or two steps down).
      let budget = net.toDecimalPlaces(CASH_DECIMALS, Dec.ROUND_DOWN);
      while (budget.gt(0) && budget.plus(fee(budget, feePercent)).gt(order.value)) budget = budget.minus('0.01');
      quantity = quantityDown(budget.div(price));
    }
  } else {
    quantity = order.value;
  }
  const amount = cash(quantity.mul(price));
  if (quantity.lte(0) || amount.lte(0)) {
    return { ok: false, reason: `That is too small a trade: it is worth less than ${money(new Dec('0.01'))} at ${money(price)} per ${terms.coinLabel}.` };
  }
  const tradeFee = fee(amount, feePercent);
  const total = amount.plus(tradeFee);
  if (total.gt(available)) {
    return { ok: false, reason: `Not enough cash: this costs ${money(total)}${tradeFee.gt(0) ? ` (fee included)` : ''} and you have ${money(available)} free${heldNote(reserved, money(reserved))}.` };
  }
  const held = portfolio.holdings[terms.coinId];
  const holding: Holding = {
    ...held,
    coinId: terms.coinId,
    quantity: toStored(dec(held?.quantity ?? '0').plus(quantity)),
    costBasis: toStored(dec(held?.costBasis ?? '0').plus(total)),
  };
  return {
    ok: true,
    portfolio: {
      ...portfolio,
      cash: toStored(dec(portfolio.cash).minus(total)),
      holdings: { ...portfolio.holdings, [terms.coinId]: holding },
      version: portfolio.version + 1,
    },
    transaction: transaction('buy', quantity, amount, tradeFee, terms),
  };
}

export function planSell(portfolio: Portfolio, order: SellOrder, terms: TradeTerms): TradePlan {
  const { price, feePercent } = terms;
  const held = portfolio.holdings[terms.coinId];
  const heldQuantity = dec(held?.quantity ?? '0');
  if (!held || heldQuantity.lte(0)) return { ok: false, reason: `You hold no ${terms.coinLabel}.` };
  const free = freeQuantity(held);
  const reserved = heldQuantity.minus(free);
  if (free.lte(0)) return { ok: false, reason: `All your ${heldQuantity.toFixed()} ${terms.coinLabel} is held for your open orders: cancel one to sell it now (/orders).` };

  const quantity =
    order.kind === 'all' ? free
    : order.kind === 'percent' ? quantityDown(free.mul(order.value).div(100))
    : order.value;
  if (quantity.lte(0)) {
    return { ok: false, reason: `That share of your ${free.toFixed()} ${terms.coinLabel} rounds to nothing.` };
  }
  if (quantity.gt(free)) {
    return { ok: false, reason: `You hold only ${free.toFixed()} ${terms.coinLabel} free to sell${heldNote(reserved, reserved.toFixed())}.` };
  }
  const sellsEverything = quantity.eq(heldQuantity);
  const amount = cash(quantity.mul(price));
  // Dust worth under a cent can still be cleared out with "sell all".
  if (amount.lte(0) && !sellsEverything) {
    return { ok: false, reason: `That is too small a trade: ${quantity.toFixed()} ${terms.coinLabel} is worth less than a cent.` };
  }
  const tradeFee = fee(amount, feePercent);
  const proceeds = amount.minus(tradeFee);
  const basis = dec(held.costBasis);
  const releasedBasis = sellsEverything ? basis : cash(basis.mul(quantity).div(heldQuantity));
  const holdings = { ...portfolio.holdings };
  if (sellsEverything) delete holdings[terms.coinId];
  else holdings[terms.coinId] = { ...held, quantity: toStored(heldQuantity.minus(quantity)), costBasis: toStored(basis.minus(releasedBasis)) };
  return {
    ok: true,
    portfolio: {
      ...portfolio,
      cash: toStored(dec(portfolio.cash).plus(proceeds)),
      holdings,
      realizedPnl: toStored(dec(portfolio.realizedPnl).plus(proceeds).minus(releasedBasis)),
      version: portfolio.version + 1,
    },
    transaction: transaction('sell', quantity, amount, tradeFee, terms),
  };
}

function transaction(type: 'buy' | 'sell', quantity: Dec, amount: Dec, tradeFee: Dec, terms: TradeTerms): Transaction {
  return {
    transactionId: terms.transactionId,
    username: terms.username,
    type,
    coinId: terms.coinId,
    quantity: toStored(quantity),
    price: toStored(terms.price),
    amount: toStored(amount),
    fee: toStored(tradeFee),
    timestamp: terms.timestamp,
    platform: terms.platform,
    ...(terms.marketPrice && { marketPrice: toStored(terms.marketPrice) }),
    ...(terms.orderId && { orderId: terms.orderId }),
  };
}

type Applied = { ok: true; portfolio: Portfolio; transaction?: Transaction; messages: OutboxMessage[] };

/**
 * Runs a store's plan against the current portfolio with the checks every store makes: the plan
 * must bump the version by one, stay within the account, and leave nothing negative and no
 * reservation larger than what it holds back; sold-out holdings are dropped and createdAt is kept.
 * Stores call this inside their atomic section (and again on each optimistic retry), which is
 * what makes the stamping below follow the commit order. The plan's outbox messages (a
 * confirmation email) come back in `messages` (empty when none), for the store to queue in the
 * same atomic step.
 */
export function applyPortfolioPlan(username: string, current: Portfolio, plan: (current: Portfolio) => PortfolioPlan): { ok: false; reason: string } | Applied {
  const decision = plan(current);
  if (!decision.ok) return decision;
  const next = decision.portfolio;
  if (next.version !== current.version + 1) {
    throw new Error(`Trade plan returned version ${next.version}, expected ${current.version + 1}`);
  }
  if (next.username !== username || (decision.transaction && decision.transaction.username !== username)) {
    throw new Error(`Trade plan for ${username} returned another account's records`);
  }
  checkReservations(next);
  const holdings = Object.fromEntries(Object.entries(next.holdings).filter(([, h]) => !dec(h.quantity).isZero()));
  const portfolio = { ...next, holdings, createdAt: current.createdAt };
  if (!decision.transaction) return { ok: true, portfolio: { ...portfolio, lastTradeAt: current.lastTradeAt }, messages: decision.messages ?? [] };
  // The plan's time was read before the atomic section, on one of possibly several processes'
  // clocks: a trade committed after another may carry an earlier time. Stamping each trade after
  // the account's previous one keeps the ledger's time order equal to its commit order, so
  // replaying /history never shows cash that was not there.
  const timestamp = Math.max(decision.transaction.timestamp, current.lastTradeAt + 1);
  return {
    ok: true,
    transaction: { ...decision.transaction, timestamp },
    portfolio: { ...portfolio, lastTradeAt: timestamp },
    messages: decision.messages ?? [],
  };
}

/** applyPortfolioPlan for a trade (Store.executeTrade): the plan must trade. */
export function applyPlan(username: string, current: Portfolio, plan: (current: Portfolio) => TradePlan):
  { ok: false; reason: string } | (Applied & { transaction: Transaction }) {
  const applied = applyPortfolioPlan(username, current, plan);
  if (applied.ok && !applied.transaction) throw new Error(`Trade plan for ${username} returned no transaction`);
  return applied as { ok: false; reason: string } | (Applied & { transaction: Transaction });
}

/** A plan that leaves cash or coin negative, or holds back more than there is, is a bug: the
 *  store refuses to write it. */
function checkReservations(p: Portfolio): void {
  const reservedCash = dec(p.reservedCash ?? '0');
  if (dec(p.cash).lt(0) || reservedCash.lt(0) || reservedCash.gt(p.cash)) {
    throw new Error(`Plan for ${p.username} leaves cash ${p.cash} with ${reservedCash.toFixed()} reserved`);
  }
  for (const h of Object.values(p.holdings)) {
    const reserved = dec(h.reserved ?? '0');
    if (dec(h.quantity).lt(0) || reserved.lt(0) || reserved.gt(h.quantity)) {
      throw new Error(`Plan for ${p.username} leaves ${h.quantity} ${h.coinId} with ${reserved.toFixed()} reserved`);
    }
  }
}

/** Cash and holdings that a list of transactions implies: the ledger, for reconciliation. */
export function replayLedger(startCash: string, transactions: Transaction[]): { cash: Dec; holdings: Map<string, Dec> } {
  let balance = dec(startCash);
  const holdings = new Map<string, Dec>();
  for (const t of transactions) {
    const sign = t.type === 'buy' ? 1 : -1;
    balance = t.type === 'buy' ? balance.minus(t.amount).minus(t.fee) : balance.plus(t.amount).minus(t.fee);
    holdings.set(t.coinId, (holdings.get(t.coinId) ?? ZERO).plus(dec(t.quantity).mul(sign)));
  }
  for (const [coin, q] of holdings) if (q.isZero()) holdings.delete(coin);
  return { cash: balance, holdings };
}
