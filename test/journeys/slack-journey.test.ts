/** The shared user journey (journey.ts) and group journey (group-journey.ts) on Slack: the real
 *  Bolt adapter against the loopback Slack stand-in, each line sent as `/pulse <line>` with
 *  Slack's signed request, in the person's DM with the app or in a channel; answers arrive on
 *  the response_url. A channel's administrators are the workspace's admins (users.info
 *  is_admin). */
import { createSlackBot } from '../../adapters/slack/bot';
import { makeTestBot, silentLogger } from '../support/harness';
import { buttons, startSlackStandin, textOf, type Invocation, type SlackChannel, type SlackMessage } from '../support/slack-standin';
import { groupJourneySuite, type GroupJourneyDriver } from './group-journey';
import { journeySuite, type SeenMessage } from './journey';

type Reply = SeenMessage & { message: SlackMessage };

/** Slack's one message a second per channel is waited out in real time: not this suite's subject. */
const UNLIMITED = { global: { limit: 10_000, windowMs: 1000 }, perChat: { limit: 10_000, windowMs: 1000 } };

async function slackDriver(): Promise<GroupJourneyDriver<string, SlackChannel>> {
  const core = await makeTestBot();
  const standin = await startSlackStandin();
  const adapter = createSlackBot({
    botToken: standin.botToken, signingSecret: standin.signingSecret, apiUrl: standin.apiUrl, port: 0, host: '127.0.0.1', core: core.core, logger: silentLogger, senderLimits: UNLIMITED,
  });
  await adapter.start();
  standin.requestUrl = `${adapter.url()}/slack/events`;
  const last = new Map<string, Invocation>();
  let nextUser = 0;
  let nextChannel = 0;
  const seen = (message: SlackMessage): Reply => ({ message, text: textOf(message), buttons: buttons(message).map((b) => b.text) });
  /** The message the invocation's first answer made, as the person sees it. */
  const answerOf = async (invocation: Invocation) => seen(await standin.waitFor(() =>
    standin.messages(invocation.channel, invocation.user).find((m) => m.invocation === invocation.id)));
  const pulse = async (person: string, channel: string, line: string) => {
    const { invocation } = await standin.slashCommand(person, channel, '/pulse', line.slice(1));
    last.set(person, invocation);
    return answerOf(invocation);
  };
  const person = (name: string, extra: { isAdmin?: boolean } = {}) => {
    const id = `U0${name.toUpperCase()}${++nextUser}`;
    standin.user(id, name, extra);
    return id;
  };
  return {
    core,
    adapter,
    person: (name) => person(name),
    run: (who, line) => pulse(who, standin.dmChannel(who), line),
    async press(who, reply, label) {
      const before = textOf(reply.message);
      const button = buttons(reply.message).find((b) => b.text === label)!;
      await standin.blockAction(who, reply.message, button.actionId);
      return seen(await standin.waitFor(() => {
        const now = standin.message(reply.message.channel, reply.message.ts);
        return now && textOf(now) !== before && now;
      }));
    },
    async redeliverLast(who) {
      // Slack sends the same request again (same trigger_id), marked as its retry.
      const inv = last.get(who)!;
      const body = new URLSearchParams({
        team_id: standin.teamId, channel_id: inv.channel, user_id: inv.user, command: inv.command!, text: inv.text ?? '',
        api_app_id: standin.appId, response_url: inv.responseUrl, trigger_id: inv.triggerId,
      }).toString();
      const ts = Math.floor(Date.now() / 1000);
      const res = await fetch(standin.requestUrl!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': standin.sign(body, ts), 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' },
        body,
      });
      if (res.status !== 200) throw new Error(`the retried slash command was refused: ${res.status}`);
    },
    nextPushed: async (who, containing = 'alert') => seen(await standin.waitFor(() => standin.dmsOf(who).find((m) => m.fromBot && textOf(m).includes(containing)))),

    group: (name) => standin.channel(`C0${name.toUpperCase()}${++nextChannel}`, name.toLowerCase()),
    admin: (_channel, name) => person(name, { isAdmin: true }),
    member: (_channel, name) => person(name),
    runIn: (who, where, line) => pulse(who, where === 'dm' ? standin.dmChannel(who) : where.id, line),
    address: (channel) => `slack:${standin.teamId}:${channel.id}`,
    // What everyone in the channel reads: the bot's messages that are not ephemeral.
    posts: (channel) => standin.messages(channel.id).filter((m) => m.fromBot && !m.ephemeralTo).map(seen),
    postAttempts: (channel) => standin.callsTo('chat.postMessage').filter((c) => c.params.channel === channel.id).length,
    dms: (who) => standin.dmsOf(who).filter((m) => m.fromBot).map(seen),
    removeBot(channel) {
      channel.botRemoved = true; // chat.postMessage answers not_in_channel
    },
    async close() {
      await adapter.stop();
      await standin.close();
      await core.close();
    },
  };
}

journeySuite('Slack', slackDriver);
groupJourneySuite('Slack', slackDriver);
