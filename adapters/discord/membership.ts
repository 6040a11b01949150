/**
 * Whether the bot can still post in a server's channels, told to the store as soon as Discord
 * tells the bot (the Guilds intent brings these events), so that pushes (which consult the store,
 * on every instance) skip a channel at once instead of finding out by a refused post:
 *   GUILD_DELETE without `unavailable`  the bot left or was removed from the server: each of its
 *                                       channels (threads included) is marked unreachable;
 *   GUILD_DELETE with `unavailable`     an outage on Discord's side: nothing is marked (discord.js
 *                                       emits guildUnavailable then, not guildDelete);
 *   CHANNEL_DELETE / THREAD_DELETE      that channel or thread is marked;
 *   GUILD_CREATE after the bot is ready the bot joined (again): its channels' marks are cleared.
 * Addresses are `discord:<channel id>` (mapping.ts). The store only knows the addresses pushes
 * used, but a removed server's channels are all marked, since which of them were used is not known
 * here; marking is cheap and a mark is only ever read for an address a push names.
 */
import { Events, GatewayDispatchEvents, type Channel, type Client, type Guild } from 'discord.js';
import type { Logger, Store } from '../../core/ports';
import { errorSummary } from './replies';

export const REMOVED_FROM_SERVER = 'the bot was removed from the server';
export const CHANNEL_DELETED = 'the channel was deleted';

export interface MembershipWatch {
  /** Waits for the store writes under way (at most `timeoutMs`). */
  drain(timeoutMs: number): Promise<void>;
}

/** Channels a push could post in: text channels, voice channels' chat, threads; not categories. */
const postable = (channel: Channel) => channel.isTextBased();
const addressOf = (channelId: string) => `discord:${channelId}`;

export function watchMembership(options: { client: Client; store: Store; logger: Logger; now: () => number }): MembershipWatch {
  const { client, store, logger, now } = options;
  const tasks = new Set<Promise<void>>();
  /** A removed server's channels, read before discord.js drops them from its cache. */
  const leaving = new Map<string, string[]>();

  function track(what: Record<string, unknown>, work: () => Promise<void>): void {
    const task = work().catch((error) => logger.warn({ ...what, ...errorSummary(error) }, 'could not record whether discord channels are reachable'));
    tasks.add(task);
    void task.finally(() => tasks.delete(task));
  }

  const channelsOf = (guild: Guild) => [...guild.channels.cache.values()].filter(postable).map((c) => c.id);

  // discord.js empties guild.channels.cache before it emits guildDelete, so the channels are read
  // from the cache when the packet arrives (the gateway manager's event comes before its handler).
  client.ws.on(GatewayDispatchEvents.GuildDelete, (data: { id?: string; unavailable?: boolean }) => {
    if (!data?.id || data.unavailable) return;
    const guild = client.guilds.cache.get(data.id);
    if (guild) leaving.set(guild.id, channelsOf(guild));
  });

  client.on(Events.GuildDelete, (guild) => {
    const channels = leaving.get(guild.id) ?? channelsOf(guild);
    leaving.delete(guild.id);
    // An outage is not a removal (discord.js reports it as guildUnavailable; kept as a guard).
    if (guild.available === false) return;
    logger.info({ guildId: guild.id, channels: channels.length }, 'discord bot removed from a server: its channels are marked unreachable');
    track({ guildId: guild.id }, async () => {
      const at = now();
      for (const id of channels) await store.markUnreachable(addressOf(id), REMOVED_FROM_SERVER, at);
    });
  });

  const onDeleted = (channel: Channel) => {
    if (!postable(channel)) return;
    track({ channelId: channel.id }, () => store.markUnreachable(addressOf(channel.id), CHANNEL_DELETED, now()));
  };
  client.on(Events.ChannelDelete, onDeleted);
  client.on(Events.ThreadDelete, onDeleted);

  // Emitted for a server the bot joins while connected (not for those announced at start, nor for
  // one coming back from an outage, which is guildAvailable).
  client.on(Events.GuildCreate, (guild) => {
    const addresses = channelsOf(guild).map(addressOf);
    track({ guildId: guild.id }, async () => {
      if (!addresses.length) return;
      const states = await store.getChatStates(addresses);
      const marked = [...states.values()].filter((s) => s.unreachableSince !== undefined).map((s) => s.address);
      for (const address of marked) await store.clearUnreachable(address);
      if (marked.length) logger.info({ guildId: guild.id, cleared: marked.length }, 'discord bot added to a server again: its channels are reachable');
    });
  });

  return {
    async drain(timeoutMs) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.allSettled([...tasks]), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    },
  };
}
