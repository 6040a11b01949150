/**
 * The Slack app manifest: the committed adapters/slack/manifest.yml is what manifest.ts
 * generates; every Web API method the adapter calls has its scope declared; the slash command's
 * usage hint lists the registry's top-level commands.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  manifestYaml, PLACEHOLDER_REQUEST_URL, SLACK_BOT_EVENTS, SLACK_EVENT_SCOPES, SLACK_METHOD_SCOPES, slackBotScopes, slackManifest, topLevelCommands,
} from '../adapters/slack/manifest';
import { ALL_COMMANDS } from '../core/commands';
import { CommandRegistry } from '../core/registry';
import { manifestFromArgs } from '../src/scripts/slack-manifest';

const SLACK_DIR = resolve(import.meta.dirname, '..', 'adapters', 'slack');
const committed = () => parse(readFileSync(join(SLACK_DIR, 'manifest.yml'), 'utf8'));

/** The Web API methods a source text calls: `client.chat.postMessage(`, `client.apiCall('x.y'`,
 *  and auth.test, which Bolt's app.init() calls. */
function methodsCalledIn(text: string): string[] {
  const direct = [...text.matchAll(/\bclient\??\.([a-z]+)\??\.([a-zA-Z]+)\s*\(/g)].map((m) => `${m[1]}.${m[2]}`);
  const generic = [...text.matchAll(/\.apiCall\(\s*['"]([a-zA-Z.]+)['"]/g)].map((m) => m[1]!);
  const init = /\bapp\.init\(\)/.test(text) ? ['auth.test'] : [];
  return [...direct, ...generic, ...init];
}

describe('Slack app manifest', () => {
  it('the committed manifest.yml is the generated one', () => {
    expect(committed()).toEqual(slackManifest());
    expect(parse(manifestYaml(slackManifest()))).toEqual(slackManifest());
  });

  it('declares the app: name, bot user, slash command, events, interactivity, Home tab, no Socket Mode', () => {
    const m = parse(manifestYaml(slackManifest({ command: '/crypto', requestUrl: 'https://bot.example.org/slack/events' })));
    const url = 'https://bot.example.org/slack/events';
    expect(m.display_information.name).toBe('CryptoPulse');
    expect(m.display_information.description.length).toBeLessThanOrEqual(140);
    expect(m.features.bot_user.display_name).toBeTruthy();
    expect(m.features.slash_commands).toHaveLength(1);
    expect(m.features.slash_commands[0]).toMatchObject({ command: '/crypto', url, should_escape: false });
    expect(m.settings.event_subscriptions).toEqual({
      request_url: url,
      bot_events: ['app_home_opened', 'channel_left', 'group_left', 'channel_archive', 'group_archive', 'channel_deleted', 'member_joined_channel', 'channel_unarchive', 'group_unarchive'],
    });
    expect(m.settings.interactivity).toEqual({ is_enabled: true, request_url: url });
    expect(m.features.app_home.home_tab_enabled).toBe(true);
    expect(m.settings.socket_mode_enabled).toBe(false);
    expect(committed().features.slash_commands[0]).toMatchObject({ command: '/pulse', url: PLACEHOLDER_REQUEST_URL });
  });

  it('refuses a request URL that is not https and a malformed slash command', () => {
    expect(() => slackManifest({ requestUrl: 'http://bot.example.org/slack/events' })).toThrow(/https/);
    expect(() => slackManifest({ requestUrl: 'bot.example.org' })).toThrow(/absolute https/);
    expect(() => slackManifest({ command: 'pulse' })).toThrow(/slash command/);
  });

  it('covers every Web API method the adapter calls with a declared bot scope, and declares no other', () => {
    const files = readdirSync(SLACK_DIR).filter((f) => f.endsWith('.ts'));
    const called = new Set(files.flatMap((f) => methodsCalledIn(readFileSync(join(SLACK_DIR, f), 'utf8'))));
    // The scan finds what the adapter is known to call, so it is not silently finding nothing.
    for (const method of ['auth.test', 'chat.postMessage', 'conversations.open', 'views.publish']) expect(called).toContain(method);
    const unmapped = [...called].filter((method) => !(method in SLACK_METHOD_SCOPES));
    expect(unmapped).toEqual([]);
    const declared: string[] = committed().oauth_config.scopes.bot;
    const needed = [...called].map((method) => SLACK_METHOD_SCOPES[method]).filter((s): s is string => Boolean(s));
    for (const scope of needed) expect(declared).toContain(scope);
    // The slash command needs `commands`, the membership events channels:read and groups:read;
    // nothing beyond what is used is asked for.
    const forEvents = SLACK_BOT_EVENTS.map((event) => SLACK_EVENT_SCOPES[event]).filter((s): s is string => Boolean(s));
    expect(forEvents).toEqual(expect.arrayContaining(['channels:read', 'groups:read']));
    expect(declared).toContain('commands');
    expect(new Set(declared)).toEqual(new Set(['commands', ...needed, ...forEvents]));
    expect(slackBotScopes()).toEqual(declared);
  });

  it('subscribes to exactly the events the bot handles', () => {
    const handled = readdirSync(SLACK_DIR).filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...readFileSync(join(SLACK_DIR, f), 'utf8').matchAll(/\bapp\.event\(\s*['"]([a-z_.]+)['"]/g)].map((m) => m[1]!));
    expect(new Set(handled)).toEqual(new Set(SLACK_BOT_EVENTS));
  });

  it("lists the registry's top-level commands in the slash command's usage hint", () => {
    const registry = new CommandRegistry(ALL_COMMANDS);
    const names = [...new Set(registry.commands.map((c) => c.name.split(' ')[0]!))];
    expect(topLevelCommands(registry).sort()).toEqual([...names].sort());
    const hint: string = committed().features.slash_commands[0].usage_hint;
    expect(hint.split(' | ')).toEqual(topLevelCommands(registry));
    for (const name of ['buy', 'sell', 'portfolio', 'alert', 'alerts', 'coins', 'help']) expect(hint.split(' | ')).toContain(name);
    expect(hint.length).toBeLessThanOrEqual(1000);
  });

  it('npm run slack:manifest prints the manifest for a request URL', () => {
    const printed = parse(manifestFromArgs(['--request-url', 'https://example.com/slack/events'], {}));
    expect(printed).toEqual(slackManifest({ requestUrl: 'https://example.com/slack/events' }));
    expect(parse(manifestFromArgs(['--request-url=https://example.com/slack/events', '--command', '/crypto'], {})).features.slash_commands[0].command).toBe('/crypto');
    expect(parse(manifestFromArgs([], { SLACK_COMMAND: '/coins' })).features.slash_commands[0].command).toBe('/coins');
    expect(() => manifestFromArgs(['--bogus'], {})).toThrow(/Usage/);
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '..', 'package.json'), 'utf8'));
    expect(pkg.scripts['slack:manifest']).toBe('tsx src/scripts/slack-manifest.ts');
  });
});
