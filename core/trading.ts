/**
 * The money rules of a trade, as pure functions of the portfolio the store hands in. They run
 * inside the store's atomic section, so they must not read anything else or cause side effects.
 *
 * Rules: cash is in cents (half-up), quantities to 8 decimals (rounded down when derived from
 * cash, so a purchase never costs more than was offered). The fee is a percentage of the trade's
 * value, in cents. A holding's cost basis is the cash paid for it, fees included; selling part of
 * a holding releases the same share of its basis, and the difference is realized profit or loss.
 */
import type { BuyOrder, SellOrder } from './args';
import type { Holding, OutboxMessage, Platform, Portfolio, Transaction } from './domain';
import type { TradePlan } from './ports';
import { Dec, ZERO, cash, dec, quantityDown, toStored } from './money';

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
}

const fee = (amount: Dec, feePercent: Dec) => cash(amount.mul(feePercent).div(100));

export function planBuy(portfolio: Portfolio, order: BuyOrder, terms: TradeTerms): TradePlan {
  const { price, feePercent, money } = terms;
  const available = dec(portfolio.cash);
  let quantity: Dec;
  if (order.kind === 'cash') {
    if (order.value.gt(available)) {
      return { ok: false, reason: `Not enough cash: you have ${money(available)} and asked to spend ${money(order.value)}.` };
    }
    // Leave room for the fee inside the amount offered.
    const net = order.value.div(feePercent.div(100).plus(1));
    quantity = quantityDown(net.div(price));
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
    return { ok: false, reason: `Not enough cash: this costs ${money(total)}${tradeFee.gt(0) ? ` (fee included)` : ''} and you have ${money(available)}.` };
  }
  const held = portfolio.holdings[terms.coinId];
  const holding: Holding = {
    coinId: terms.coinId,
    quantity: toStored(dec(held?.quantity ?? '0').plus(quantity)),
    costBasis: toStored(dec(held?.costBasis ?? '0').plus(total)),
  };
  return {
    ok: true,
    portfolio: {
      ...portfolio,
      cash: toStored(available.minus(total)),
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

  const quantity =
    order.kind === 'all' ? heldQuantity
    : order.kind === 'percent' ? quantityDown(heldQuantity.mul(order.value).div(100))
    : order.value;
  if (quantity.lte(0)) {
    return { ok: false, reason: `That share of your ${heldQuantity.toFixed()} ${terms.coinLabel} rounds to nothing.` };
  }
  if (quantity.gt(heldQuantity)) {
    return { ok: false, reason: `You hold only ${heldQuantity.toFixed()} ${terms.coinLabel}.` };
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
  else holdings[terms.coinId] = { coinId: terms.coinId, quantity: toStored(heldQuantity.minus(quantity)), costBasis: toStored(basis.minus(releasedBasis)) };
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
  };
}

/**
 * Runs a store's trade plan against the current portfolio with the checks every store makes:
 * the plan must bump the version by one and stay within the account; sold-out holdings are
 * dropped and createdAt is kept. Stores call this inside their atomic section (and again on each
 * optimistic retry), which is what makes the stamping below follow the commit order. The plan's
 * outbox messages (a confirmation email) come back in `messages` (empty when none), for the store
 * to queue in the same atomic step.
 */
export function applyPlan(username: string, current: Portfolio, plan: (current: Portfolio) => TradePlan):
  { ok: false; reason: string } | { ok: true; portfolio: Portfolio; transaction: Transaction; messages: OutboxMessage[] } {
  const decision = plan(current);
  if (!decision.ok) return decision;
  if (decision.portfolio.version !== current.version + 1) {
    throw new Error(`Trade plan returned version ${decision.portfolio.version}, expected ${current.version + 1}`);
  }
  if (decision.portfolio.username !== username || decision.transaction.username !== username) {
    throw new Error(`Trade plan for ${username} returned another account's records`);
  }
  const holdings = Object.fromEntries(Object.entries(decision.portfolio.holdings).filter(([, h]) => !dec(h.quantity).isZero()));
  // The plan's time was read before the atomic section, on one of possibly several processes'
  // clocks: a trade committed after another may carry an earlier time. Stamping each trade after
  // the account's previous one keeps the ledger's time order equal to its commit order, so
  // replaying /history never shows cash that was not there.
  const timestamp = Math.max(decision.transaction.timestamp, current.lastTradeAt + 1);
  return {
    ok: true,
    transaction: { ...decision.transaction, timestamp },
    portfolio: { ...decision.portfolio, holdings, createdAt: current.createdAt, lastTradeAt: timestamp },
    messages: decision.messages ?? [],
  };
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
