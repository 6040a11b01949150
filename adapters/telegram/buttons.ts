/**
 * Inline buttons in Telegram's callback data. What a button does is kept by the core
 * (core/buttons.ts) in the store; the callback data is only its handle, `c:` + the core's token
 * (21 bytes, well inside the 64 that Telegram hands back).
 */
import { buttonToken, parseButtonToken, type ButtonRef } from '../../core/buttons';

export const callbackData = (ref: ButtonRef): string => `c:${buttonToken(ref)}`;

/** The button a press names, or null when the data is not one of ours. */
export function buttonOf(data: string | undefined): ButtonRef | null {
  return data?.startsWith('c:') ? parseButtonToken(data.slice(2)) : null;
}
