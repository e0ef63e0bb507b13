/** Runs the CLI in-process with captured output, for end-to-end tests. */
import { Writable } from 'node:stream';
import { main } from '../../src/cli.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

function sink(chunks: string[]): Writable {
  return new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
}

/** `edgewatch <argv>` with the given environment; stdout and stderr captured. */
export async function runCli(argv: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: sink(out), err: sink(err), env });
  return { code, out: out.join(''), err: err.join('') };
}
