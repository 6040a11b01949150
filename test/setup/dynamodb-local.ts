/**
 * vitest global setup: one DynamoDB Local for the whole run, in memory on a free port. Test files
 * get its endpoint with `inject('dynamodbEndpoint')` and isolate themselves with table prefixes.
 *
 * No skipping: without Java or the jar this throws, and the run fails with the reason.
 */
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../support/dynamodb-local';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const local = await startDynamoDbLocal();
  project.provide('dynamodbEndpoint', local.endpoint);
  return () => local.stop();
}
