import type { Notifier } from '../../core/ports';

/** Email when no email service is configured: off, and the bot says so when asked. */
export const disabledNotifier: Notifier = {
  enabled: false,
  async subscribe() {
    throw new Error('email is not configured');
  },
  async unsubscribe() {},
  async deliver() {
    return { status: 'skipped' as const, reason: 'email is not configured' };
  },
};
