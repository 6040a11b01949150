/**
 * How Discord things map to the core:
 *   identity   {platform: 'discord', userId: user.id}, key `discord:<user id>` (user ids are global
 *              on Discord, so no server id goes into it: one person is one identity everywhere)
 *   chat       {type: DM ? private : group, id: 'discord:<channel id>'}
 *   messageId  the interaction id, so an interaction delivered twice never trades twice; a
 *              Confirm press uses the prompt's message id; interaction ids are also claimed in the
 *              store, so a repeated delivery is not even answered twice
 *   sentAt     the interaction id's snowflake timestamp
 *   admins     in a server, whoever has Administrator, Manage Server or Manage Channels (the
 *              interaction's member.permissions, which already sum their roles and the channel's
 *              overwrites) administers the channel
 *   buttons    custom_id `cp:<token>`: only a handle, what the button does is kept by the core
 *              (core/buttons.ts) in the store, so a press works after a restart and on any instance;
 *              a press by anyone but the person the message answers is refused
 * A Discord user id is not a channel id: writing to a person opens a DM channel first (bot.ts).
 */
import type { APIApplicationCommandInteractionDataOption, APIChatInputApplicationCommandInteractionData, CommandInteractionOption, Interaction } from 'discord.js';
import { buttonToken, parseButtonToken, type ButtonRef } from '../../core/buttons';
import { addressOn } from '../../core/chat-adapter';
import type { ChatRef } from '../../core/context';
import { identityKey, type IdentityRef } from '../../core/domain';

export const DISCORD_EPOCH = 1_420_070_400_000n;
const SNOWFLAKE = /^\d{15,21}$/;

export const identityOf = (user: { id: string }): IdentityRef => ({ platform: 'discord', userId: user.id });
/** Who may press a message's buttons: the identity key of the person it answers. */
export const ownerOf = (user: { id: string }): string => identityKey(identityOf(user));
/** A DM (no guild) is the core's private chat; a guild channel (or thread) is a group. */
export const chatRefOf = (interaction: Pick<Interaction, 'channelId' | 'guildId'>): ChatRef => ({
  type: interaction.guildId ? 'group' : 'private',
  id: `discord:${interaction.channelId}`,
});

/** Administrator, Manage Channels, Manage Server (Discord's permission bits 3, 4, 5). */
const ADMIN_BITS = [1n << 3n, 1n << 4n, 1n << 5n];

/** Whether a member's permission bitfield (member.permissions, a decimal string on the wire)
 *  lets them administer the channel: any of the ADMIN_BITS. */
export function administersChannel(permissions: bigint | string | null | undefined): boolean {
  if (permissions === null || permissions === undefined) return false;
  let bits: bigint;
  try {
    bits = BigInt(permissions);
  } catch {
    return false;
  }
  return ADMIN_BITS.some((bit) => (bits & bit) === bit);
}

/** When a snowflake was made (ms since 1970). */
export function snowflakeTime(id: string): number {
  return Number((BigInt(id) >> 22n) + DISCORD_EPOCH);
}

/** The channel or user id in a platform-prefixed address (`discord:<id>`), or undefined when it is
 *  not a Discord snowflake. */
export function discordId(address: string): string | undefined {
  const local = addressOn('discord', address);
  return local !== undefined && SNOWFLAKE.test(local) ? local : undefined;
}

const CUSTOM_ID_PREFIX = 'cp:';
export const customIdOf = (ref: ButtonRef): string => `${CUSTOM_ID_PREFIX}${buttonToken(ref)}`;
/** The button a press names, or null when the custom_id is not one of ours. */
export function buttonOf(customId: string): ButtonRef | null {
  return customId.startsWith(CUSTOM_ID_PREFIX) ? parseButtonToken(customId.slice(CUSTOM_ID_PREFIX.length)) : null;
}

/** discord.js's parsed options back in the API's shape (name, type, value, nested options). */
function apiOption(option: CommandInteractionOption): APIApplicationCommandInteractionDataOption {
  return {
    name: option.name,
    type: option.type,
    ...(option.value !== undefined && option.value !== null ? { value: option.value } : {}),
    ...(option.options ? { options: option.options.map(apiOption) } : {}),
    ...(option.focused ? { focused: true } : {}),
  } as APIApplicationCommandInteractionDataOption;
}

/** A chat-input interaction's data as the API sent it, for the command mapping (commands.ts). */
export function interactionData(interaction: {
  commandId: string; commandName: string; commandGuildId: string | null; options: { data: readonly CommandInteractionOption[] };
}): APIChatInputApplicationCommandInteractionData {
  return {
    id: interaction.commandId,
    name: interaction.commandName,
    type: 1,
    ...(interaction.options.data.length ? { options: interaction.options.data.map(apiOption) } : {}),
    ...(interaction.commandGuildId ? { guild_id: interaction.commandGuildId } : {}),
  } as APIChatInputApplicationCommandInteractionData;
}
