/**
 * Routes a pushed message (a fired alert, a broadcast) to the running chat adapter of its
 * platform: a person's direct chat by their linked identity, a group, channel or topic by its
 * posting address (`telegram:-100123/7`, see postingAddress). Every outcome is the adapter's
 * Delivery: 'gone' tells the caller to stop writing there; a platform not running here, or an
 * adapter that broke its promise never to throw, is 'failed' (worth retrying, perhaps on another
 * instance), and never keeps the message from the user's other chats.
 */
import type { ChatAdapter } from '../core/chat-adapter';
import { PLATFORMS, type Platform } from '../core/domain';
import type { ChatDelivery, Delivery, Logger } from '../core/ports';

export function deliverThroughAdapters(adapters: readonly ChatAdapter[], logger: Logger): ChatDelivery {
  const byPlatform = new Map<Platform, ChatAdapter>();
  for (const adapter of adapters) {
    // Two adapters of one platform would each think the address was theirs: a wiring mistake.
    if (byPlatform.has(adapter.platform)) throw new Error(`two chat adapters for ${adapter.platform}`);
    byPlatform.set(adapter.platform, adapter);
  }

  async function through(platform: string, where: Record<string, unknown>, send: (adapter: ChatAdapter) => Promise<Delivery>): Promise<Delivery> {
    const adapter = byPlatform.get(platform as Platform);
    if (!adapter) {
      // Normal when this instance runs some platforms only: the user still has their others.
      logger.debug?.({ ...where, platform }, 'no running chat adapter for this address: skipped');
      return { status: 'failed', reason: `no ${platform} adapter running here` };
    }
    try {
      return await send(adapter);
    } catch (error) {
      // The contract says adapters never throw; if one does, it is that adapter's bug alone.
      const reason = error instanceof Error ? error.message : String(error);
      logger.warn({ ...where, platform, error: reason }, 'chat adapter threw while delivering');
      return { status: 'failed', reason };
    }
  }

  return {
    deliver: (identity, message) => through(identity.platform, { identity: identity.key }, (adapter) => adapter.deliverToUser(identity, message)),
    deliverToChat(chatAddress, message) {
      const platform = chatAddress.slice(0, Math.max(0, chatAddress.indexOf(':')));
      if (!(PLATFORMS as readonly string[]).includes(platform)) return Promise.resolve({ status: 'failed', reason: `not a chat address: ${chatAddress}` });
      return through(platform, { chatAddress }, (adapter) => adapter.deliverToChat(chatAddress, message));
    },
  };
}
