/**
 * Builds the DynamoDB clients from configuration. Credentials are deliberately not configured
 * here: the SDK's default chain finds them (environment, shared files, the EC2 instance role in
 * production). Only tests against DynamoDB Local pass explicit dummy credentials.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface DynamoConnection {
  region: string;
  /** Overrides the regional endpoint, e.g. DynamoDB Local on http://127.0.0.1:8000. */
  endpoint?: string;
  /** Only for DynamoDB Local; leave unset to use the standard AWS credential chain. */
  credentials?: DynamoDBClientConfig['credentials'];
}

export interface DynamoClients {
  /** The low-level client (table administration). */
  raw: DynamoDBClient;
  /**
   * Plain JavaScript values in and out. Numbers come back as JS numbers, so money is never stored
   * as a Number except the stats counters, which the store reads through `raw` as exact strings.
   * (A second document client with other unmarshall options cannot share `raw`: `from()` writes its
   * options into the shared client config.)
   */
  doc: DynamoDBDocumentClient;
}

export function createClients(connection: DynamoConnection): DynamoClients {
  const config: DynamoDBClientConfig = {
    region: connection.region,
    // The SDK retries throttling and 5xx itself (standard mode); a few more attempts than the
    // default three ride out a burst. Transaction conflicts are retried by the store (retry.ts).
    maxAttempts: 5,
  };
  if (connection.endpoint) config.endpoint = connection.endpoint;
  if (connection.credentials) config.credentials = connection.credentials;
  const raw = new DynamoDBClient(config);
  return { raw, doc: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }) };
}
