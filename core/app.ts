/** Assembles the core from its ports: the registry, the shared services, and the dispatcher. */
import { AttemptLimiter } from './attempt-limiter';
import { CoinCatalog } from './coin-catalog';
import { ALL_COMMANDS } from './commands';
import type { CoreConfig, Services } from './context';
import { Dispatcher } from './dispatcher';
import { CommandRegistry } from './registry';

/** The ports and configuration the core is built from; createCore adds the rest of Services. */
export type CoreDeps = Omit<Services, 'registry' | 'coins' | 'loginAttempts' | 'emailChanges'>;

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
    loginAttempts: new AttemptLimiter(deps.clock, 5, 15 * 60_000),
    emailChanges: new AttemptLimiter(deps.clock, 3, 24 * 60 * 60_000),
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
};
