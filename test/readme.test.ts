/** README.md and .env.example stay in step with the code they document. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_COMMANDS } from '../core/commands';
import { usageOf } from '../core/registry';
import { ConfigSchema } from '../src/config';
import { BENCHMARKS } from './bench/index';

const ROOT = resolve(import.meta.dirname, '..');
const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
const envExample = readFileSync(resolve(ROOT, '.env.example'), 'utf8');

describe('documentation', () => {
  it('lists every command with its usage, and no command that does not exist', () => {
    const documented = [...readme.matchAll(/^\| `(\/[^`]+)` \|/gm)].map((m) => m[1]!.replace(/\\\|/g, '|'));
    expect(documented.sort()).toEqual(ALL_COMMANDS.map(usageOf).sort());
  });

  it('documents every configuration variable in README.md and .env.example', () => {
    const keys = Object.keys(ConfigSchema.shape);
    expect(keys.filter((k) => !readme.includes(`\`${k}\``))).toEqual([]);
    expect(keys.filter((k) => k !== 'NODE_ENV' && !new RegExp(`^${k}=`, 'm').test(envExample))).toEqual([]);
  });

  it('names every benchmark npm run bench knows', () => {
    const documented = [...readme.matchAll(/^\| `([a-z-]+)` \| /gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(BENCHMARKS).sort());
  });

  it('gives a new user the two commands', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
  });
});
