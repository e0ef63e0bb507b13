/** The dashboard's static files: a fixed whitelist loaded into memory at start, so no request path ever reaches the file system. */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgewatchError } from '../errors.js';

/** One servable file. */
export interface StaticFile {
  body: Buffer;
  contentType: string;
}

const DASHBOARD_FILES: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/charts.js': ['charts.js', 'text/javascript; charset=utf-8'],
  '/dom.js': ['dom.js', 'text/javascript; charset=utf-8'],
  '/review.js': ['review.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
  '/favicon.svg': ['favicon.svg', 'image/svg+xml'],
};

/** Folder of index.html/app.js/style.css: next to this module in the sources, or under src/ when running from dist/. */
export function dashboardDir(): string {
  const candidates = [fileURLToPath(new URL('./dashboard/', import.meta.url)), fileURLToPath(new URL('../../src/server/dashboard/', import.meta.url))];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (found === undefined) throw new EdgewatchError('EW_SERVER_CONFIG', `Dashboard files not found (looked in ${candidates.join(', ')}).`);
  return found;
}

/** Loads every dashboard file and uPlot (from node_modules, served as /vendor/...). */
export function loadStaticFiles(dir = dashboardDir()): ReadonlyMap<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const [route, [name, contentType]] of Object.entries(DASHBOARD_FILES)) files.set(route, { body: readFileSync(join(dir, name)), contentType });
  const require = createRequire(import.meta.url);
  files.set('/vendor/uPlot.iife.min.js', { body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')), contentType: 'text/javascript; charset=utf-8' });
  files.set('/vendor/uPlot.min.css', { body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')), contentType: 'text/css; charset=utf-8' });
  return files;
}
