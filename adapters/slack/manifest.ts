/**
 * The Slack app's manifest (api.slack.com/apps → Create New App → From a manifest), generated from
 * what the adapter does, so the app Slack knows and the bot agree:
 *   - the one slash command (SLACK_COMMAND, default /pulse), its usage hint listing the registry's
 *     top-level commands;
 *   - the bot scopes the Web API methods the adapter calls and the events it subscribes to need
 *     (SLACK_METHOD_SCOPES, SLACK_EVENT_SCOPES), and `commands` for the slash command; nothing else;
 *   - events (app_home_opened for the Home tab, home.ts; the bot leaving or joining channels and
 *     channels archived or deleted, membership.ts) and interactivity (buttons), all at the one
 *     request URL the receiver serves, https://<host>/slack/events;
 *   - the Home tab on; Socket Mode off (the bot serves HTTP).
 * adapters/slack/manifest.yml is this with the placeholder request URL (a test keeps them equal);
 * `npm run slack:manifest -- --request-url https://<host>/slack/events` prints it for a real host.
 *
 * The YAML is written here (a small writer for this shape: maps, lists, strings, booleans), so
 * printing it needs no YAML package at run time; strings that could read as anything else are
 * double-quoted (JSON strings are YAML).
 */
import { ALL_COMMANDS } from '../../core/commands';
import { ROLES, type Caller } from '../../core/domain';
import { CommandRegistry } from '../../core/registry';

/** Stands for the bot's public address in the committed manifest.yml: replace it before use. */
export const PLACEHOLDER_REQUEST_URL = 'https://your-host.example.com/slack/events';
export const DEFAULT_SLASH_COMMAND = '/pulse';
export const APP_NAME = 'CryptoPulse';

/**
 * Every Web API method the adapter calls, with the bot scope it needs (null: none). A test reads
 * adapters/slack/*.ts and fails on a call missing here, so a new method cannot ship without its
 * scope in the manifest.
 */
export const SLACK_METHOD_SCOPES: Readonly<Record<string, string | null>> = {
  /** Bolt's app.init() checks the token with it. */
  'auth.test': null,
  /** Fired alerts and other messages outside a request (sender.ts). */
  'chat.postMessage': 'chat:write',
  /** Opening the DM with a user before writing to them. */
  'conversations.open': 'im:write',
  /** The Home tab (home.ts). */
  'views.publish': null,
  /** Whether the caller of a group command is a workspace admin or owner (bot.ts). */
  'users.info': 'users:read',
};

/** The bot scopes: `commands` for the slash command, and what the methods and events need. */
export function slackBotScopes(): string[] {
  const needed = [...Object.values(SLACK_METHOD_SCOPES), ...Object.values(SLACK_EVENT_SCOPES)].filter((s): s is string => Boolean(s));
  return [...new Set(['commands', ...needed])];
}

/**
 * Events the bot subscribes to (handled with app.event in bot.ts and membership.ts), with the bot
 * scope each needs (null: none). Public channels' events need channels:read, private channels'
 * groups:read; member_joined_channel comes for either with its scope.
 */
export const SLACK_EVENT_SCOPES: Readonly<Record<string, string | null>> = {
  /** The Home tab (home.ts). */
  app_home_opened: null,
  /** The bot removed from a channel, or the channel archived or deleted: marked unreachable. */
  channel_left: 'channels:read',
  group_left: 'groups:read',
  channel_archive: 'channels:read',
  group_archive: 'groups:read',
  channel_deleted: 'channels:read',
  /** The bot added back, or the channel unarchived: the mark is cleared. */
  member_joined_channel: 'channels:read',
  channel_unarchive: 'channels:read',
  group_unarchive: 'groups:read',
};

export const SLACK_BOT_EVENTS = Object.keys(SLACK_EVENT_SCOPES);

const EVERY_CALLER: readonly Caller[] = ['guest', ...ROLES];

/** The registry's top-level commands, as anyone may type them after the slash command. */
export function topLevelCommands(registry: CommandRegistry = new CommandRegistry(ALL_COMMANDS)): string[] {
  return registry.menu(EVERY_CALLER, 'private').map((entry) => entry.name);
}

/** The slash command's usage hint: its top-level commands ("help | price | buy | …"). */
export function slashCommandUsageHint(registry?: CommandRegistry): string {
  return topLevelCommands(registry).join(' | ');
}

export interface SlackManifestOptions {
  /** The slash command, e.g. /pulse. */
  command?: string;
  /** The bot's public request URL, https://<host>/slack/events. */
  requestUrl?: string;
  registry?: CommandRegistry;
}

export type ManifestValue = string | boolean | number | ManifestValue[] | { [key: string]: ManifestValue };

/** The app manifest as a value (what manifest.yml holds). */
export function slackManifest(options: SlackManifestOptions = {}): { [key: string]: ManifestValue } {
  const command = options.command ?? DEFAULT_SLASH_COMMAND;
  const requestUrl = options.requestUrl ?? PLACEHOLDER_REQUEST_URL;
  if (!/^\/[a-z0-9_-]{1,31}$/.test(command)) throw new Error(`A slash command is / and 1-31 lower-case letters, digits, - or _, not ${JSON.stringify(command)}`);
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    throw new Error(`The request URL must be an absolute https:// URL, not ${JSON.stringify(requestUrl)}`);
  }
  if (url.protocol !== 'https:') throw new Error(`Slack sends requests to https:// URLs only, not ${JSON.stringify(requestUrl)}`);
  return {
    display_information: {
      name: APP_NAME,
      description: 'Paper-trade crypto with virtual cash, follow your profit and loss, and get price alerts.',
      background_color: '#1a2b3c',
    },
    features: {
      app_home: {
        home_tab_enabled: true,
        messages_tab_enabled: true,
        messages_tab_read_only_enabled: false,
      },
      bot_user: {
        display_name: APP_NAME,
        always_online: true,
      },
      slash_commands: [{
        command,
        url: requestUrl,
        description: 'Paper trading and price alerts: buy, sell, portfolio, alerts and more',
        usage_hint: slashCommandUsageHint(options.registry),
        should_escape: false,
      }],
    },
    oauth_config: {
      scopes: { bot: slackBotScopes() },
    },
    settings: {
      event_subscriptions: {
        request_url: requestUrl,
        bot_events: [...SLACK_BOT_EVENTS],
      },
      interactivity: {
        is_enabled: true,
        request_url: requestUrl,
      },
      org_deploy_enabled: false,
      socket_mode_enabled: false,
      token_rotation_enabled: false,
    },
  };
}

// ---- YAML ---------------------------------------------------------------------------------------

/** A string YAML reads back as that same string without quotes (no keyword, number, indicator). */
const PLAIN = /^[A-Za-z/][A-Za-z0-9 _./:,()-]*$/;
const KEYWORD = /^(true|false|yes|no|on|off|null|y|n|~)$/i;

function scalar(value: string | boolean | number): string {
  if (typeof value !== 'string') return String(value);
  const plain = PLAIN.test(value) && !KEYWORD.test(value) && !/:(\s|$)|\s#|\s$/.test(value);
  return plain ? value : JSON.stringify(value);
}

const isMap = (v: ManifestValue): v is { [key: string]: ManifestValue } => typeof v === 'object' && !Array.isArray(v);

function lines(value: ManifestValue, indent: string): string[] {
  if (Array.isArray(value)) {
    return value.flatMap((item) => {
      if (!isMap(item) && !Array.isArray(item)) return [`${indent}- ${scalar(item)}`];
      const inner = lines(item, `${indent}  `);
      return inner.length ? [`${indent}- ${inner[0]!.slice(indent.length + 2)}`, ...inner.slice(1)] : [`${indent}- ${Array.isArray(item) ? '[]' : '{}'}`];
    });
  }
  if (isMap(value)) {
    return Object.entries(value).flatMap(([key, v]) => {
      if (Array.isArray(v)) return v.length ? [`${indent}${key}:`, ...lines(v, `${indent}  `)] : [`${indent}${key}: []`];
      if (isMap(v)) return Object.keys(v).length ? [`${indent}${key}:`, ...lines(v, `${indent}  `)] : [`${indent}${key}: {}`];
      return [`${indent}${key}: ${scalar(v)}`];
    });
  }
  return [`${indent}${scalar(value)}`];
}

/** The manifest as YAML, with a header saying where it comes from. */
export function manifestYaml(manifest: { [key: string]: ManifestValue }): string {
  return [
    '# The CryptoPulse Slack app: api.slack.com/apps → Create New App → From a manifest.',
    '# Generated by adapters/slack/manifest.ts; print it for your host with',
    '#   npm run slack:manifest -- --request-url https://<host>/slack/events',
    ...lines(manifest, ''),
    '',
  ].join('\n');
}
