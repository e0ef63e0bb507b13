/** `node --import tsx test/helpers/cli-entry.ts <argv…>`: the CLI from the sources, as bin/edgewatch.js runs it from dist/. */
import { main } from '../../src/cli.js';

process.exitCode = await main(process.argv.slice(2));
