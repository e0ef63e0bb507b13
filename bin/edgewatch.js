#!/usr/bin/env node
// Entry point of the `edgewatch` command: runs the compiled CLI (built by `npm ci` / `npm run build`).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('edgewatch: dist/ is missing; run `npm run build` (npm ci does it) first.\n');
  process.exit(2);
}
const { main } = await import(cli.href);
const code = await main(process.argv.slice(2));
process.exit(code);
