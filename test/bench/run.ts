/**
 * `npm run bench` runs every benchmark; `npm run bench -- <name>` runs one. Each prints a readable
 * table and adds its figures to bench-results.json (a flat object with dotted keys) in the
 * working folder, keeping the keys of benchmarks not run this time.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { BENCHMARKS } from './index';

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = wanted.filter((name) => !BENCHMARKS[name]);
if (unknown.length) {
  console.error(`Unknown benchmark ${unknown.join(', ')}. Known: ${Object.keys(BENCHMARKS).join(', ')}`);
  process.exit(2);
}
const file = 'bench-results.json';
const results: Record<string, number> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
for (const name of wanted.length ? wanted : Object.keys(BENCHMARKS)) {
  console.log(`\n== ${name}`);
  const figures = await BENCHMARKS[name]!();
  Object.assign(results, figures);
  for (const [key, value] of Object.entries(figures)) console.log(`${key.padEnd(40)} ${value}`);
}
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nWrote ${file}`);
process.exit(0);
