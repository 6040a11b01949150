/** Assembles the core from its ports: the registry, the shared services, and the dispatcher. */
import { AttemptLimiter } from './attempt-limiter';
import { CoinCatalog } from './coin-catalog';
import { ALL_COMMANDS } from './commands';
import type { CoreConfig, Services } from './context';
import { Dispatcher } from './dispatcher';
import { CommandRegistry } from './registry';

/** The ports and configuration the core is built from; createCore adds the rest of Services. */
export type CoreDeps = Omit<Services, 'registry' | 'coins' | 'attempts'>;

export interface Core {
  services: Services;
  dispatcher: Dispatcher;
  registry: CommandRegistry;
}

export function createCore(deps: CoreDeps): Core {
  const registry = new CommandRegistry(ALL_COMMANDS);
  const services: Services = {
    ...deps,
    registry,
    coins: new CoinCatalog(deps.store, deps.prices, deps.clock),
    attempts: new AttemptLimiter(deps.store, deps.clock),
  };
  return { services, registry, dispatcher: new Dispatcher(services) };
}

export const DEFAULT_CORE_CONFIG: CoreConfig = {
  startBalance: '10000',
  feePercent: '0',
  maxQuoteAgeMs: 60_000,
  maxAlertsPerUser: 20,
  activityRetentionDays: 30,
  confirmTradesAbove: '1000',
  maxCommandAgeMs: 5 * 60_000,
  priceRefreshMs: 30_000,
  alertRearmPercent: '0.5',
  alertsPerMinute: 10,
  broadcastCooldownMs: 30 * 60_000,
  maxBroadcastsPerChat: 10,
  spreadBps: '10',
  slippageBpsPer10k: '1',
  maxSlippageBps: '50',
  maxOpenOrders: 20,
  maxOrderMs: 90 * 86_400_000,
};
