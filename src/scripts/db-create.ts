/**
 * Creates the DynamoDB tables (with their indexes, TTL settings and the default coins), or
 * whatever of them is missing, then migrates alerts saved by an earlier release into the current
 * item shape (infra/dynamodb/migrate-alerts.ts): safe to run on every deploy.
 *   npm run db:create
 * Uses TABLE_PREFIX, AWS_REGION and DYNAMODB_ENDPOINT from the environment (or .env); credentials
 * come from the standard AWS chain (the EC2 instance role in production).
 */
import 'dotenv/config';
import { ensureTables } from '../../infra/dynamodb/admin';
import { createClients } from '../../infra/dynamodb/client';
import { migrateAlerts } from '../../infra/dynamodb/migrate-alerts';
import { tableNames } from '../../infra/dynamodb/tables';
import { ConfigError, loadConfig } from '../config';

async function main(): Promise<void> {
  const config = loadConfig();
  const { raw } = createClients({ region: config.AWS_REGION, endpoint: config.DYNAMODB_ENDPOINT });
  const where = config.DYNAMODB_ENDPOINT ?? `region ${config.AWS_REGION}`;
  console.log(`DynamoDB tables with prefix "${config.TABLE_PREFIX}" at ${where}`);
  try {
    const log = (line: string) => console.log(`  ${line}`);
    await ensureTables(raw, config.TABLE_PREFIX, { log });
    // After the tables: the migrated items go into the indexes ensureTables has just made ACTIVE.
    await migrateAlerts(raw, config.TABLE_PREFIX, { log });
  } finally {
    raw.destroy();
  }
  console.log(`Ready: ${Object.values(tableNames(config.TABLE_PREFIX)).join(', ')}`);
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigError;
  console.error(known ? error.message : error);
  process.exit(known ? 2 : 1);
});
