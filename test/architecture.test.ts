/** The layout is the architecture: core/ stays free of SDKs, databases and HTTP libraries. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
/** What core/ may import besides its own files. */
const CORE_MAY_IMPORT = new Set(['zod', 'decimal.js', 'node:crypto']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []);
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)]
    .map((m) => m[1] ?? m[2] ?? m[3]!);
}

describe('architecture', () => {
  const coreFiles = sourceFiles(join(ROOT, 'core'));

  it('finds the core sources', () => {
    expect(coreFiles.length).toBeGreaterThan(10);
  });

  it('core imports only zod, decimal.js, node:crypto and its own files', () => {
    const offending = coreFiles.flatMap((file) =>
      importsOf(file)
        .filter((spec) => {
          if (spec.startsWith('.')) return !resolve(file, '..', spec).startsWith(join(ROOT, 'core'));
          return !CORE_MAY_IMPORT.has(spec);
        })
        .map((spec) => `${relative(ROOT, file)} imports ${spec}`));
    expect(offending).toEqual([]);
  });

  it('the import scanner sees a forbidden import', () => {
    // Guards the test above against a regex that matches nothing.
    const sample = join(ROOT, 'core', 'dispatcher.ts');
    expect(importsOf(sample)).toContain('zod');
  });

  it('adapters do not reach into infra, and infra does not reach into adapters', () => {
    const crossing = [
      ...sourceFiles(join(ROOT, 'adapters')).flatMap((f) => importsOf(f).filter((s) => s.includes('/infra/')).map((s) => `${relative(ROOT, f)} → ${s}`)),
      ...sourceFiles(join(ROOT, 'infra')).flatMap((f) => importsOf(f).filter((s) => s.includes('/adapters/')).map((s) => `${relative(ROOT, f)} → ${s}`)),
    ];
    expect(crossing).toEqual([]);
  });
});
