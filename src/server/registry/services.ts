/** The registry side of the service in one object: its store (SQLite or PostgreSQL), the model registry, reviews and the URL signer. */
import type Database from 'better-sqlite3';
import type { ServerLogger } from '../context.js';
import { ModelAssignmentListener } from '../pg/model-assignment.js';
import { PgModelRegistry } from '../pg/pg-registry.js';
import { PgReviewStore } from '../pg/pg-reviews.js';
import type { PgSql } from '../pg/pg-store.js';
import { ReviewStore } from '../reviews/review-store.js';
import type { RegistryStore, ReviewsStore } from '../store-api.js';
import { asyncFacade } from './async-facade.js';
import { openRegistryDb } from './registry-db.js';
import { ModelRegistry } from './registry-store.js';
import { UrlSigner } from './signed-urls.js';

/** What the registry, review and verdict routes share. `close()` is idempotent. */
export interface RegistryServices {
  models: RegistryStore;
  reviews: ReviewsStore;
  signer: UrlSigner;
  close(): Promise<void>;
}

/** The registry's synchronous SQLite classes on their own connection (benches, imports); `openRegistryServices` wraps them. */
export function openSqliteRegistry(file: string): { models: ModelRegistry; reviews: ReviewStore; close(): void } {
  const db: Database.Database = openRegistryDb(file);
  return { models: new ModelRegistry(db), reviews: new ReviewStore(db), close: () => db.close() };
}

/** Opens the registry tables in the monitoring database `file` (after the prediction store created it). */
export function openRegistryServices(file: string, secret: Buffer): RegistryServices {
  const sqlite = openSqliteRegistry(file);
  let closed = false;
  return {
    models: asyncFacade(sqlite.models),
    reviews: asyncFacade(sqlite.reviews),
    signer: new UrlSigner(secret),
    async close() {
      if (closed) return;
      closed = true;
      sqlite.close();
    },
  };
}

/**
 * The registry on the service's PostgreSQL database (tables created with the store's). `changed` is called when another
 * replica (or this one) changes a deployment's champion/shadow, so that this replica stamps predictions with them.
 */
export async function openPgRegistryServices(
  sql: PgSql,
  secret: Buffer,
  changed: (services: RegistryServices, deploymentId: string | null) => Promise<void>,
  logger: ServerLogger,
): Promise<RegistryServices> {
  let listener: ModelAssignmentListener | null = null;
  let closed: Promise<void> | null = null;
  const services: RegistryServices = {
    models: new PgModelRegistry(sql),
    reviews: new PgReviewStore(sql),
    signer: new UrlSigner(secret),
    close() {
      closed ??= listener?.close() ?? Promise.resolve();
      return closed;
    },
  };
  listener = new ModelAssignmentListener(sql, (id) => changed(services, id), logger);
  await listener.start();
  return services;
}
