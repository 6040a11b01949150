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

  constructor(private readonly rounds = 10) {
    this.decoy = bcrypt.hash(randomUUID(), rounds);
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.rounds);
  }

  async verify(password: string, hash: string | null): Promise<boolean> {
    const matches = await bcrypt.compare(password, hash ?? (await this.decoy));
    return hash !== null && matches;
  }
}
