/**
 * Event intake: each interaction is claimed once in the store and turned into the core's terms
 * (mapping.ts). A slash command goes to the dispatcher as a structured command (commands.ts) and
 * is answered within Discord's 3 seconds: directly when the core is quick, otherwise deferred and
 * then edited. A button press is looked up and taken through the store (core/buttons.ts) and
 * updates its message in place. Autocomplete offers coins.
 *
 * Who sees what: replies the core marks private are ephemeral, and in a DM everything is. A
 * deferral must say at once whether the answer will be ephemeral, so a command that is sensitive
 * or answers privately is deferred ephemeral in a server; should a public deferral still end in a
 * private answer, the placeholder says so and the answer follows ephemerally.
 */
import {
  MessageFlags,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type InteractionEditReplyOptions,
  type InteractionUpdateOptions,
  type RepliableInteraction,
} from 'discord.js';
import type { Core } from '../../core/app';
import type { ButtonLookup, ChatButtons } from '../../core/buttons';
import type { DispatchResult, IncomingCommand, StructuredCommand } from '../../core/dispatcher';
import type { RichMessage } from '../../core/messages';
import type { Logger } from '../../core/ports';
import { answersEphemerally, autocompleteRequest, coinChoices, commandFromInteraction } from './commands';
import { administersChannel, buttonOf, chatRefOf, identityOf, interactionData, ownerOf, snowflakeTime } from './mapping';
import { codeOf, DiscordCodes, errorSummary, type Replies } from './replies';

/** Discord sends an interaction once; a resumed gateway may replay one. Tokens last 15 minutes. */
const INTERACTION_CLAIM_MS = 60 * 60_000;
const AUTOCOMPLETE_LIMIT = 25;

export interface InteractionIntakeOptions {
  core: Core;
  logger: Logger;
  now: () => number;
  buttons: ChatButtons;
  replies: Replies;
  /** How long the core may take before the answer is deferred (Discord wants one within 3 s). */
  deferAfterMs: number;
}

export interface InteractionIntake {
  /** Handles one interaction; never rejects. */
  handle(interaction: Interaction): Promise<void>;
  /** Refuses new interactions from now on (stopping), answering them with a short note. */
  close(): void;
  /** Waits for the interactions being handled (at most `timeoutMs`). */
  drain(timeoutMs: number): Promise<void>;
}

const PRIVATE_NOTE = '📬 The answer is for you alone: I sent it to you privately, just below.';

export function createInteractionIntake(options: InteractionIntakeOptions): InteractionIntake {
  const { core, logger, now, buttons, replies, deferAfterMs } = options;
  const handlers = new Set<Promise<unknown>>();
  let closed = false;

  const logOf = (interaction: Interaction) => ({ interactionId: interaction.id, userId: interaction.user.id, channelId: interaction.channelId });

  const LATE = Symbol('late');
  /** What `work` gives, or LATE when it is not done `deferAfterMs` after `startedAt` (when the
   *  handling began: the store calls before the core count too). */
  async function byDeadline<T>(work: Promise<T>, startedAt: number): Promise<T | typeof LATE> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<typeof LATE>((resolve) => (timer = setTimeout(() => resolve(LATE), Math.max(0, startedAt + deferAfterMs - Date.now()))));
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The core's answer, or undefined when it is late and the interaction must be deferred. */
  async function quickly(running: Promise<DispatchResult>, startedAt: number): Promise<DispatchResult | undefined> {
    const result = await byDeadline(running, startedAt);
    return result === LATE ? undefined : result;
  }

  /**
   * Work done before the core runs (the store's claim, a button's lookup): when it is not done
   * `deferAfterMs` after `startedAt`, the interaction is deferred first, so a slow store never
   * makes the bot miss Discord's 3 seconds. Nothing is deferred once the interaction is answered.
   */
  async function beforeDeadline<T>(interaction: RepliableInteraction, work: Promise<T>, startedAt: number, defer: () => Promise<unknown>): Promise<T> {
    if (interaction.deferred || interaction.replied) return work;
    const first = await byDeadline(work, startedAt);
    if (first !== LATE) return first;
    work.catch(() => undefined); // reported below, once the deferral is out
    await defer();
    return work;
  }

  const claimKey = (interaction: Interaction) => `discord-interaction:${interaction.applicationId}:${interaction.id}`;

  /** Claims the interaction in the store, not in memory: a replayed interaction is recognised
   *  after a restart and by another instance, for every command (not only those the core keeps
   *  from running twice). False when it was handled before. */
  async function claim(interaction: Interaction): Promise<boolean> {
    const claimed = await core.services.store.claimOnce(claimKey(interaction), now() + INTERACTION_CLAIM_MS);
    if (!claimed) logger.info(logOf(interaction), 'discord interaction delivered again: ignored');
    return claimed;
  }

  type Delivery = { messageId: string; confirmed?: boolean } & ({ text: string } | { command: StructuredCommand });
  function dispatch(interaction: Interaction, input: Delivery): Promise<DispatchResult> {
    return core.dispatcher.dispatch({
      ...input,
      identity: identityOf(interaction.user),
      chat: chatRefOf(interaction),
      sentAt: snowflakeTime(interaction.id),
      canConfirm: true,
      // The member's permissions come with the interaction: no API call, and never stale.
      isChatAdmin: interaction.guildId ? async () => administersChannel(interaction.memberPermissions?.bitfield) : undefined,
    } as IncomingCommand);
  }

  /** A short ephemeral answer that is not the core's (a refused press, an expired button). */
  async function note(interaction: RepliableInteraction, text: string, tone: RichMessage['tone'] = 'info'): Promise<void> {
    const payload = replies.asReply(await replies.render({ tone, text }, undefined, { ephemeral: true }), true);
    if (interaction.deferred || interaction.replied) await interaction.followUp(payload);
    else await interaction.reply(payload);
  }

  /** A private answer where the public message is already there (a public deferral, a button on
   *  a public message): that message says so, and the answer follows for the caller alone. */
  async function answerPrivately(interaction: RepliableInteraction, editPublic: (payload: InteractionEditReplyOptions & InteractionUpdateOptions) => Promise<unknown>, message: RichMessage, owner: string): Promise<void> {
    await editPublic(replies.asEdit(await replies.render({ tone: 'info', text: PRIVATE_NOTE }, undefined, { ephemeral: false })));
    await interaction.followUp(replies.asReply(await replies.render(message, owner, { ephemeral: true }), true));
  }

  async function handleCommand(interaction: ChatInputCommandInteraction, startedAt: number): Promise<void> {
    const dm = !interaction.guildId;
    const owner = ownerOf(interaction.user);
    const command = commandFromInteraction(core.registry, interactionData(interaction));
    // Known before the answer exists, so a deferral says at once whether it is ephemeral.
    const deferEphemeral = dm || !command || answersEphemerally(core.registry, command.name);
    const defer = () => interaction.deferReply(deferEphemeral ? { flags: MessageFlags.Ephemeral } : {});
    if (!(await beforeDeadline(interaction, claim(interaction), startedAt, defer))) return;
    if (!command) {
      // A command registered by another version of the bot: the menu refreshes at the next start.
      await note(interaction, 'I do not know that command (my command list may be out of date). /help lists what I can do.', 'error');
      return;
    }
    const running = dispatch(interaction, { command, messageId: interaction.id });
    const early = interaction.deferred ? undefined : await quickly(running, startedAt);
    if (early) {
      const ephemeral = deferEphemeral || early.message.private === true;
      await interaction.reply(replies.asReply(await replies.render(early.message, owner, { ephemeral }), ephemeral));
      return;
    }
    if (!interaction.deferred) await defer();
    const result = await running;
    if (result.message.private && !deferEphemeral) return answerPrivately(interaction, (payload) => interaction.editReply(payload), result.message, owner);
    await interaction.editReply(replies.asEdit(await replies.render(result.message, owner, { ephemeral: deferEphemeral })));
  }

  async function handleButton(interaction: ButtonInteraction, startedAt: number): Promise<void> {
    const presser = ownerOf(interaction.user);
    const ref = buttonOf(interaction.customId);
    // The message the button is on, edited in place whether or not the press was deferred.
    const edit = (payload: InteractionUpdateOptions & InteractionEditReplyOptions) => (interaction.deferred ? interaction.editReply(payload) : interaction.update(payload));
    const defer = () => interaction.deferUpdate();
    const found: ButtonLookup | undefined = await beforeDeadline(
      interaction,
      (async () => ((await claim(interaction)) ? (ref ? await buttons.lookup(ref, presser) : { ok: false as const, reason: 'invalid' as const }) : undefined))(),
      startedAt,
      defer,
    );
    if (!found) return;
    if (!found.ok) {
      if (found.reason === 'used') return note(interaction, 'Already done.');
      if (found.reason === 'not-yours') return note(interaction, 'Only the person who sent the command can use these buttons.', 'warning');
      // Like Telegram: the dead buttons go, and the presser is told why.
      await edit({ components: [] });
      return note(interaction, found.reason === 'expired' ? 'This button has expired: send the command again.' : 'This button does not work any more: send the command again.', 'warning');
    }
    const { ref: pressed, button } = found;
    // The first press of the message's buttons, on any instance, takes them; the rest were too late.
    if (!(await beforeDeadline(interaction, buttons.take(pressed), startedAt, defer))) return note(interaction, 'Already done.');
    const sourceEphemeral = interaction.message.flags.has(MessageFlags.Ephemeral);
    if (button.kind === 'cancel') {
      const cancelled: RichMessage = { tone: 'info', text: `Cancelled: ${button.command} was not run. Nothing changed.` };
      await edit(replies.asEdit(await replies.render(cancelled, undefined, { ephemeral: sourceEphemeral })));
      return;
    }
    const running = dispatch(interaction, {
      text: button.command,
      // A confirmation is keyed by the prompt, so a second Confirm on it never trades again.
      messageId: button.kind === 'confirm' ? `confirm:${interaction.message.id}` : `button:${interaction.id}`,
      confirmed: button.kind === 'confirm',
    });
    const early = interaction.deferred ? undefined : await quickly(running, startedAt);
    if (!early && !interaction.deferred) await defer();
    const result = early ?? (await running);
    const note_ = button.kind === 'refresh' ? replies.updatedNote() : undefined;
    if (result.message.private && interaction.guildId && !sourceEphemeral) return answerPrivately(interaction, edit, result.message, presser);
    await edit(replies.asEdit(await replies.render(result.message, presser, { ephemeral: sourceEphemeral, note: note_ })));
  }

  async function handleAutocomplete(interaction: AutocompleteInteraction): Promise<void> {
    const request = autocompleteRequest(core.registry, interactionData(interaction) as never);
    if (!request?.coin) {
      await interaction.respond([]);
      return;
    }
    const choices = coinChoices(await core.services.coins.list(), request.typed);
    await interaction.respond(choices.slice(0, AUTOCOMPLETE_LIMIT));
  }

  async function run(interaction: Interaction): Promise<void> {
    if (interaction.isAutocomplete()) {
      await handleAutocomplete(interaction).catch(async (error) => {
        logger.warn({ ...logOf(interaction), ...errorSummary(error) }, 'discord autocomplete failed');
        if (!interaction.responded) await interaction.respond([]).catch(() => undefined);
      });
      return;
    }
    if (!interaction.isChatInputCommand() && !interaction.isButton()) return;
    if (closed) {
      await note(interaction, 'I am restarting: send that again in a moment.', 'warning').catch(() => undefined);
      return;
    }
    const startedAt = Date.now();
    try {
      // Each handler claims the interaction first (see claim), within the deadline.
      if (interaction.isChatInputCommand()) await handleCommand(interaction, startedAt);
      else await handleButton(interaction, startedAt);
    } catch (error) {
      const code = codeOf(error);
      const level = code === DiscordCodes.UnknownInteraction || code === DiscordCodes.AlreadyAcknowledged ? 'warn' : 'error';
      logger[level]({ ...logOf(interaction), ...errorSummary(error) }, 'discord interaction failed');
      // Tell the user when the interaction can still be answered; a late one cannot.
      if (code !== DiscordCodes.UnknownInteraction && code !== DiscordCodes.AlreadyAcknowledged) {
        await note(interaction, 'Something went wrong on our side. Please try again in a moment.', 'error').catch(() => undefined);
      }
    }
  }

  return {
    handle(interaction) {
      const task = run(interaction).catch((error) => logger.error({ ...logOf(interaction), ...errorSummary(error) }, 'discord interaction failed'));
      handlers.add(task);
      void task.finally(() => handlers.delete(task));
      return task;
    },
    close() {
      closed = true;
    },
    async drain(timeoutMs) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.allSettled([...handlers]), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    },
  };
}
