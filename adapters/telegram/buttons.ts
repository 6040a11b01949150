/**
 * What inline buttons mean. Telegram hands back at most 64 bytes of callback data, and anyone in a
 * group can press a button, so the data is only a random handle (`c:` + 11 characters) into this
 * table: the command line to run, the kind (confirm / cancel / refresh), who may press it, and when it
 * expires. Buttons of one message are minted together and retired together once one is pressed
 * (the message is then edited, so its old buttons are gone). Kept in memory: after a restart old
 * buttons answer "expired", which is what they should do.
 */
import { randomBytes } from 'node:crypto';
import type { Button } from '../../core/messages';

export interface ButtonEntry {
  command: string;
  kind?: Button['kind'];
  label: string;
  /** Telegram user id of the only person who may press it; anyone when absent (broadcasts). */
  userId?: string;
  /** The message's buttons share one id and retire together. */
  render: string;
  expiresAt: number;
}

export type ButtonLookup = { ok: true; id: string; entry: ButtonEntry } | { ok: false; reason: 'invalid' | 'expired' | 'used' };

export interface ButtonTtls {
  /** Confirm / Cancel: the price shown should still be close. Default 5 min. */
  confirmMs: number;
  /** Refresh and paging. Default 1 h. */
  otherMs: number;
}

const DATA = /^c:([A-Za-z0-9_-]{11})$/;

export class ButtonStore {
  private readonly entries = new Map<string, ButtonEntry>();
  private readonly renders = new Map<string, string[]>();
  /** Ids of buttons retired by a press, remembered a while so a second tap hears "already done". */
  private readonly used = new Set<string>();

  constructor(
    private readonly now: () => number,
    private readonly ttl: ButtonTtls = { confirmMs: 5 * 60_000, otherMs: 60 * 60_000 },
    private readonly max = 50_000,
  ) {}

  /** A fresh id for the buttons of one message. */
  newRender(): string {
    return randomBytes(6).toString('base64url');
  }

  /** Stores a button and returns its callback data. */
  mint(render: string, button: Button, userId?: string): string {
    if (this.entries.size >= this.max) this.sweep();
    const id = randomBytes(8).toString('base64url');
    const ttl = button.kind === 'confirm' || button.kind === 'cancel' ? this.ttl.confirmMs : this.ttl.otherMs;
    this.entries.set(id, { command: button.command, kind: button.kind, label: button.label, userId, render, expiresAt: this.now() + ttl });
    const siblings = this.renders.get(render);
    if (siblings) siblings.push(id);
    else this.renders.set(render, [id]);
    return `c:${id}`;
  }

  lookup(data: string | undefined): ButtonLookup {
    const match = data ? DATA.exec(data) : null;
    if (!match) return { ok: false, reason: 'invalid' };
    const id = match[1]!;
    const entry = this.entries.get(id);
    if (!entry) return { ok: false, reason: this.used.has(id) ? 'used' : 'expired' };
    if (this.now() >= entry.expiresAt) {
      this.retire(entry.render, false);
      return { ok: false, reason: 'expired' };
    }
    return { ok: true, id, entry };
  }

  /** Retires every button of a message after a press; true for the first caller only. */
  retire(render: string, pressed = true): boolean {
    const ids = this.renders.get(render);
    if (!ids) return false;
    this.renders.delete(render);
    for (const id of ids) {
      this.entries.delete(id);
      if (pressed) this.used.add(id);
    }
    while (this.used.size > 10_000) this.used.delete(this.used.values().next().value!);
    return true;
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const entry of this.entries.values()) if (now >= entry.expiresAt) this.retire(entry.render, false);
    // Still full: the oldest go first (Map keeps insertion order).
    for (const entry of this.entries.values()) {
      if (this.entries.size < this.max * 0.9) break;
      this.retire(entry.render, false);
    }
  }
}
