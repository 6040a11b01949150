/**
 * The app's Home tab: each time a user opens it (app_home_opened, tab 'home') the bot publishes
 * (views.publish) a fresh view for that user. Nothing in it is computed here: the core answers
 * `/start` (the welcome, or "welcome back"), and for a caller who trades `/portfolio` (cash,
 * holdings, total, P&L) and `/alerts`, dispatched for the user's identity like any command with a
 * fresh message id; each answer is rendered with render.ts, commands written the Slack way
 * ("/pulse signup"). A user with no linked account sees the welcome, which says how to
 * `/pulse signup` or `/pulse link`.
 *
 * The Home tab has no response_url, so answers' buttons (Refresh, paging) are left out: opening
 * the tab again refreshes it. The view keeps to Slack's 100 blocks. The event's view hash is sent
 * back, so a view published meanwhile (a second open) is not overwritten by an older one; Slack's
 * hash_conflict then means a view at least as fresh is already there. Nothing here throws: a
 * failure is logged, and the user sees a short "try again" view when one can still be published.
 */
import type { webApi } from '@slack/bolt';
import type { Core } from '../../core/app';
import { writeCommandsIn } from '../../core/command-text';
import { identityKey } from '../../core/domain';
import type { RichMessage } from '../../core/messages';
import type { Logger } from '../../core/ports';
import { chatRefOf, identityOf } from './mapping';
import { renderSlackMessage, slackCommandWriter, type SlackBlock } from './render';

/** Slack's limit on a Home view's blocks. */
export const HOME_VIEW_MAX_BLOCKS = 100;
export const HOME_CALLBACK_ID = 'cryptopulse_home';

export interface SlackHomeOptions {
  core: Core;
  logger: Logger;
  /** The app's slash command, for the commands the view names. Default /pulse. */
  command?: string;
}

/** What an app_home_opened event says, as far as the Home tab needs it. */
export interface HomeOpened {
  team: string;
  user: string;
  /** The DM channel with the bot (D…), when Slack gives it. */
  channel?: string;
  tab: string;
  /** The hash of the view the user saw, for views.publish. */
  hash?: string;
}

export type HomeBlock = SlackBlock | { type: 'divider' };

export interface HomeView {
  type: 'home';
  callback_id: string;
  blocks: HomeBlock[];
}

export interface SlackHome {
  /** The Home view for one user, built from the core's answers. */
  view(team: string, user: string, channel?: string): Promise<HomeView>;
  /** Handles app_home_opened: publishes the user's view. Never throws. */
  opened(event: HomeOpened, client: webApi.WebClient): Promise<void>;
}

type Body = Record<string, any>;

/** The event's parts (from Bolt's `event` and envelope `body`), or undefined when it is not one
 *  the Home tab answers (the Messages tab, or no user or team). */
export function homeOpenedOf(event: Body, body: Body): HomeOpened | undefined {
  const team = body?.team_id ?? event?.view?.team_id ?? body?.authorizations?.[0]?.team_id;
  const user = event?.user;
  const tab = event?.tab ?? 'home';
  if (typeof team !== 'string' || typeof user !== 'string' || tab !== 'home') return undefined;
  return {
    team, user, tab,
    ...(typeof event.channel === 'string' && event.channel ? { channel: event.channel } : {}),
    ...(typeof event.view?.hash === 'string' && event.view.hash ? { hash: event.view.hash } : {}),
  };
}

function errorSummary(error: unknown): Record<string, unknown> {
  const e = error as { code?: unknown; data?: { error?: unknown } } | null;
  return {
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(e?.data?.error ? { slackError: e.data.error } : {}),
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  };
}

/** The blocks, cut to the view's limit with a note when they would not fit. */
export function fitHomeBlocks(blocks: HomeBlock[], max = HOME_VIEW_MAX_BLOCKS): HomeBlock[] {
  if (blocks.length <= max) return blocks;
  return [...blocks.slice(0, max - 1), { type: 'context', elements: [{ type: 'mrkdwn', text: 'More is not shown here.', verbatim: true }] }];
}

export function createSlackHome(options: SlackHomeOptions): SlackHome {
  const { core, logger } = options;
  const slashCommand = options.command ?? '/pulse';
  const writer = slackCommandWriter(slashCommand);
  const portfolioCommand = core.registry.byExactName('portfolio');

  /** A core answer as blocks: commands written the Slack way, buttons left out (no response_url). */
  function blocksOf(message: RichMessage): HomeBlock[] {
    const shown = writeCommandsIn({ ...message, buttons: undefined }, core.registry, writer);
    return renderSlackMessage(shown, { actionId: () => { throw new Error('a Home view has no buttons'); } }).blocks;
  }

  async function view(team: string, user: string, channel?: string): Promise<HomeView> {
    const identity = identityOf(team, user);
    const chat = channel ? chatRefOf(team, channel) : { type: 'private' as const, id: `slack:${team}:home:${user}` };
    const ask = async (text: string) =>
      (await core.dispatcher.dispatch({ text, identity, chat, messageId: `home:${core.services.ids.next()}` })).message;

    const linked = await core.services.store.findIdentity(identityKey(identity));
    const account = linked ? await core.services.store.getAccount(linked.username) : null;
    const trades = Boolean(account && portfolioCommand && core.registry.allowed(portfolioCommand, account.role));

    const blocks: HomeBlock[] = [...blocksOf(await ask('/start'))];
    if (trades) {
      blocks.push({ type: 'divider' }, ...blocksOf(await ask('/portfolio')));
      blocks.push({ type: 'divider' }, ...blocksOf(await ask('/alerts')));
    }
    blocks.push({ type: 'divider' }, {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `Type \`${slashCommand} help\` in any channel or in Messages for every command. This tab is refreshed each time you open it.`, verbatim: true }],
    });
    return { type: 'home', callback_id: HOME_CALLBACK_ID, blocks: fitHomeBlocks(blocks) };
  }

  async function publish(client: webApi.WebClient, event: HomeOpened, home: HomeView, hash?: string): Promise<void> {
    await client.views.publish({ user_id: event.user, view: home as never, ...(hash ? { hash } : {}) });
  }

  async function opened(event: HomeOpened, client: webApi.WebClient): Promise<void> {
    if (event.tab !== 'home') return;
    let home: HomeView;
    try {
      home = await view(event.team, event.user, event.channel);
    } catch (error) {
      logger.error({ team: event.team, userId: event.user, ...errorSummary(error) }, 'slack home view failed');
      home = {
        type: 'home', callback_id: HOME_CALLBACK_ID,
        blocks: blocksOf({ tone: 'error', title: 'CryptoPulse', text: 'Something went wrong on our side loading this. Open the tab again in a moment.' }),
      };
    }
    try {
      await publish(client, event, home, event.hash);
    } catch (error) {
      const slackError = (error as { data?: { error?: string } } | null)?.data?.error;
      if (slackError === 'hash_conflict') {
        logger.info({ team: event.team, userId: event.user }, 'slack home view was published meanwhile: left as it is');
        return;
      }
      logger.error({ team: event.team, userId: event.user, ...errorSummary(error) }, 'slack home view could not be published');
    }
  }

  return { view, opened };
}
