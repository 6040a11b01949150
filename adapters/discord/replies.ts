/**
 * Replies in Discord: the core's rich messages rendered as embeds and components (render.ts) whose
 * buttons are in the store before they can be pressed, and the shapes the interaction calls and
 * the REST routes take. Messages outside an interaction (a fired alert, a notice) go through the
 * client's REST manager, which keeps to Discord's rate-limit headers and waits out a 429.
 */
import { DiscordAPIError, MessageFlags, Routes, type Client, type InteractionEditReplyOptions, type InteractionReplyOptions, type InteractionUpdateOptions } from 'discord.js';
import type { ChatButtons } from '../../core/buttons';
import type { RichMessage } from '../../core/messages';
import type { Logger } from '../../core/ports';
import type { CommandRegistry } from '../../core/registry';
import { writeCommandsIn } from '../../core/command-text';
import { discordCommand } from './commands';
import { customIdOf } from './mapping';
import { renderDiscordMessage } from './render';

export type DiscordPayload = ReturnType<typeof renderDiscordMessage>;

/** Discord's JSON error codes the adapter acts on. */
export const DiscordCodes = {
  UnknownChannel: 10003,
  UnknownUser: 10013,
  UnknownInteraction: 10062,
  AlreadyAcknowledged: 40060,
  CannotSendToUser: 50007,
  MissingAccess: 50001,
} as const;

/** Short description of a Discord or network error for logs (never the request payload). */
export function errorSummary(error: unknown): Record<string, unknown> {
  if (error instanceof DiscordAPIError) return { status: error.status, code: error.code, description: error.message };
  const status = (error as { status?: unknown } | null)?.status;
  return { ...(typeof status === 'number' ? { status } : {}), error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
}

export const codeOf = (error: unknown): number | string | undefined => (error instanceof DiscordAPIError ? error.code : undefined);

export interface RepliesOptions {
  client: Client;
  buttons: ChatButtons;
  /** To write the commands a message names as Discord's slash commands (discordCommand). */
  registry: CommandRegistry;
  logger: Logger;
  now: () => number;
}

export interface Replies {
  /** Renders a reply; what its buttons do is in the store before it resolves. `owner` (an identity
   *  key) is who may press them: anyone when absent. */
  render(message: RichMessage, owner: string | undefined, options: { ephemeral: boolean; note?: string }): Promise<DiscordPayload>;
  /** A new interaction response (or follow-up). */
  asReply(payload: DiscordPayload, ephemeral: boolean): InteractionReplyOptions;
  /** An edit of the response or of the message a button was on: everything replaced, flags kept. */
  asEdit(payload: DiscordPayload): InteractionEditReplyOptions & InteractionUpdateOptions;
  /** Posts into a channel by id through REST. Throws Discord's error. */
  post(channelId: string, message: RichMessage, owner?: string): Promise<void>;
  /** The DM channel with a user, opened once per user for the life of the process. */
  dmChannel(userId: string): Promise<string>;
  /** A DM channel id that stopped working is opened again next time. */
  forgetDm(userId: string): void;
  /** "Updated 12:00:05 UTC", for a refreshed message. */
  updatedNote(): string;
}

export function createReplies({ client, buttons, now, registry }: RepliesOptions): Replies {
  const dms = new Map<string, string>();

  async function render(message: RichMessage, owner: string | undefined, options: { ephemeral: boolean; note?: string }): Promise<DiscordPayload> {
    const draft = buttons.draft(owner);
    const ids = new Map<number, string>();
    const shown = options.note ? { ...message, footer: message.footer ? `${message.footer} · ${options.note}` : options.note } : message;
    const payload = renderDiscordMessage(writeCommandsIn(shown, registry, discordCommand), {
      // Named once per button, whatever the renderer asks.
      buttonId: (button, index) => ids.get(index) ?? ids.set(index, customIdOf(draft.add(button))).get(index)!,
      ephemeral: options.ephemeral,
    });
    await draft.save();
    return payload;
  }

  const withoutEphemeral = (flags: number | undefined) => (flags === undefined ? undefined : flags & ~MessageFlags.Ephemeral);

  return {
    render,
    asReply(payload, ephemeral) {
      const flags = (withoutEphemeral(payload.flags as number | undefined) ?? 0) | (ephemeral ? MessageFlags.Ephemeral : 0);
      return {
        ...(payload.content !== undefined ? { content: payload.content } : {}),
        embeds: payload.embeds,
        components: payload.components,
        allowedMentions: payload.allowed_mentions,
        ...(flags ? { flags } : {}),
      } as InteractionReplyOptions;
    },
    asEdit(payload) {
      // Content is replaced too: an edit that leaves it out would keep the old text above the new embed.
      return { content: payload.content ?? '', embeds: payload.embeds, components: payload.components, allowedMentions: payload.allowed_mentions } as InteractionEditReplyOptions & InteractionUpdateOptions;
    },
    async post(channelId, message, owner) {
      const payload = await render(message, owner, { ephemeral: false });
      const body = { ...payload, flags: withoutEphemeral(payload.flags as number | undefined) || undefined };
      await client.rest.post(Routes.channelMessages(channelId), { body });
    },
    async dmChannel(userId) {
      const known = dms.get(userId);
      if (known) return known;
      // Straight over REST, not client.users.createDM: that builds a DMChannel, which needs the
      // logged-in client user, and pushes go out through a client that never logs in (bot.ts).
      const channel = (await client.rest.post(Routes.userChannels(), { body: { recipient_id: userId } })) as { id: string };
      dms.set(userId, channel.id);
      return channel.id;
    },
    forgetDm: (userId) => void dms.delete(userId),
    updatedNote: () => `Updated ${new Date(now()).toISOString().slice(11, 19)} UTC`,
  };
}
