/** The shared user journey (journey.ts) on Discord: the real discord.js adapter against the
 *  loopback Discord stand-in, in the person's DM with the bot, each line sent as the slash command
 *  and typed options their client would send. */
import { createDiscordBot } from '../../adapters/discord/bot';
import { parseArgs } from '../../core/dispatcher';
import { startDiscordStandin, type DiscordUser, type StandinInteraction, type StandinMessage } from '../support/discord-standin';
import { makeTestBot, silentLogger } from '../support/harness';
import { journeySuite, type JourneyDriver, type SeenMessage } from './journey';

type Reply = SeenMessage & { message: StandinMessage };

async function discordDriver(): Promise<JourneyDriver<DiscordUser, Reply>> {
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
  return {
    core,
    adapter,
    person: (name) => standin.user({ username: name }),
    async run(person, line) {
      // What the person's client sends for the line: the command and its options by name.
      const words = line.slice(1).split(/\s+/);
      const { command, consumed } = core.core.registry.resolve(words)!;
      const raw: Record<string, string> = {};
      const tokens = words.slice(consumed);
      Object.entries(command.args).forEach(([name, arg], i) => {
        const value = arg.rest ? tokens.slice(i).join(' ') : tokens[i];
        if (value) raw[name] = value;
      });
      if (!parseArgs(command, tokens).ok) throw new Error(`the journey's line ${line} is not valid`);
      const interaction = await standin.slash(person, 'dm', command.name, raw);
      last.set(person.id, interaction);
      return answerOf(interaction);
    },
    async press(person, reply, label) {
      const edits = reply.message.history.length;
      const button = standin.buttons(reply.message).find((b) => b.label === label)!;
      await standin.press(person, reply.message, button.customId!);
      return seen(await standin.waitFor(() => {
        const now = standin.message(reply.message.id)!;
        return now.history.length > edits && now;
      }));
    },
    async redeliverLast(person) {
      standin.dispatch('INTERACTION_CREATE', last.get(person.id)!.payload);
    },
    nextPushed: async (person) => seen(await standin.waitFor(() => standin.dms(person).find((m) => standin.textOf(m).includes('alert')))),
    async close() {
      await adapter.stop();
      await standin.close();
      await core.close();
    },
  };
}

journeySuite('Discord', discordDriver);
