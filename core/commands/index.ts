/** Every command the bot knows, in the order help lists them. */
import type { AnyCommand } from '../registry';
import { about, help, start, whoami } from './general';
import { link, login, settings, settingsAlerts, settingsCurrency, settingsDigest, settingsEmail, settingsLeaderboard, settingsTimezone, signup, unlink } from './account';
import { coins, coinsAdd, coinsRemove, market, price } from './market';
import { news } from '../news/command';
import { chartPrice } from '../market/chart-command';
import { chartPortfolio } from '../market/portfolio-chart';
import { leaderboard } from '../market/leaderboard';
import { analysis } from '../market/analysis';
import { buy, history, portfolio, sell } from './trading';
import { alert, alertRemove, alerts } from '../alerts/commands';
import { broadcastAdd, broadcastList, broadcastPause, broadcastRemove, broadcastResume } from '../alerts/broadcast-commands';
import { orderCancel, orders } from '../orders/commands';
import { watchAdd, watchRemove, watchlist } from '../watchlist/commands';
import { activity, role, stats, transactions, users } from './staff';

export const ALL_COMMANDS: readonly AnyCommand[] = [
  start, help, about, whoami,
  signup, login, link, unlink,
  price, coins, chartPrice, chartPortfolio, news, buy, sell, orders, orderCancel, portfolio, history, leaderboard,
  watchlist, watchAdd, watchRemove,
  alert, alerts, alertRemove,
  broadcastList, broadcastAdd, broadcastRemove, broadcastPause, broadcastResume,
  settings, settingsCurrency, settingsEmail, settingsAlerts, settingsTimezone, settingsDigest, settingsLeaderboard,
  market, analysis, stats, users, transactions, activity, role, coinsAdd, coinsRemove,
];
