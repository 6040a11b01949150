/** The shared user journey (journey.ts) on Slack: the real Bolt adapter against the loopback Slack
 *  stand-in, in the person's DM with the app, each line sent as `/pulse <line>` with Slack's
 *  signed request; answers arrive on the response_url. */
import { createSlackBot } from '../../adapters/slack/bot';
import { makeTestBot, silentLogger } from '../support/harness';
import { buttons, startSlackStandin, textOf, type Invocation, type SlackMessage } from '../support/slack-standin';
import { journeySuite, type JourneyDriver, type SeenMessage } from './journey';

type Reply = SeenMessage & { message: SlackMessage };

async function slackDriver(): Promise<JourneyDriver<string, Reply>> {
  const core = await makeTestBot();
  const standin = await startSlackStandin();
  const adapter = createSlackBot({
    botToken: standin.botToken, signingSecret: standin.signingSecret, apiUrl: standin.apiUrl, port: 0, host: '127.0.0.1', core: core.core, logger: silentLogger,
  });
  await adapter.start();
  standin.requestUrl = `${adapter.url()}/slack/events`;
  const last = new Map<string, Invocation>();
  let nextUser = 0;
  const seen = (message: SlackMessage): Reply => ({ message, text: textOf(message), buttons: buttons(message).map((b) => b.text) });
  /** The message the invocation's first answer made, as the person sees it. */
  const answerOf = async (invocation: Invocation) => seen(await standin.waitFor(() =>
    standin.messages(invocation.channel, invocation.user).find((m) => m.invocation === invocation.id)));
  return {
    core,
    adapter,
    person(name) {
      const id = `U0${name.toUpperCase()}${++nextUser}`;
      standin.user(id, name);
      return id;
    },
    async run(person, line) {
      const { invocation } = await standin.slashCommand(person, standin.dmChannel(person), '/pulse', line.slice(1));
      last.set(person, invocation);
      return answerOf(invocation);
    },
    async press(person, reply, label) {
      const before = textOf(reply.message);
      const button = buttons(reply.message).find((b) => b.text === label)!;
      await standin.blockAction(person, reply.message, button.actionId);
      return seen(await standin.waitFor(() => {
        const now = standin.message(reply.message.channel, reply.message.ts);
        return now && textOf(now) !== before && now;
      }));
    },
    async redeliverLast(person) {
      // Slack sends the same request again (same trigger_id), marked as its retry.
      const inv = last.get(person)!;
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
    nextPushed: async (person) => seen(await standin.waitFor(() => standin.dmsOf(person).find((m) => m.fromBot && textOf(m).includes('alert')))),
    async close() {
      await adapter.stop();
      await standin.close();
      await core.close();
    },
  };
}

journeySuite('Slack', slackDriver);
