/**
 * What chat buttons mean, for every chat adapter. A platform hands back only a short string when a
 * button is pressed (Telegram: at most 64 bytes of callback data), and anyone in a group can press
 * one, so the string is only a handle: a random id for the buttons of one message plus the
 * button's place among them. What the buttons do (the command line, the kind, who may press them)
 * is kept in the store until they expire, so a press works after a restart and on another
 * instance sharing the store. The buttons of one message are taken together by the first press
 * (the message is then edited, so its old buttons are gone): the store marks them used in one
 * atomic step, so a double tap, or two instances each receiving a tap, goes through once.
 */
import { randomBytes } from 'node:crypto';
import type { Button } from './messages';
import type { Store } from './ports';

export interface ButtonTtls {
  /** Confirm / Cancel: the price shown should still be close. Default 5 min. */
  confirmMs: number;
  /** Refresh and paging. Default 1 h. */
  otherMs: number;
}

export const DEFAULT_BUTTON_TTLS: ButtonTtls = { confirmMs: 5 * 60_000, otherMs: 60 * 60_000 };

/** Stores may sweep buttons a week after they expired (see Store.saveButtons): none lives that long. */
const MAX_TTL_MS = 24 * 60 * 60_000;

/** A pressed button: the id of its message's buttons and its place among them. */
export interface ButtonRef {
  set: string;
  index: number;
}

/** 16 base64url characters: 96 random bits, not guessable, and short enough for any platform. */
const SET_ID = /^[A-Za-z0-9_-]{16}$/;
const TOKEN = /^([A-Za-z0-9_-]{16})\.(\d{1,2})$/;

/** The ref as a short string (`<set>.<index>`, 19 characters at most) to put into a button. */
export function buttonToken(ref: ButtonRef): string {
  return `${ref.set}.${ref.index}`;
}

/** The ref in a string a platform handed back, or null when it is not one of ours. */
export function parseButtonToken(token: string): ButtonRef | null {
  const match = TOKEN.exec(token);
  return match ? { set: match[1]!, index: Number(match[2]) } : null;
}

export type ButtonLookup =
  | { ok: true; ref: ButtonRef; button: Button }
  /** invalid: not a button of ours (or not any more); expired: unknown or past its time (the
   *  store forgets both alike); used: another button of the message was pressed already;
   *  not-yours: someone else's command. */
  | { ok: false; reason: 'invalid' | 'expired' | 'used' | 'not-yours' };

/** The buttons of one message while the adapter renders it: see ChatButtons.draft. */
export interface ButtonDraft {
  /** Names a button (synchronously, as renderers need); the handle goes into the platform's button. */
  add(button: Button): ButtonRef;
  /** Stores the buttons added (nothing when none were): wait for it before sending the message,
   *  so that no press can arrive for buttons the store does not know yet. */
  save(): Promise<void>;
}

export class ChatButtons {
  private readonly ttl: ButtonTtls;

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    ttl: Partial<ButtonTtls> = {},
  ) {
    this.ttl = { ...DEFAULT_BUTTON_TTLS, ...ttl };
    if (this.ttl.confirmMs > MAX_TTL_MS || this.ttl.otherMs > MAX_TTL_MS) throw new Error('Buttons may live at most a day');
  }

  /** Starts the buttons of one message. `owner` is the identity key of the only person who may
   *  press them; anyone may when it is absent (a broadcast). */
  draft(owner?: string): ButtonDraft {
    const set = randomBytes(12).toString('base64url');
    const buttons: Button[] = [];
    return {
      add: (button) => {
        buttons.push({ label: button.label, command: button.command, ...(button.kind ? { kind: button.kind } : {}) });
        return { set, index: buttons.length - 1 };
      },
      save: async () => {
        if (!buttons.length) return;
        // One expiry for the message, its shortest: a Confirm never outlives the price it showed.
        const ttl = Math.min(...buttons.map((b) => (b.kind === 'confirm' || b.kind === 'cancel' ? this.ttl.confirmMs : this.ttl.otherMs)));
        await this.store.saveButtons(set, owner === undefined ? { buttons } : { owner, buttons }, this.now() + ttl);
      },
    };
  }

  /** What a press by `presser` (an identity key) would do, without using it up. */
  async lookup(ref: ButtonRef, presser: string): Promise<ButtonLookup> {
    if (!SET_ID.test(ref.set)) return { ok: false, reason: 'invalid' };
    const stored = await this.store.getButtons(ref.set, this.now());
    if (!stored) return { ok: false, reason: 'expired' };
    if (stored.used) return { ok: false, reason: 'used' };
    const button = stored.buttons[ref.index];
    if (!button) return { ok: false, reason: 'invalid' };
    if (stored.owner !== undefined && stored.owner !== presser) return { ok: false, reason: 'not-yours' };
    return { ok: true, ref, button };
  }

  /** Uses up the message's buttons: true for the first press only, on any instance. */
  take(ref: ButtonRef): Promise<boolean> {
    return this.store.takeButtons(ref.set, this.now());
  }
}
