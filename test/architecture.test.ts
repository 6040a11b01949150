/** The layout is the architecture: core/ stays free of SDKs, databases and HTTP libraries. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const CORE = join(ROOT, 'core');
/** What core/ may import besides its own files. */
const CORE_MAY_IMPORT = new Set(['zod', 'decimal.js', 'node:crypto']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []);
}

/** Every module a source text names: static imports and re-exports, side-effect imports,
 *  dynamic import() and require(). */
function importsIn(text: string): string[] {
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)]
    .map((m) => m[1] ?? m[2] ?? m[3] ?? m[4]!);
}

/** What a core file at `file` (its text given) imports that core may not: packages outside the
 *  allowed list, and relative paths that leave core/. */
function coreViolations(file: string, text: string): string[] {
  return importsIn(text)
    .filter((spec) => {
      if (spec.startsWith('.')) {
        const target = resolve(file, '..', spec);
        return target !== CORE && !target.startsWith(CORE + '/');
      }
      return !CORE_MAY_IMPORT.has(spec);
    })
    .map((spec) => `${relative(ROOT, file)} imports ${spec}`);
}

describe('architecture', () => {
  const coreFiles = sourceFiles(CORE);

  it('finds the core sources', () => {
    expect(coreFiles.length).toBeGreaterThan(10);
  });

  it('core imports only zod, decimal.js, node:crypto and its own files', () => {
    const offending = coreFiles.flatMap((file) => coreViolations(file, readFileSync(file, 'utf8')));
    expect(offending).toEqual([]);
  });

  it('the checker flags a forbidden import in a core file, in every import form', () => {
    // A made-up core file: the checker must report each of these, or the test above proves nothing.
    const file = join(CORE, 'commands', 'made-up.ts');
    const source = [
      "import Database from 'better-sqlite3';",
      "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';",
      'import type {',
      '  Telegram,',
      "} from 'telegraf';",
      "export { pino } from 'pino';",
      "import 'node:http';",
      "const later = await import('@aws-sdk/client-sns');",
      "const old = require('crypto');",
      "import { SqliteStore } from '../../infra/sqlite/sqlite-store';",
      "import { startBot } from '../../adapters/telegram/bot';",
      "import { helper } from '../../core-extras/helper';",
      // Allowed: these must not be reported.
      "import { z } from 'zod';",
      "import Decimal from 'decimal.js';",
      "import { createHash } from 'node:crypto';",
      "import { dec } from '../money';",
      "import type { Store } from '../ports';",
    ].join('\n');
    expect(coreViolations(file, source)).toEqual([
      'core/commands/made-up.ts imports better-sqlite3',
      'core/commands/made-up.ts imports @aws-sdk/client-dynamodb',
      'core/commands/made-up.ts imports telegraf',
      'core/commands/made-up.ts imports pino',
      'core/commands/made-up.ts imports node:http',
      'core/commands/made-up.ts imports @aws-sdk/client-sns',
      'core/commands/made-up.ts imports crypto',
      'core/commands/made-up.ts imports ../../infra/sqlite/sqlite-store',
      'core/commands/made-up.ts imports ../../adapters/telegram/bot',
      'core/commands/made-up.ts imports ../../core-extras/helper',
    ]);
  });

  it('adapters do not reach into infra, and infra does not reach into adapters', () => {
    const importsOf = (file: string) => importsIn(readFileSync(file, 'utf8'));
    const crossing = [
      ...sourceFiles(join(ROOT, 'adapters')).flatMap((f) => importsOf(f).filter((s) => s.includes('/infra/')).map((s) => `${relative(ROOT, f)} → ${s}`)),
      ...sourceFiles(join(ROOT, 'infra')).flatMap((f) => importsOf(f).filter((s) => s.includes('/adapters/')).map((s) => `${relative(ROOT, f)} → ${s}`)),
    ];
    expect(crossing).toEqual([]);
  });
});
