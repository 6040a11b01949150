/** The shared user journey (journey.ts) and group journey (group-journey.ts) on Discord: the real
 *  discord.js adapter against the loopback Discord stand-in, each line sent as the slash command
 *  and typed options the person's client would send, in their DM with the bot or in a server's
 *  text channel. A server's administrators are members whose permissions in the interaction
 *  include Manage Channels. */
import { describe, expect, it } from 'vitest';
import { createDiscordBot } from '../../adapters/discord/bot';
import { parseArgs } from '../../core/dispatcher';
import {
  MEMBER_PERMISSIONS, Permission, startDiscordStandin,
  type DiscordStandin, type DiscordUser, type StandinChannel, type StandinGuild, type StandinInteraction, type StandinMessage,
} from '../support/discord-standin';
import { makeTestBot, silentLogger } from '../support/harness';
import { groupJourneySuite, type GroupJourneyDriver } from './group-journey';
import { journeySuite, type SeenMessage } from './journey';

type Reply = SeenMessage & { message: StandinMessage };

/** A server the bot is in, and the channel the journey happens in. */
interface Server {
  guild: StandinGuild;
  channel: StandinChannel;
}

type DiscordDriver = GroupJourneyDriver<DiscordUser, Server> & { standin: DiscordStandin };

async function discordDriver(): Promise<DiscordDriver> {
  const core = await makeTestBot();
  const standin = await startDiscordStandin({ now: () => core.clock.now(), heartbeatIntervalMs: 60_000 });
  const adapter = createDiscordBot({
    token: standin.token, applicationId: standin.applicationId, apiUrl: standin.api, core: core.core, logger: silentLogger,
    tuning: { restOffsetMs: 0, identifyThrottle: false },
  });
  await adapter.start();
  const last = new Map<string, StandinInteraction>();
  const seen = (message: StandinMessage): Reply => ({ message, text: standin.textOf(message), buttons: standin.buttons(message).map((b) => b.label ?? '') });
  /** The answer once it is there (not a "thinking..." placeholder). */
  const answerOf = async (interaction: StandinInteraction) => seen(await standin.waitFor(() => {
    const original = standin.original(interaction);
    return original && !original.loading && (original.embeds.length || original.content) ? original : undefined;
  }));
  /** What the person's client sends for the line, where they type it: the command and its options by name. */
  const slash = async (person: DiscordUser, where: StandinChannel | 'dm', line: string) => {
    const words = line.slice(1).split(/\s+/);
    const { command, consumed } = core.core.registry.resolve(words)!;
    const raw: Record<string, string> = {};
    const tokens = words.slice(consumed);
    Object.entries(command.args).forEach(([name, arg], i) => {
      const value = arg.rest ? tokens.slice(i).join(' ') : tokens[i];
      if (value) raw[name] = value;
    });
    if (!parseArgs(command, tokens).ok) throw new Error(`the journey's line ${line} is not valid`);
    const interaction = await standin.slash(person, where, command.name, raw);
    last.set(person.id, interaction);
    return answerOf(interaction);
  };
  const person = (name: string) => standin.user({ username: name });
  let servers = 0;
  return {
    core,
    adapter,
    standin,
    person,
    run: (who, line) => slash(who, 'dm', line),
    async press(who, reply, label) {
      const edits = reply.message.history.length;
      const button = standin.buttons(reply.message).find((b) => b.label === label)!;
      await standin.press(who, reply.message, button.customId!);
      return seen(await standin.waitFor(() => {
        const now = standin.message(reply.message.id)!;
        return now.history.length > edits && now;
      }));
    },
    async redeliverLast(who) {
      standin.dispatch('INTERACTION_CREATE', last.get(who.id)!.payload);
    },
    nextPushed: async (who, containing = 'alert') => seen(await standin.waitFor(() => standin.dms(who).find((m) => standin.textOf(m).includes(containing)))),

    group(name) {
      const guild = standin.guild({ name: `${name} ${++servers}`, channels: [name.toLowerCase()] });
      return { guild, channel: guild.channels[0]! };
    },
    admin({ guild }, name) {
      const who = person(name);
      standin.join(guild, who, { permissions: MEMBER_PERMISSIONS | Permission.ManageChannels });
      return who;
    },
    member({ guild }, name) {
      const who = person(name);
      standin.join(guild, who);
      return who;
    },
    runIn: (who, where, line) => slash(who, where === 'dm' ? 'dm' : where.channel, line),
    address: ({ channel }) => `discord:${channel.id}`,
    // Messages everyone in the channel sees: the bot's, not ephemeral (answers to a command are
    // there too; the journey counts what a price check added).
    posts: ({ channel }) => standin.messages(channel.id).filter((m) => m.author.id === standin.botUser.id && !m.ephemeral).map(seen),
    postAttempts: ({ channel }) => standin.requests.filter((r) => r.route === 'POST /channels/:id/messages' && r.path.includes(`/channels/${channel.id}/`)).length,
    dms: (who) => standin.dms(who).map(seen),
    removeBot({ guild }) {
      guild.botMember = false; // kicked from the server: its channels answer 403 Missing Access
    },
    async close() {
      await adapter.stop();
      await standin.close();
      await core.close();
    },
  };
}

journeySuite('Discord', discordDriver);
groupJourneySuite('Discord', discordDriver);

describe('limit and stop orders in the Discord menu', () => {
  it('/buy and /sell take the order words as an optional `order` option; /orders and /order cancel are there', async () => {
    const driver = await discordDriver();
    try {
      const command = (name: string) => driver.standin.commands().find((c) => c.name === name);
      for (const side of ['buy', 'sell']) {
        const options = command(side)!.options!.map((o) => ({ name: o.name, type: o.type, required: Boolean(o.required) }));
        // STRING (3): "at 80000 for 7d" arrives as typed, the core parses it.
        expect(options).toEqual([
          { name: 'coin', type: 3, required: true },
          { name: 'amount', type: 3, required: true },
          { name: 'order', type: 3, required: false },
        ]);
      }
      expect(command('orders')).toBeDefined();
      expect(command('order')!.options!.map((o) => [o.name, o.type])).toEqual([['cancel', 1]]); // a sub-command
      // A market buy still works without the option.
      const who = driver.person('fay');
      await driver.run(who, '/signup fay fay@example.com');
      expect((await driver.run(who, '/buy eth 0.1')).text).toContain('Bought 0.1 ETH');
    } finally {
      await driver.close();
    }
  });
});
