/**
 * The terminal chat: one command per line on standard input, each reply as aligned text on
 * standard output. Works at a prompt and through a pipe (ends with the input). Besides the bot's
 * commands it understands two of its own, to try the bot as several people:
 *   /as <name>              act as the console user <name> (identity console:<name>)
 *   /chat private|group     pretend the conversation is a private chat or a group
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { ChatType } from '../../core/context';
import type { Dispatcher } from '../../core/dispatcher';
import { renderPlainText } from '../../core/messages';

export interface ConsoleChatOptions {
  dispatcher: Dispatcher;
  input: Readable;
  output: Writable;
  /** The console user to start as. */
  user: string;
  /** Distinguishes this run's message ids from earlier runs' (they key idempotency). */
  sessionId: string;
  interactive: boolean;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export async function runConsoleChat(options: ConsoleChatOptions): Promise<void> {
  const { dispatcher, input, output, interactive } = options;
  let user = options.user;
  let chatType: ChatType = 'private';
  let sequence = 0;
  const write = (text: string) => output.write(`${text}\n\n`);
  const prompt = () => interactive && output.write(`${user}${chatType === 'group' ? '@group' : ''}> `);

  if (interactive) write('CryptoPulse terminal chat. Type /help to start, /as <name> to act as someone else, Ctrl-D to leave.');
  prompt();
  const lines = createInterface({ input, terminal: false, crlfDelay: Infinity });
  for await (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) {
      prompt();
      continue;
    }
    const [word, value] = line.split(/\s+/);
    if (word === '/as') {
      if (value && NAME.test(value)) {
        user = value;
        write(`You are now ${user} (console:${user}).`);
      } else write('Usage: /as <name> (letters, digits, _ . -)');
    } else if (word === '/chat') {
      if (value === 'private' || value === 'group') {
        chatType = value;
        write(`This is now a ${value} chat.`);
      } else write('Usage: /chat private|group');
    } else if (word === '/quit' || word === '/exit') {
      break;
    } else {
      sequence += 1;
      const { message } = await dispatcher.dispatch({
        identity: { platform: 'console', userId: user },
        chat: { type: chatType, id: chatType === 'group' ? 'console:group' : `console:${user}` },
        text: line,
        messageId: `${options.sessionId}-${sequence}`,
      });
      const marker = message.private && chatType === 'group' ? `(sent privately to ${user})\n` : '';
      write(marker + renderPlainText(message));
    }
    prompt();
  }
  lines.close();
}
