/**
 * Prints the Slack app manifest (adapters/slack/manifest.ts) for your host, to paste into
 * api.slack.com/apps → Create New App → From a manifest:
 *   npm run slack:manifest -- --request-url https://<host>/slack/events [--command /pulse]
 * Without --request-url it prints the committed adapters/slack/manifest.yml (a placeholder URL);
 * --command defaults to SLACK_COMMAND from the environment, else /pulse. No token, no network.
 */
import { pathToFileURL } from 'node:url';
import { DEFAULT_SLASH_COMMAND, manifestYaml, slackManifest } from '../../adapters/slack/manifest';

const USAGE = 'Usage: npm run slack:manifest -- [--request-url https://<host>/slack/events] [--command /pulse]';

export function manifestFromArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): string {
  const options: { requestUrl?: string; command?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? argv[++i];
    if (value === undefined || (flag !== '--request-url' && flag !== '--command')) throw new Error(`Unknown or incomplete argument ${argv[i - (inline === undefined ? 1 : 0)] ?? flag}. ${USAGE}`);
    if (flag === '--request-url') options.requestUrl = value;
    else options.command = value;
  }
  return manifestYaml(slackManifest({ command: options.command ?? env.SLACK_COMMAND ?? DEFAULT_SLASH_COMMAND, requestUrl: options.requestUrl }));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.stdout.write(manifestFromArgs(process.argv.slice(2)));
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  }
}
