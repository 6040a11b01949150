/**
 * pino, JSON in production and readable in a terminal. Secrets are redacted by key wherever they
 * appear in a logged object, so a token or password passed along by mistake never reaches a log.
 */
import pino, { type Logger as PinoLogger } from 'pino';

const REDACTED_KEYS = ['password', 'passwordHash', 'token', 'apiKey', 'secret', 'authorization'];

export function redactPaths(): string[] {
  return REDACTED_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]).concat([
    'headers["x-cg-demo-api-key"]', 'headers["x-cg-pro-api-key"]', '*.headers["x-cg-demo-api-key"]', '*.headers["x-cg-pro-api-key"]',
  ]);
}

export interface LoggerOptions {
  level: string;
  pretty: boolean;
  /** Where lines go; standard error by default so the terminal chat keeps standard output. */
  destination?: pino.DestinationStream;
}

export function createLogger({ level, pretty, destination }: LoggerOptions): PinoLogger {
  const options: pino.LoggerOptions = { level, redact: { paths: redactPaths(), censor: '[redacted]' } };
  if (destination) return pino(options, destination);
  if (pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, ignore: 'pid,hostname' } } });
  }
  return pino(options, pino.destination(2));
}
