/**
 * Writes the CloudFormation template (infra/deploy/template.ts) as JSON, offline: no AWS account,
 * credentials or network.
 *   npm run infra:template -- --output DIR
 * writes DIR/cryptopulse.template.json (DIR is created) and prints its path; deploy it with
 *   aws cloudformation deploy --template-file DIR/cryptopulse.template.json --stack-name cryptopulse \
 *     --capabilities CAPABILITY_IAM --parameter-overrides RepositoryUrl=https://... VpcId=... SubnetIds=...
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildTemplate } from '../../infra/deploy/template';

export const TEMPLATE_FILE = 'cryptopulse.template.json';
const USAGE = `Usage: npm run infra:template -- --output DIR   (writes DIR/${TEMPLATE_FILE})`;

export class UsageError extends Error {}

/** The output directory from the arguments; undefined for --help. */
export function outputDirFromArgs(argv: string[]): string | undefined {
  let output: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    if (flag === '--help' || flag === '-h') return undefined;
    if (flag !== '--output' && flag !== '-o') throw new UsageError(`Unknown argument ${argv[i]}. ${USAGE}`);
    output = inline ?? argv[++i];
    if (!output) throw new UsageError(`--output needs a directory. ${USAGE}`);
  }
  if (!output) throw new UsageError(`No --output given. ${USAGE}`);
  return output;
}

/** Writes the template into `dir` (created if missing) and returns the file's path. */
export function writeTemplate(dir: string): string {
  const path = join(resolve(dir), TEMPLATE_FILE);
  mkdirSync(resolve(dir), { recursive: true });
  writeFileSync(path, `${JSON.stringify(buildTemplate(), null, 2)}\n`);
  return path;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const dir = outputDirFromArgs(process.argv.slice(2));
    if (dir === undefined) console.log(USAGE);
    else console.log(writeTemplate(dir));
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(error instanceof UsageError ? 2 : 1);
  }
}
