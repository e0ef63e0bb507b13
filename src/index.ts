/** Programmatic API of edgewatch: the same wiring the CLI uses. */
export { AGENT_VERSION as VERSION } from './version.js';
