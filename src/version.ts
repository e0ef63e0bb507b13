/** The agent's version, read from package.json (same relative path from src/ and dist/). */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Version of the installed edgewatch package. */
export const AGENT_VERSION: string = (require('../package.json') as { version: string }).version;
