/**
 * Routes a pushed message (a fired alert) to the adapter of the identity's platform. Platforms
 * without a running adapter are skipped; the user still gets the message in their other chats.
 */
import type { ChatDelivery } from '../core/ports';
import type { LinkedIdentity, Platform } from '../core/domain';
import type { RichMessage } from '../core/messages';

export type PlatformDelivery = (identity: LinkedIdentity, message: RichMessage) => Promise<boolean>;

export function routeByPlatform(routes: Partial<Record<Platform, PlatformDelivery>>): ChatDelivery {
  return {
    async deliver(identity, message) {
      const route = routes[identity.platform];
      try {
        return route ? await route(identity, message) : false;
      } catch {
        return false;
      }
    },
  };
}
