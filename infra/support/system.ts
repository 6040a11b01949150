/** The real clock, random ids and bcrypt password hashing behind the core's ports. */
import { randomUUID } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { Clock, IdGenerator, PasswordHasher } from '../../core/ports';

export const systemClock: Clock = { now: () => Date.now() };

export const uuidIds: IdGenerator = { next: () => randomUUID() };

export class BcryptPasswords implements PasswordHasher {
  /** A hash of nothing anyone knows, verified against when there is no real one, so timing
   *  does not tell which accounts exist. */
  private readonly decoy: Promise<string>;

  /** Cost 12: about a quarter of a second per hash here, which is what makes a leaked hash
   *  expensive to guess (OWASP's floor for bcrypt is 10). Tests pass a lower cost. */
  constructor(private readonly rounds = 12) {
    this.decoy = bcrypt.hash(randomUUID(), rounds);
  }

  hash(password: string): Promise<string> {
    // bcrypt would silently ignore everything past 72 bytes; the core refuses such passwords,
    // and this makes sure no path around it stores a hash of a cut-short password.
    if (bcrypt.truncates(password)) return Promise.reject(new Error('password longer than 72 bytes'));
    return bcrypt.hash(password, this.rounds);
  }

  async verify(password: string, hash: string | null): Promise<boolean> {
    const matches = await bcrypt.compare(password, hash ?? (await this.decoy));
    return hash !== null && matches;
  }
}
