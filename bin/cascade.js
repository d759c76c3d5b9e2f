#!/usr/bin/env node
// `npx cascade …` runs the built CLI (`npm run build` first, which `npm ci` does not).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/apps/cli/src/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('cascade: not built yet — run `npm run build` first\n');
  process.exit(2);
}
await import(entry.href);
