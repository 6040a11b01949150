/**
 * What SNS accepts, as pure functions: topic names per user, and subjects and bodies an email
 * publish will not be refused for.
 */
import { createHash } from 'node:crypto';

/** SNS standard topic names: 1 to 256 of A-Z a-z 0-9 _ -. */
export const TOPIC_NAME = /^[A-Za-z0-9_-]{1,256}$/;
/** "Subjects must be ... less than 100 characters long." */
export const SUBJECT_MAX = 99;
/** Publish messages are at most 256 KiB of UTF-8. */
export const MESSAGE_MAX_BYTES = 262_144;
export const FALLBACK_SUBJECT = 'CryptoPulse notification';

/**
 * The topic of one user's email: `${prefix}${username}`. Usernames are 3-32 of [a-z0-9_], so
 * with a prefix of up to 100 of [A-Za-z0-9_-] the name is always valid and readable. A username
 * outside [A-Za-z0-9_] (none today) gets a sanitized name plus a hash, which always contains a
 * '-' that plain names never do, so two usernames never share a topic.
 */
export function topicNameFor(prefix: string, username: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(prefix) || prefix.length > 200) throw new Error('SNS topic prefix must be at most 200 of A-Z a-z 0-9 _ -');
  if (username.length === 0) throw new Error('SNS topic for an empty username');
  const plain = `${prefix}${username}`;
  if (/^[A-Za-z0-9_]+$/.test(username) && plain.length <= 256) return plain;
  const hash = createHash('sha256').update(username).digest('hex').slice(0, 16);
  const readable = username.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 256 - prefix.length - hash.length - 1);
  return `${prefix}${readable}-${hash}`;
}

const REPLACEMENTS: Array<[RegExp, string]> = [
  [/CN¥/g, 'CNY '],
  [/€/g, 'EUR '],
  [/£/g, 'GBP '],
  [/¥/g, 'JPY '],
  [/₹/g, 'INR '],
  [/₩/g, 'KRW '],
  [/₿/g, 'BTC '],
  [/[‘’‚′]/g, "'"],
  [/[“”„″]/g, '"'],
  [/[‐‑‒–—―−]/g, '-'],
  [/…/g, '...'],
  [/[×]/g, 'x'],
];

/**
 * A subject SNS accepts for email: printable ASCII on one line, starting with a letter, digit or
 * punctuation, under 100 characters (cut at a word with "..." when longer). Accents lose their
 * marks, currency signs become codes, anything else outside ASCII (emoji) is dropped.
 */
export function sanitizeSubject(subject: string): string {
  let text = subject.normalize('NFKD').replace(/\p{M}/gu, '');
  for (const [pattern, replacement] of REPLACEMENTS) text = text.replace(pattern, replacement);
  text = text
    .replace(/[\u0000-\u001f\u007f\s]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '')
    .replace(/ {2,}/g, ' ')
    .trim();
  if (text.length > SUBJECT_MAX) {
    const cut = text.slice(0, SUBJECT_MAX - 3);
    const space = cut.lastIndexOf(' ');
    text = `${(space >= SUBJECT_MAX / 2 ? cut.slice(0, space) : cut).trimEnd()}...`;
  }
  return text || FALLBACK_SUBJECT;
}

/** A message body SNS accepts: non-empty, no NULs or other control characters besides line breaks
 *  and tabs, at most 256 KiB of UTF-8 (cut on a character boundary, with a note). */
export function sanitizeBody(body: string, subject: string): string {
  let text = body.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '');
  if (!text.trim()) text = subject;
  if (Buffer.byteLength(text, 'utf8') <= MESSAGE_MAX_BYTES) return text;
  const note = '\n[message shortened]';
  const budget = MESSAGE_MAX_BYTES - Buffer.byteLength(note, 'utf8');
  const bytes = Buffer.from(text, 'utf8').subarray(0, budget);
  // Drop a multi-byte character cut in half at the end.
  return bytes.toString('utf8').replace(/\uFFFD+$/, '') + note;
}
