/**
 * The core's Metrics port on prom-client, the standard Prometheus client for Node. Each instance
 * has its own Registry rather than prom-client's global one, so that two in one process (tests)
 * never share or double-register counters. Default process metrics (CPU, memory, event-loop lag,
 * GC) come with it. Every name starts with cryptopulse_.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CommandOutcome, Metrics } from '../../core/ports';

export interface PrometheusMetrics extends Metrics {
  readonly registry: Registry;
  /** The exposition text for a scrape, with its content type (text/plain; version=0.0.4). */
  scrape(): Promise<{ contentType: string; body: string }>;
}

/** Command latency: most commands take a few store round trips (ms on SQLite, ~10 ms each on
 *  DynamoDB); a slow one waits on CoinGecko or a confirmation email's queue. */
const COMMAND_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Upstream calls run up to the client's 10 s timeout. */
const UPSTREAM_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createPrometheusMetrics(options: { defaultMetrics?: boolean } = {}): PrometheusMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'cryptopulse_' });
  const registers = [registry];

  const commands = new Counter({
    name: 'cryptopulse_commands_total', help: 'Commands handled, by command and outcome (ok, user_error, denied, duplicate, error).',
    labelNames: ['command', 'outcome'] as const, registers,
  });
  const commandSeconds = new Histogram({
    name: 'cryptopulse_command_duration_seconds', help: 'Time from a command reaching the dispatcher to its answer.',
    labelNames: ['command'] as const, buckets: COMMAND_BUCKETS, registers,
  });
  const trades = new Counter({
    name: 'cryptopulse_trades_total', help: 'Paper trades committed: market trades and filled orders, by side.',
    labelNames: ['kind', 'side'] as const, registers,
  });
  const alerts = new Counter({ name: 'cryptopulse_alerts_fired_total', help: 'Price alerts and broadcast rules fired.', registers });
  const deliveries = new Counter({
    name: 'cryptopulse_deliveries_total', help: 'Pushed-message delivery attempts, by platform and outcome (sent, failed, gone, skipped).',
    labelNames: ['platform', 'outcome'] as const, registers,
  });
  const upstream = new Counter({
    name: 'cryptopulse_upstream_calls_total', help: 'HTTP calls to upstream services, by service and outcome.',
    labelNames: ['service', 'outcome'] as const, registers,
  });
  const upstreamSeconds = new Histogram({
    name: 'cryptopulse_upstream_call_duration_seconds', help: 'Time one upstream HTTP call took.',
    labelNames: ['service'] as const, buckets: UPSTREAM_BUCKETS, registers,
  });

  return {
    registry,
    commandDone(command: string, outcome: CommandOutcome, seconds: number) {
      commands.inc({ command, outcome });
      commandSeconds.observe({ command }, seconds);
    },
    tradeDone(kind, side) {
      trades.inc({ kind, side });
    },
    alertsFired(count) {
      // inc(0) is allowed, but a tick that fired nothing has nothing to add.
      if (count > 0) alerts.inc(count);
    },
    delivery(platform, outcome) {
      deliveries.inc({ platform, outcome });
    },
    upstreamCall(service, outcome, seconds) {
      upstream.inc({ service, outcome });
      upstreamSeconds.observe({ service }, seconds);
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
