/**
 * How Slack things map to the core:
 *   identity   {platform: 'slack', workspace: <team id>, userId: <user id>}, key `slack:<team>:<user>`.
 *              The team is the workspace the person acts from (a slash command's team_id, a press's
 *              user.team_id). On Enterprise Grid user ids are org-wide, but the key still uses the
 *              workspace (not enterprise_id): one person in two workspaces of an org is two
 *              identities, which /link joins into one account. Keys stay one shape everywhere and
 *              never change when a workspace joins or leaves an org.
 *   chat       {type: a DM (channel id starting with D) ? private : group, id: `slack:<team>:<channel>`}
 *   messageId  a slash command's trigger_id; a press's action_ts, or `confirm:<message ts>` for a
 *              Confirm (so a second Confirm on one prompt never trades again). Every request id
 *              (trigger_id, action_ts, event_id) is also claimed in the store, so Slack's retries
 *              (X-Slack-Retry-Num) are acknowledged and not handled twice.
 *   buttons    action_id `cp:<token>`: only a handle, what the button does is in the store
 *              (core/buttons.ts); a press by anyone but the person the message answers is refused.
 * A user id is not a channel: writing to a person opens a DM first (conversations.open).
 */
import { buttonToken, parseButtonToken, type ButtonRef } from '../../core/buttons';
import { addressOn } from '../../core/chat-adapter';
import type { ChatRef } from '../../core/context';
import { identityKey, type IdentityRef } from '../../core/domain';

/** Slack ids: T…/E… teams, U…/W… users, C…/G…/D… conversations. */
const SLACK_ID = /^[A-Z0-9]{2,32}$/;

export const identityOf = (teamId: string, userId: string): IdentityRef => ({ platform: 'slack', workspace: teamId, userId });
export const ownerOf = (teamId: string, userId: string): string => identityKey(identityOf(teamId, userId));

/** A DM with the bot (D…) is the core's private chat; channels, private channels and group DMs are groups. */
export const chatRefOf = (teamId: string, channelId: string): ChatRef => ({
  type: channelId.startsWith('D') ? 'private' : 'group',
  id: `slack:${teamId}:${channelId}`,
});

/** The team and the user or channel id in `slack:T:U` / `slack:T:C`, or undefined when the
 *  address is not a Slack one. */
export function slackAddress(address: string): { team: string; id: string } | undefined {
  const local = addressOn('slack', address);
  if (local === undefined) return undefined;
  const [team, id, ...rest] = local.split(':');
  return team && id && !rest.length && SLACK_ID.test(team) && SLACK_ID.test(id) ? { team, id } : undefined;
}

const ACTION_ID_PREFIX = 'cp:';
export const actionIdOf = (ref: ButtonRef): string => `${ACTION_ID_PREFIX}${buttonToken(ref)}`;
/** The button a press names, or null when the action_id is not one of ours. */
export function buttonOf(actionId: string): ButtonRef | null {
  return actionId.startsWith(ACTION_ID_PREFIX) ? parseButtonToken(actionId.slice(ACTION_ID_PREFIX.length)) : null;
}

/** What a slash command's text means to the dispatcher: `/pulse buy btc $100` → `/buy btc $100`;
 *  nothing (or only spaces) → `/help`. A leading slash typed by habit (`/pulse /buy`) is dropped. */
export function commandLine(text: string | undefined): string {
  const rest = (text ?? '').trim().replace(/^\/+/, '');
  return rest ? `/${rest}` : '/help';
}
