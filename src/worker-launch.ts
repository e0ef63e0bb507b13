/** How a worker thread's entry module is started, from the TypeScript sources or from the build (model hosts, the service's stats and checkpoint workers). */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The `Worker` script of the entry `name` (without extension) next to the module at `base` (its `import.meta.url`).
 * From the TypeScript sources (tests, tsx) Node 20 does not apply `--import` loaders to a worker's entry, so a
 * bootstrap registers tsx in the thread first; from the build it is the `.js` entry itself.
 */
export function workerScript(base: string, name: string): { script: string | URL; eval: boolean } {
  if (extname(fileURLToPath(base)) === '.ts') {
    const entry = new URL(`./${name}.ts`, base).href;
    const tsxApi = import.meta.resolve('tsx/esm/api');
    return { script: `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, eval: true };
  }
  return { script: new URL(`./${name}.js`, base), eval: false };
}
