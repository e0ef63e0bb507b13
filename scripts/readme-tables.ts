/** Regenerates the reference tables inside README.md from the schemas and the error catalogue: `node --import tsx scripts/readme-tables.ts`. */
import { readFileSync, writeFileSync } from 'node:fs';
import { readmeSections } from './readme-sections.js';
import { replaceSection } from '../src/docs/reference-tables.js';

const path = new URL('../README.md', import.meta.url);
let doc = readFileSync(path, 'utf8');
for (const [name, content] of Object.entries(await readmeSections())) doc = replaceSection(doc, name, content);
writeFileSync(path, doc);
console.log('README.md tables updated');
