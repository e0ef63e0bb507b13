/**
 * A throwaway PostgreSQL 15 cluster for tests: `initdb` in a temp folder owned by the `postgres` system user (the
 * server refuses to run as root), listening on 127.0.0.1 on a free port and on a Unix socket in that folder, fsync off.
 * Stopped (`pg_ctl stop -m fast`) and removed in `t.after`. When the binaries are absent the test is skipped with a
 * message saying how to get them (`.ci/run` installs Debian's `postgresql` package).
 *
 * ```ts
 * const pg = await startPostgres(t);
 * if (pg === null) return;                 // skipped: no PostgreSQL binaries
 * const url = await pg.createDatabase();   // postgres://edgewatch@127.0.0.1:<port>/<fresh db>
 * ```
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { unusedPort } from './ports.js';

const run = promisify(execFile);

/** Where Debian's `postgresql-15` package puts the server binaries (override with PG_BIN_DIR). */
export const PG_BIN_DIR = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
const USER = 'edgewatch';

/** A running throwaway cluster. */
export interface TestPostgres {
  /** Port on 127.0.0.1. */
  readonly port: number;
  /** `postgres://edgewatch@127.0.0.1:<port>/postgres` (trust authentication: the cluster only listens locally). */
  readonly adminUrl: string;
  /** Creates an empty database and returns its URL. */
  createDatabase(): Promise<string>;
}

/** Runs `args` as the postgres system user when we are root (initdb and postgres refuse root). */
function asPostgres(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const isRoot = process.getuid?.() === 0;
  return isRoot ? run('runuser', ['-u', 'postgres', '--', ...args]) : run(args[0] as string, args.slice(1));
}

let databases = 0;

/** A cluster not tied to a test (benches): `stop()` stops it and removes its folder. */
export interface PostgresCluster extends TestPostgres {
  stop(): Promise<void>;
}

/** True when the PostgreSQL server binaries are installed. */
export function postgresInstalled(): boolean {
  return existsSync(join(PG_BIN_DIR, 'initdb')) && existsSync(join(PG_BIN_DIR, 'pg_ctl'));
}

/** Starts a throwaway cluster (initdb as the postgres user in a temp folder, 127.0.0.1 on a free port, fsync off). */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'edgewatch-pg-'));
  const dataDir = join(dir, 'data');
  let started = false;
  const stop = async () => {
    if (started) await asPostgres([join(PG_BIN_DIR, 'pg_ctl'), '-D', dataDir, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
    started = false;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      await chown(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    await asPostgres([join(PG_BIN_DIR, 'initdb'), '-D', dataDir, '-U', USER, '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    const port = await unusedPort();
    const options = `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`;
    await asPostgres([join(PG_BIN_DIR, 'pg_ctl'), '-D', dataDir, '-l', join(dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
    started = true;
    const adminUrl = `postgres://${USER}@127.0.0.1:${port}/postgres`;
    return {
      port,
      adminUrl,
      stop,
      async createDatabase() {
        databases += 1;
        const name = `edgewatch_test_${process.pid}_${databases}`;
        const client = new pg.Client({ connectionString: adminUrl });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name}`);
        } finally {
          await client.end();
        }
        return `postgres://${USER}@127.0.0.1:${port}/${name}`;
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Starts a cluster for this test (stopped in `t.after`); null, with the test skipped, when PostgreSQL is not installed. */
export async function startPostgres(t: TestContext): Promise<TestPostgres | null> {
  if (!postgresInstalled()) {
    t.skip(`PostgreSQL server binaries not found in ${PG_BIN_DIR}: install Debian's postgresql package (.ci/run does) or set PG_BIN_DIR`);
    return null;
  }
  const cluster = await startPostgresCluster();
  t.after(() => cluster.stop());
  return cluster;
}

/** A database for the services of one test: SQLite (none given) or a fresh PostgreSQL database; the same for every start in that test. */
export type StoreBackend = (t: TestContext) => Promise<{ database?: string }>;

function memoBackend(make: () => Promise<{ database?: string }>): StoreBackend {
  const made = new WeakMap<TestContext, Promise<{ database?: string }>>();
  return (t) => {
    let db = made.get(t);
    if (db === undefined) made.set(t, (db = make()));
    return db;
  };
}

/**
 * Registers `cases` twice, as the tests "on SQLite" and "on PostgreSQL" (one throwaway cluster, a fresh database per
 * subtest; skipped with a message when PostgreSQL is not installed). `cases` passes `await on(t)` to every service it starts.
 */
export function testOnBothStores(cases: (t: TestContext, on: StoreBackend) => Promise<void>): void {
  test('on SQLite', (t) => cases(t, memoBackend(async () => ({}))));
  test('on PostgreSQL', async (t) => {
    const cluster = await startPostgres(t);
    if (cluster === null) return;
    await cases(t, memoBackend(async () => ({ database: await cluster.createDatabase() })));
  });
}
