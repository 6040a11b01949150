/**
 * Slack's outbound sender (adapters/slack/sender.ts) with the real Web API client against the
 * loopback stand-in: messages to one channel go out in order, a 429 is waited out by the sender
 * (the client itself does not retry), and a conversation the bot cannot write to is given up on.
 */
import { webApi } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { classifySlackError, createSlackSender } from '../adapters/slack/sender';
import { silentLogger } from './support/harness';
import { startSlackStandin, textOf, type SlackStandin } from './support/slack-standin';

let standin: SlackStandin;
let client: InstanceType<typeof webApi.WebClient>;
beforeEach(async () => {
  standin = await startSlackStandin();
  standin.channel('C0ALERTS', 'alerts');
  client = new webApi.WebClient(standin.botToken, { slackApiUrl: standin.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true });
});
afterEach(() => standin.close());

const post = (text: string) => ({ text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] });

describe('the Slack sender', () => {
  it('posts to one channel in order, and waits out a 429 for its Retry-After itself', async () => {
    const sender = createSlackSender(client, silentLogger, { perChat: { limit: 10, windowMs: 1000 } });
    standin.rateLimit('chat.postMessage', { count: 1, retryAfter: 1 });
    const outcomes = await Promise.all(['one', 'two', 'three'].map((t) => sender.send('C0ALERTS', post(t))));
    expect(outcomes.map((o) => o.status)).toEqual(['sent', 'sent', 'sent']);
    expect(standin.messages('C0ALERTS').map((m) => textOf(m))).toEqual(['one', 'two', 'three']);
    expect(standin.callsTo('chat.postMessage').map((c) => c.status)).toEqual([429, 200, 200, 200]);
    expect(sender.stats.rateLimited).toBe(1);
  });

  it('gives up on a conversation it cannot write to, and reads the client\'s errors', async () => {
    const sender = createSlackSender(client, silentLogger);
    expect(await sender.send('C0GONE', post('hello'))).toMatchObject({ status: 'dead', reason: 'channel_not_found' });
    expect(sender.isDead('C0GONE')).toBe(true);
    expect(classifySlackError({ code: 'slack_webapi_rate_limited_error', retryAfter: 30 })).toEqual({ kind: 'rate', retryAfterMs: 30_000 });
    expect(classifySlackError({ code: 'slack_webapi_platform_error', data: { error: 'invalid_blocks' } })).toMatchObject({ kind: 'fatal' });
    expect(classifySlackError({ code: 'slack_webapi_http_error', statusCode: 503 })).toMatchObject({ kind: 'transient' });
  });
});
