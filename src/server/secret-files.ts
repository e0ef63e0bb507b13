/** The service's secrets and private files on disk: the API token and the JWT secret, each created once with mode 0600 in the data folder. */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgewatchError } from '../errors.js';

/** Reads `file`, or creates it with `make()` (atomically, mode 0600; the first of concurrent creators wins). Returns the value and whether it was created now. */
function readOrCreate(file: string, make: () => string): { value: string; created: boolean } {
  try {
    const value = readFileSync(file, 'utf8').trim();
    if (value !== '') return { value, created: false };
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new EdgewatchError('EW_SERVER_CONFIG', `Cannot read ${file}: ${(cause as Error).message}.`, { cause, details: { path: file } });
    }
  }
  const value = make();
  // Written whole to a private temp file, then linked into place: the link fails if another process (a replica starting
  // on the same data folder) created the file first, and then its value is the one every process uses.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, `${value}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(temp, 0o600);
    try {
      linkSync(temp, file);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw cause;
      const existing = readFileSync(file, 'utf8').trim();
      if (existing !== '') return { value: existing, created: false };
      renameSync(temp, file); // an empty file left by an older version: replaced
    }
  } catch (cause) {
    throw new EdgewatchError('EW_SERVER_CONFIG', `Cannot write ${file}: ${(cause as Error).message}. Check that the data folder is writable.`, { cause, details: { path: file } });
  } finally {
    rmSync(temp, { force: true });
  }
  return { value, created: true };
}

/** The API token: the configured one, else `<dataDir>/token` (generated on first start). */
export function loadToken(dataDir: string, configured: string | undefined): { token: string; created: boolean } {
  if (configured !== undefined) return { token: configured, created: false };
  const { value, created } = readOrCreate(join(dataDir, 'token'), () => `ew_${randomBytes(24).toString('base64url')}`);
  return { token: value, created };
}

/**
 * The HS256 key of the JWTs and dashboard sessions for `token`: derived from the secret stored in
 * `<dataDir>/jwt-secret` and a hash of the API token, so that restarting with the same token keeps
 * sessions while a new token invalidates every JWT and cookie signed before.
 */
export function loadJwtSecret(dataDir: string, token: string): Buffer {
  return signingKey(Buffer.from(readOrCreate(join(dataDir, 'jwt-secret'), () => randomBytes(32).toString('base64url')).value, 'base64url'), token);
}

/** The signing key of `token` from the stored secret (HMAC-SHA256 of the token's SHA-256). */
export function signingKey(storedSecret: Buffer, token: string): Buffer {
  return createHmac('sha256', storedSecret).update('edgewatch jwt key:').update(createHash('sha256').update(token).digest()).digest();
}

/** Creates `file` empty with mode 0600 unless it exists, and makes it 0600 if it does (e.g. the database, before SQLite opens it). */
export function makePrivateFile(file: string): void {
  try {
    closeSync(openSync(file, 'a', 0o600));
    chmodSync(file, 0o600);
  } catch (cause) {
    throw new EdgewatchError('EW_SERVER_CONFIG', `Cannot create ${file}: ${(cause as Error).message}. Check that the data folder is writable.`, { cause, details: { path: file } });
  }
}
