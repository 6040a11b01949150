/** Fiat currencies a user may choose for display. The ledger itself stays in the base currency. */
export const FIAT_CURRENCIES = {
  usd: { symbol: '$', name: 'US dollar', decimals: 2 },
  eur: { symbol: '€', name: 'Euro', decimals: 2 },
  gbp: { symbol: '£', name: 'British pound', decimals: 2 },
  jpy: { symbol: '¥', name: 'Japanese yen', decimals: 0 },
  inr: { symbol: '₹', name: 'Indian rupee', decimals: 2 },
  cad: { symbol: 'CA$', name: 'Canadian dollar', decimals: 2 },
  aud: { symbol: 'A$', name: 'Australian dollar', decimals: 2 },
  chf: { symbol: 'CHF ', name: 'Swiss franc', decimals: 2 },
  cny: { symbol: 'CN¥', name: 'Chinese yuan', decimals: 2 },
  brl: { symbol: 'R$', name: 'Brazilian real', decimals: 2 },
  krw: { symbol: '₩', name: 'South Korean won', decimals: 0 },
  sgd: { symbol: 'S$', name: 'Singapore dollar', decimals: 2 },
} as const;

export type FiatCode = keyof typeof FIAT_CURRENCIES;
export const FIAT_CODES = Object.keys(FIAT_CURRENCIES) as FiatCode[];

export function isFiatCode(code: string): code is FiatCode {
  return Object.hasOwn(FIAT_CURRENCIES, code);
}
