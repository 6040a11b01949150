/**
 * A group's or channel's price broadcasts: /broadcast add|list|remove|pause|resume. A rule is a
 * PriceAlert owned by the chat (broadcastOwner of its posting address, so a forum topic has its
 * own rules), repeating at most once per the bot's broadcast cool-down so that a price hovering
 * at a threshold does not flood the group.
 *
 * Who: CryptoPulse admins and moderators, and the group's own administrators as the platform
 * says (ctx.isChatAdmin), who may have no CryptoPulse account at all. So every caller passes the
 * registry's role check and the decision is made here, in run().
 */
import { ACCESS } from '../access';
import { args } from '../args';
import { chatOfPostingAddress, postingAddress, type CommandContext } from '../context';
import { broadcastOwner, isLiveAlert } from '../domain';
import { UserError } from '../errors';
import { formatDuration, formatTime } from '../format';
import { reply } from '../messages';
import { defineCommand } from '../registry';
import { priceFooter } from '../view';
import { alertArgs, alertFromSpec, alertTable } from './commands';
import { describeCondition, groupView } from './describe';
import { parseAlertSpec } from './spec';

const MODERATING_ROLES = new Set(['admin', 'moderator']);

/** The chat's posting address, once the caller may manage its broadcasts here. */
async function managedChat(ctx: CommandContext): Promise<string> {
  if (ctx.chat.type !== 'group') {
    throw new UserError('Broadcasts are for groups and channels: run /broadcast in the group or channel that should receive them.');
  }
  if (!MODERATING_ROLES.has(ctx.caller) && !(await ctx.isChatAdmin())) {
    throw new UserError("Only this group's administrators, or CryptoPulse moderators and admins, manage its broadcasts.");
  }
  return postingAddress(ctx.chat);
}

const COMMON = {
  roles: ACCESS.public,
  chats: 'any' as const,
  deniedNote: "Broadcasts are managed by the group's administrators and CryptoPulse moderators.",
};

export const broadcastAdd = defineCommand({
  ...COMMON,
  name: 'broadcast add',
  summary: 'Post to this group when a coin passes a price (USD) or moves by a percentage',
  args: alertArgs('a price in US dollars (above, below) or a percent like 5% (move)', 'for a move: the window and up or down; e.g. 1h up'),
  examples: ['/broadcast add btc above 100000', '/broadcast add eth move 5% 1h', '/broadcast add sol move 10% 1d down'],
  changes: 'state',
  async run(ctx, { coin: token, condition, value, options }) {
    const address = await managedChat(ctx);
    const { store, coins, config } = ctx.services;
    const coin = await coins.resolve(token);
    const spec = parseAlertSpec(condition, value, options ?? [], { timing: false, example: `/broadcast add ${token}` });
    const view = groupView(ctx.services.prices.fiatRates());
    const rule = alertFromSpec(ctx, broadcastOwner(address), coin, spec, view, config.broadcastCooldownMs);
    if ((await store.createAlert(rule, config.maxBroadcastsPerChat)) === 'limit') {
      throw new UserError(`This chat has ${config.maxBroadcastsPerChat} broadcast rules, the most allowed. /broadcast list shows them; /broadcast remove <id> frees one.`);
    }
    return reply('success', {
      text: `Broadcast ${rule.alertId} added: ${coin.name} ${describeCondition(rule, view)}, posted here at most once every ${formatDuration(config.broadcastCooldownMs)}.`,
      footer: priceFooter(ctx),
    });
  },
});

export const broadcastList = defineCommand({
  ...COMMON,
  name: 'broadcast list',
  groupDefault: true,
  summary: "This group's price broadcasts, and whether they are paused",
  args: {},
  examples: ['/broadcast list'],
  async run(ctx) {
    const address = await managedChat(ctx);
    const { store, config } = ctx.services;
    const [rules, states] = await Promise.all([store.listAlerts(broadcastOwner(address)), store.getChatStates([address])]);
    const state = states.get(address);
    const live = rules.filter((r) => isLiveAlert(r.state)).length;
    const status = [
      state?.broadcastsPaused ? 'Broadcasts are paused: /broadcast resume turns them back on.' : 'Broadcasts are on.',
      ...(state?.unreachableSince !== undefined
        ? [`I could not post here since ${formatTime(state.unreachableSince)}${state.unreachableReason ? ` (${state.unreachableReason})` : ''}: /broadcast resume tries again.`]
        : []),
    ];
    return reply('info', {
      title: `Broadcasts in this chat (${live} of ${config.maxBroadcastsPerChat})`,
      text: status.join('\n'),
      table: alertTable(ctx, rules, groupView(ctx.services.prices.fiatRates())),
      footer: rules.length ? '/broadcast remove <id> removes one.' : 'Add one with /broadcast add btc above 100000 or /broadcast add btc move 5% 1h.',
    });
  },
});

export const broadcastRemove = defineCommand({
  ...COMMON,
  name: 'broadcast remove',
  summary: "Remove one of this group's price broadcasts",
  args: { id: args.text('broadcast id from /broadcast list', /^[a-z0-9]{1,36}$/i, 'A broadcast id looks like 3f9a1c2b7d4e: /broadcast list shows them.') },
  examples: ['/broadcast remove 3f9a1c2b7d4e'],
  changes: 'state',
  async run(ctx, { id }) {
    const address = await managedChat(ctx);
    if (!(await ctx.services.store.deleteAlert(broadcastOwner(address), id.toLowerCase()))) {
      throw new UserError(`This chat has no broadcast ${id}. /broadcast list shows them.`);
    }
    return reply('success', { text: `Broadcast ${id} removed.` });
  },
});

export const broadcastPause = defineCommand({
  ...COMMON,
  name: 'broadcast pause',
  summary: "Pause this group's price broadcasts (the rules are kept)",
  args: {},
  examples: ['/broadcast pause'],
  changes: 'state',
  async run(ctx) {
    const address = await managedChat(ctx);
    await ctx.services.store.setBroadcastsPaused(address, true);
    return reply('success', { text: 'Broadcasts in this chat are paused. /broadcast resume turns them back on.' });
  },
});

export const broadcastResume = defineCommand({
  ...COMMON,
  name: 'broadcast resume',
  summary: "Resume this group's price broadcasts",
  args: {},
  examples: ['/broadcast resume'],
  changes: 'state',
  async run(ctx) {
    const address = await managedChat(ctx);
    const { store } = ctx.services;
    await store.setBroadcastsPaused(address, false);
    // Someone can run a command here, so the bot can post here again (it was re-added), in this
    // topic and in its group.
    await store.clearUnreachable(address);
    if (chatOfPostingAddress(address) !== address) await store.clearUnreachable(chatOfPostingAddress(address));
    return reply('success', { text: 'Broadcasts in this chat are on.' });
  },
});
