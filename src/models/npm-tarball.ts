/** Fetches an npm package tarball with `npm pack` (no install, no scripts), checks its integrity, and extracts chosen members with `tar`. */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgewatchError } from '../errors.js';

/** A tarball on disk whose integrity matched. */
export interface FetchedTarball {
  file: string;
  integrity: string;
  bytes: number;
  /** True when the file was already in the cache (no network used). */
  cached: boolean;
}

/** The file name `npm pack` gives a package's tarball (`@scope/name` → `scope-name-<v>.tgz`). */
export function tarballFileName(pkg: string, version: string): string {
  return `${pkg.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
}

/** The `sha512-<base64>` Subresource Integrity string of a file. */
export async function fileIntegrity(file: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha512-${hash.digest('base64')}`;
}

/**
 * Makes sure `cacheDir` holds the tarball of `pkg@version` with integrity `integrity`: reuses a cached
 * copy that matches, else runs `npm pack <spec> --pack-destination <cacheDir>`. Throws EW_PULL_FAILED
 * when npm fails and EW_PULL_VERIFY when the bytes do not match `integrity`.
 */
export async function fetchTarball(pkg: string, version: string, integrity: string, cacheDir: string, spec = `${pkg}@${version}`): Promise<FetchedTarball> {
  await mkdir(cacheDir, { recursive: true });
  const file = join(cacheDir, tarballFileName(pkg, version));
  if (await exists(file)) {
    if ((await fileIntegrity(file)) === integrity) return { file, integrity, bytes: (await stat(file)).size, cached: true };
  }
  let stdout: string;
  try {
    stdout = await run('npm', ['pack', spec, '--json', '--ignore-scripts', '--pack-destination', cacheDir], 300_000);
  } catch (err) {
    throw new EdgewatchError('EW_PULL_FAILED', `npm pack ${spec} failed: ${(err as Error).message.split('\n').slice(0, 3).join(' ')} (is the npm registry reachable?)`, {
      cause: err,
      details: { spec },
    });
  }
  const reported = parsePackJson(stdout, spec);
  if (reported.filename !== tarballFileName(pkg, version)) {
    throw new EdgewatchError('EW_PULL_VERIFY', `npm pack ${spec} produced ${reported.filename}, expected ${tarballFileName(pkg, version)}: the spec names another package or version.`, {
      details: { spec, filename: reported.filename },
    });
  }
  const actual = await fileIntegrity(file);
  if (actual !== integrity || reported.integrity !== integrity) {
    throw new EdgewatchError('EW_PULL_VERIFY', `The tarball of ${pkg}@${version} has integrity ${actual}, expected ${integrity}: refusing to use it.`, {
      details: { package: pkg, version, expected: integrity, actual, reported: reported.integrity },
    });
  }
  return { file, integrity, bytes: (await stat(file)).size, cached: false };
}

/**
 * Extracts the given members (paths inside the tarball, e.g. `package/LICENSE`, or folders) into
 * `destDir` with GNU tar, never restoring owners or permissions. GNU tar refuses members that climb
 * out of `destDir`. Throws EW_PULL_FAILED when tar fails (e.g. a member is missing).
 */
export async function extractMembers(tarball: string, destDir: string, members: string[]): Promise<void> {
  await mkdir(destDir, { recursive: true });
  try {
    await run('tar', ['-xzf', tarball, '-C', destDir, '--no-same-owner', '--no-same-permissions', '--', ...members], 300_000);
  } catch (err) {
    throw new EdgewatchError('EW_PULL_FAILED', `Extracting ${members.join(', ')} from ${tarball} failed: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`, {
      cause: err,
      details: { tarball, members },
    });
  }
}

function parsePackJson(stdout: string, spec: string): { filename: string; integrity: string } {
  try {
    // npm may print lifecycle noise before the JSON array.
    const parsed = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename?: unknown; integrity?: unknown }>;
    const first = parsed[0];
    if (first && typeof first.filename === 'string' && typeof first.integrity === 'string') return { filename: first.filename, integrity: first.integrity };
  } catch {
    // fall through to the error below
  }
  throw new EdgewatchError('EW_PULL_FAILED', `npm pack ${spec} printed no usable --json result.`, { details: { spec } });
}

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${err.message}${stderr ? `\n${stderr}` : ''}`, { cause: err }));
        return;
      }
      resolve(stdout);
    });
  });
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
