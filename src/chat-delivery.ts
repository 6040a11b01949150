/**
 * Routes a pushed message (a fired alert) for a linked identity to the running chat adapter of
 * the identity's platform. One adapter failing, or a platform that is not running here, never
 * keeps the message from the user's other chats: it is skipped (and logged).
 */
import type { ChatAdapter } from '../core/chat-adapter';
import type { Platform } from '../core/domain';
import type { ChatDelivery, Logger } from '../core/ports';

export function deliverThroughAdapters(adapters: readonly ChatAdapter[], logger: Logger): ChatDelivery {
  const byPlatform = new Map<Platform, ChatAdapter>();
  for (const adapter of adapters) {
    // Two adapters of one platform would each think the identity was theirs: a wiring mistake.
    if (byPlatform.has(adapter.platform)) throw new Error(`two chat adapters for ${adapter.platform}`);
    byPlatform.set(adapter.platform, adapter);
  }
  return {
    async deliver(identity, message) {
      const adapter = byPlatform.get(identity.platform);
      if (!adapter) {
        // Normal when this instance runs some platforms only: the user still has their others.
        logger.debug?.({ identity: identity.key, platform: identity.platform }, 'no running chat adapter for this identity: skipped');
        return false;
      }
      try {
        return await adapter.deliverToUser(identity, message);
      } catch (error) {
        // The contract says deliverToUser never throws; if one does, it is that adapter's bug alone.
        logger.warn({ identity: identity.key, platform: identity.platform, error: error instanceof Error ? error.message : String(error) }, 'chat adapter threw while delivering');
        return false;
      }
    },
  };
}
