/** What the outbox worker itself writes: the per-minute cap's summary and the unreachable notice. */
import type { OutboxMessage } from '../domain';
import { reply, type RichMessage } from '../messages';
import { platformName } from './destinations';

/** More headlines than this in one summary are counted, not listed. */
const MAX_LISTED = 20;

/** "BTC is above $100,000.00" from '🔔 BTC is above …' or 'CryptoPulse alert: BTC is above …'. */
function headlineOf(message: OutboxMessage): string {
  const raw = message.message?.title ?? message.message?.text ?? message.email?.subject ?? message.id;
  return raw.replace(/^CryptoPulse( alert)?:\s*/, '').replace(/^[^\p{L}\p{N}$€£¥(]+/u, '').trim() || raw;
}

function headlines(messages: OutboxMessage[]): string[] {
  const lines = messages.slice(0, MAX_LISTED).map(headlineOf);
  if (messages.length > MAX_LISTED) lines.push(`… and ${messages.length - MAX_LISTED} more`);
  return lines;
}

function summaryTitle(messages: OutboxMessage[]): string {
  const n = messages.length;
  return messages.every((m) => m.kind === 'broadcast') ? `📢 ${n} more price broadcasts` : `🔔 ${n} more alerts fired`;
}

/** One chat message standing for the messages the per-minute cap held back. */
export function capSummaryMessage(messages: OutboxMessage[], perMinute: number): RichMessage {
  return reply('warning', {
    title: summaryTitle(messages),
    text: headlines(messages).join('\n'),
    footer: `At most ${perMinute} alert messages a minute go to one chat; the rest are summed up here.`,
  });
}

/** The same, by email. */
export function capSummaryEmail(messages: OutboxMessage[], perMinute: number): { subject: string; body: string } {
  return {
    subject: `CryptoPulse: ${summaryTitle(messages).replace(/^\S+ /, '')}`,
    body: `${headlines(messages).join('\n')}\nAt most ${perMinute} alert emails a minute are sent; the rest are summed up here.\nThis is paper trading with virtual money.`,
  };
}

/** The text telling a user that one of their chats could not be reached. */
export function unreachableText(target: { platform: string } | { chat: string }, reason: string): string {
  return 'platform' in target
    ? `I could not reach you on ${platformName(target.platform)}: ${reason}. Alerts go to your other chats until you message me there again.`
    : `I could not post your alerts in the ${platformName(target.chat.split(':')[0]!)} chat you chose with /settings alerts here (${reason}). Choose where they go with /settings alerts dm, or /settings alerts here in a chat I can post in.`;
}

export function unreachableNotice(text: string, email: boolean): Pick<OutboxMessage, 'message' | 'email'> {
  return email
    ? { email: { subject: 'CryptoPulse: a chat of yours cannot be reached', body: `${text}\nThis is paper trading with virtual money.` } }
    : { message: reply('warning', { title: '⚠️ A chat of yours cannot be reached', text }) };
}
