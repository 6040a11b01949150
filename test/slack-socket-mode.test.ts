/**
 * The Slack bot in Socket Mode (SLACK_APP_TOKEN): the real Bolt SocketModeReceiver and Socket Mode
 * client open their connection with apps.connections.open (the app-level token) on the stand-in's
 * Web API, then a WebSocket to the stand-in, which sends slash commands and button presses as
 * envelopes; the app acks each with its envelope_id and answers on the response_url. Nothing is
 * served over HTTP. Built from configuration through src/adapters.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSlackBot, type SlackBot } from '../adapters/slack/bot';
import type { HttpServer } from '../adapters/shared/http-server';
import type { Logger } from '../core/ports';
import { configuredChatAdapters, sharedHttpServer, stopChatAdapters } from '../src/adapters';
import { loadConfig } from '../src/config';
import { makeTestBot, type TestBot } from './support/harness';
import { buttons, startSlackStandin, startSocketModeStandin, textOf, type SlackStandin, type SocketModeDelivery, type SocketModeStandin } from './support/slack-standin';

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };
const ANN = 'U0ANN';
const GENERAL = 'C0GENERAL';

let core: TestBot;
let standin: SlackStandin;
let socket: SocketModeStandin;
let http: HttpServer;
let slack: SlackBot;

beforeEach(async () => {
  core = await makeTestBot();
  standin = await startSlackStandin();
  standin.user(ANN, 'ann');
  standin.channel(GENERAL, 'general');
  socket = await startSocketModeStandin(standin);
  const config = loadConfig({ SLACK_BOT_TOKEN: standin.botToken, SLACK_APP_TOKEN: socket.appToken, SLACK_API_URL: socket.apiUrl, PORT: '0' });
  http = sharedHttpServer(config, quiet);
  const adapters = configuredChatAdapters(config, core.core, quiet, http);
  expect(adapters.map((a) => a.platform)).toEqual(['slack']);
  slack = adapters[0] as SlackBot;
  await slack.start();
});

afterEach(async () => {
  await stopChatAdapters([slack]);
  await socket.close();
  await standin.close();
  await core.close();
});

/** Sends `/pulse <text>` over the WebSocket; checks the ack, and returns the answer on the response_url. */
async function pulse(text: string): Promise<{ delivery: SocketModeDelivery; body: Record<string, any> }> {
  const delivery = await socket.slashCommand(ANN, GENERAL, '/pulse', text);
  const ack = await delivery.ack;
  expect(ack.envelope_id).toBe(delivery.envelopeId);
  expect(ack.payload ?? {}).toEqual({}); // an empty ack: the answer follows on the response_url
  const post = await standin.waitFor(() => standin.responsesOf(delivery.invocation)[0]);
  expect(post.ok).toBe(true);
  return { delivery, body: post.body };
}

describe('Slack bot in Socket Mode', () => {
  it('connects with the app-level token over a WebSocket, serving no HTTP', async () => {
    const opened = standin.callsTo('apps.connections.open');
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ token: socket.appToken, ok: true });
    expect(standin.callsTo('auth.test')[0]).toMatchObject({ token: standin.botToken, ok: true });
    expect(socket.connections()).toBe(1);
    expect(http.address()).toBeUndefined();
    expect(() => slack.url()).toThrow(/Socket Mode/);
  });

  it('answers /pulse price over Socket Mode, acking the envelope', async () => {
    expect(textOf((await pulse('signup ann ann@example.com')).body)).toContain('Welcome, ann!');
    const { body, delivery } = await pulse('price btc');
    expect(textOf(body)).toMatch(/BTC/);
    expect(body.response_type).toBe('in_channel');
    expect(socket.acks.map((a) => a.envelope_id)).toContain(delivery.envelopeId);
  });

  it('handles a button press (block action) sent over the connection', async () => {
    const { delivery } = await pulse('price btc');
    const message = standin.messages(GENERAL, ANN).find((m) => m.invocation === delivery.invocation.id)!;
    core.feed.set('bitcoin', '70000');
    const press = await socket.blockAction(ANN, message, buttons(message).find((b) => b.text === 'Refresh')!.actionId);
    expect((await press.ack).envelope_id).toBe(press.envelopeId);
    await standin.waitFor(() => standin.responsesOf(press.invocation)[0]);
    expect(textOf(standin.message(message.channel, message.ts)!)).toMatch(/70,000/);
  });

  it('closes the connection when it stops', async () => {
    await slack.stop();
    // The stand-in sees the close a moment after the client's.
    for (let waited = 0; socket.connections() > 0 && waited < 2000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    expect(socket.connections()).toBe(0);
  });

  it('refuses to start with an app-level token Slack does not know, saying which variable to check', async () => {
    const bot = createSlackBot({ botToken: standin.botToken, appToken: 'xapp-1-A0-0-wrong', apiUrl: socket.apiUrl, core: core.core, logger: quiet, apiRetries: 0 });
    await expect(bot.start()).rejects.toThrow(/SLACK_APP_TOKEN/);
    await bot.stop();
  });
});
