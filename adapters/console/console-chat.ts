/**
 * The terminal chat, as a chat adapter (core/chat-adapter.ts): one command per line on standard
 * input, each reply as aligned text on standard output. Works at a prompt and through a pipe
 * (`ended` resolves with the input). Messages pushed to anyone (a fired alert) print here too,
 * addressed to whom they are for. Besides the bot's commands it understands two of its own, to
 * try the bot as several people:
 *   /as <name>              act as the console user <name> (identity console:<name>)
 *   /chat private|group     pretend the conversation is a private chat or a group (whoever types
 *                           is its administrator: one person runs the terminal, and group
 *                           commands such as /broadcast can be tried)
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { addressOn, type ChatAdapter } from '../../core/chat-adapter';
import type { ChatType } from '../../core/context';
import type { Dispatcher } from '../../core/dispatcher';
import { renderPlainText, type RichMessage } from '../../core/messages';
import type { Delivery } from '../../core/ports';
import { notOurs, reasonOf } from '../shared/delivery';

export interface ConsoleChatOptions {
  dispatcher: Dispatcher;
  input: Readable;
  output: Writable;
  /** The console user to start as. */
  user: string;
  /** Distinguishes this run's message ids from earlier runs' (they key idempotency). */
  sessionId: string;
  interactive: boolean;
  /** Where chart images are saved (a terminal cannot show them): a reply's http(s) image is
   *  downloaded here and its path printed. Absent: the image's link is printed. */
  imageDir?: string;
  /** How long an image download may take before the link is printed instead. */
  imageTimeoutMs?: number;
}

export interface ConsoleChat extends ChatAdapter {
  /** Resolves when the chat ended by itself: the input ended, or someone typed /quit. */
  readonly ended: Promise<void>;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function createConsoleChat(options: ConsoleChatOptions): ConsoleChat {
  const { dispatcher, input, output, interactive } = options;
  let user = options.user;
  let chatType: ChatType = 'private';
  let sequence = 0;
  let stopping = false;
  let loop: Promise<void> | undefined;
  let lines: ReturnType<typeof createInterface> | undefined;
  let finish: () => void = () => {};
  let fail: (error: unknown) => void = () => {};
  const ended = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const write = (text: string) => output.write(`${text}\n\n`);
  const prompt = () => interactive && output.write(`${user}${chatType === 'group' ? '@group' : ''}> `);

  async function readLines(): Promise<void> {
    // Made here, right before reading: readline drops the lines it reads before a loop iterates.
    const reader = createInterface({ input, terminal: false, crlfDelay: Infinity });
    lines = reader;
    if (interactive) write('CryptoPulse terminal chat. Type /help to start, /as <name> to act as someone else, Ctrl-D to leave.');
    prompt();
    for await (const raw of reader) {
      // Lines read before stop() are not taken any more: only the one being answered finishes.
      if (stopping) break;
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
          isChatAdmin: chatType === 'group' ? async () => true : undefined,
        });
        const marker = message.private && chatType === 'group' ? `(sent privately to ${user})\n` : '';
        write(marker + renderPlainText(await withSavedImage(message)));
      }
      prompt();
    }
    reader.close();
  }

  /** Everything goes to the one terminal, headed by whom it is for. A terminal never blocks the
   *  bot, so nothing here is ever 'gone'. */
  async function print(to: string | undefined, message: RichMessage): Promise<Delivery> {
    if (to === undefined) return notOurs('console');
    try {
      write(`[to console:${to}]\n${renderPlainText(await withSavedImage(message))}`);
      return { status: 'sent' };
    } catch (error) {
      return { status: 'failed', reason: reasonOf(error) }; // the output was closed
    }
  }

  /** The reply with its image saved as a PNG file: the plain text shows the path where it would
   *  show the link. When the download fails the link stays, with why it was not saved. */
  async function withSavedImage(message: RichMessage): Promise<RichMessage> {
    const url = message.imageUrl;
    if (!options.imageDir || !url || !/^https?:\/\//i.test(url)) return message;
    const path = join(options.imageDir, `chart-${createHash('sha256').update(url).digest('hex').slice(0, 12)}.png`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(options.imageTimeoutMs ?? 10_000) });
      if (!response.ok) throw new Error(`the image server answered ${response.status}`);
      if (!response.headers.get('content-type')?.startsWith('image/')) throw new Error('the link is not an image');
      const bytes = Buffer.from(await response.arrayBuffer());
      await mkdir(options.imageDir, { recursive: true });
      await writeFile(path, bytes);
      return { ...message, imageUrl: `Chart saved: ${path}` };
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? 'the download timed out' : reasonOf(error);
      return { ...message, imageUrl: `${url}\n(The chart could not be saved: ${reason}.)` };
    }
  }

  return {
    platform: 'console',
    // Buttons print as the commands they run, images as the path of a saved PNG (or as their
    // link); a private reply in a pretend group is shown in place, marked as private.
    capabilities: { buttons: false, images: false, privateReplies: 'none', maxMessageLength: Infinity },
    ended,
    async start() {
      loop ??= readLines().then(finish, fail);
    },
    async stop() {
      stopping = true;
      lines?.close();
      await loop;
      finish();
      // What was written goes out before the process ends, unless the reader has gone.
      if (output.writableNeedDrain) await Promise.race([once(output, 'drain'), new Promise((r) => setTimeout(r, 5000).unref())]).catch(() => undefined);
    },
    deliverToUser: async (identity, message) => print(identity.platform === 'console' ? addressOn('console', identity.key) : undefined, message),
    // A topic of a pretend group (`console:group/2`) prints as its address, topic and all.
    deliverToChat: async (chatAddress, message) => print(addressOn('console', chatAddress), message),
  };
}
