/**
 * After `tsc -p tsconfig.build.json`: gives the relative import specifiers of the emitted
 * JavaScript the file names Node's ESM loader needs. The sources import without extensions
 * (`'../core/ports'`, `'./commands'` for a folder's index), which tsc, tsx and vitest resolve
 * (moduleResolution Bundler) but Node does not: tsc copies specifiers as written. Each one is
 * resolved against the emitted files, to `<x>.js` or `<x>/index.js`; one that resolves to neither
 * stops the build, so nothing is guessed. Usage: node tools/esm-specifiers.mjs [dist]
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? 'dist');
// `from '…'`, `import '…'`, `import('…')` with a relative specifier.
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*)\2/g;

function* jsFiles(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* jsFiles(path);
    else if (name.endsWith('.js')) yield path;
  }
}

const unresolved = [];
let rewritten = 0;
for (const file of jsFiles(root)) {
  const text = readFileSync(file, 'utf8');
  const out = text.replace(SPECIFIER, (whole, lead, quote, spec) => {
    const base = resolve(dirname(file), spec);
    if (/\.(m?js|json)$/.test(spec) && existsSync(base)) return whole;
    const target = existsSync(`${base}.js`) ? `${spec}.js` : existsSync(join(base, 'index.js')) ? `${spec.replace(/\/$/, '')}/index.js` : undefined;
    if (!target) {
      unresolved.push(`${file}: ${spec}`);
      return whole;
    }
    rewritten++;
    return `${lead}${quote}${target}${quote}`;
  });
  if (out !== text) writeFileSync(file, out);
}
if (unresolved.length) {
  console.error(`Relative imports with no emitted file:\n  ${unresolved.join('\n  ')}`);
  process.exit(1);
}
console.log(`esm-specifiers: ${rewritten} relative imports given their file names in ${root}`);
