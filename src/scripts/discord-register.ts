/**
 * Registers the bot's slash commands with Discord: one bulk overwrite built from the command
 * registry, so Discord's menu always matches the declarations (commands no longer declared go).
 *   npm run discord:register             # global commands (can take a while to show everywhere)
 *   npm run discord:register -- --print  # the exact JSON it would send; no token, no network
 * Reads DISCORD_TOKEN and DISCORD_APPLICATION_ID through the configuration (src/config.ts, so the
 * environment or .env); DISCORD_GUILD_ID registers in that server only (shown at once, for
 * development); DISCORD_API_URL points at another API base (a proxy, the tests' stand-in).
 */
import 'dotenv/config';
import { pathToFileURL } from 'node:url';
import { REST } from 'discord.js';
import { ALL_COMMANDS } from '../../core/commands';
import { CommandRegistry } from '../../core/registry';
import { applicationCommands, registerCommands } from '../../adapters/discord/commands';
import { ConfigError, loadConfig } from '../config';

export { registerCommands };

/** Discord's API base; the REST client adds the version (/v10). */
export const DEFAULT_DISCORD_API = 'https://discord.com/api';

async function main(argv: string[]): Promise<void> {
  const unknown = argv.filter((a) => a !== '--print');
  if (unknown.length) throw new ConfigError(`Unknown argument ${unknown[0]}. Usage: npm run discord:register [-- --print]`);
  const registry = new CommandRegistry(ALL_COMMANDS);
  if (argv.includes('--print')) {
    process.stdout.write(`${JSON.stringify(applicationCommands(registry), null, 2)}\n`);
    return;
  }
  const config = loadConfig();
  if (!config.DISCORD_TOKEN || !config.DISCORD_APPLICATION_ID) {
    throw new ConfigError('DISCORD_TOKEN and DISCORD_APPLICATION_ID are required (both from the Developer Portal); --print shows the commands without them.');
  }
  const rest = new REST({ api: config.DISCORD_API_URL ?? DEFAULT_DISCORD_API }).setToken(config.DISCORD_TOKEN);
  const guildId = config.DISCORD_GUILD_ID;
  const stored = await registerCommands({ rest, applicationId: config.DISCORD_APPLICATION_ID, guildId, registry });
  const where = guildId ? `in server ${guildId}` : 'globally (they can take a while to show everywhere)';
  console.log(`Registered ${stored.length} commands ${where}: ${stored.map((c) => `/${c.name}`).join(' ')}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    const known = error instanceof ConfigError;
    console.error(known ? error.message : error);
    process.exit(known ? 2 : 1);
  });
}
