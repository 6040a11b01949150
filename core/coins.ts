import type { Coin } from './domain';

/**
 * The twenty coins tracked out of the box, keyed by CoinGecko id, with reference prices in USD
 * (late 2025) that seed the simulated feed when CoinGecko cannot be reached.
 */
export const DEFAULT_COINS: ReadonlyArray<Coin & { referencePriceUsd: string }> = [
  { id: 'bitcoin', symbol: 'btc', name: 'Bitcoin', referencePriceUsd: '87000' },
  { id: 'ethereum', symbol: 'eth', name: 'Ethereum', referencePriceUsd: '2900' },
  { id: 'tether', symbol: 'usdt', name: 'Tether', referencePriceUsd: '1.00' },
  { id: 'binancecoin', symbol: 'bnb', name: 'BNB', referencePriceUsd: '850' },
  { id: 'solana', symbol: 'sol', name: 'Solana', referencePriceUsd: '135' },
  { id: 'ripple', symbol: 'xrp', name: 'XRP', referencePriceUsd: '2.10' },
  { id: 'usd-coin', symbol: 'usdc', name: 'USDC', referencePriceUsd: '1.00' },
  { id: 'cardano', symbol: 'ada', name: 'Cardano', referencePriceUsd: '0.42' },
  { id: 'dogecoin', symbol: 'doge', name: 'Dogecoin', referencePriceUsd: '0.15' },
  { id: 'tron', symbol: 'trx', name: 'TRON', referencePriceUsd: '0.28' },
  { id: 'avalanche-2', symbol: 'avax', name: 'Avalanche', referencePriceUsd: '14' },
  { id: 'shiba-inu', symbol: 'shib', name: 'Shiba Inu', referencePriceUsd: '0.0000085' },
  { id: 'polkadot', symbol: 'dot', name: 'Polkadot', referencePriceUsd: '2.50' },
  { id: 'chainlink', symbol: 'link', name: 'Chainlink', referencePriceUsd: '13' },
  { id: 'bitcoin-cash', symbol: 'bch', name: 'Bitcoin Cash', referencePriceUsd: '540' },
  { id: 'litecoin', symbol: 'ltc', name: 'Litecoin', referencePriceUsd: '85' },
  { id: 'near', symbol: 'near', name: 'NEAR Protocol', referencePriceUsd: '1.80' },
  { id: 'uniswap', symbol: 'uni', name: 'Uniswap', referencePriceUsd: '6.20' },
  { id: 'stellar', symbol: 'xlm', name: 'Stellar', referencePriceUsd: '0.25' },
  { id: 'monero', symbol: 'xmr', name: 'Monero', referencePriceUsd: '400' },
];

/** Base-currency (USD) to fiat reference rates for the simulated feed. */
export const REFERENCE_FIAT_RATES: Readonly<Record<string, string>> = {
  usd: '1', eur: '0.86', gbp: '0.76', jpy: '156', inr: '89', cad: '1.40',
  aud: '1.54', chf: '0.80', cny: '7.10', brl: '5.35', krw: '1470', sgd: '1.30',
};
