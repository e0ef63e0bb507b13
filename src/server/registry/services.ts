/** The registry side of the service in one object: its database connection, the model registry, reviews and the URL signer. */
import type Database from 'better-sqlite3';
import { ReviewStore } from '../reviews/review-store.js';
import { openRegistryDb } from './registry-db.js';
import { ModelRegistry } from './registry-store.js';
import { UrlSigner } from './signed-urls.js';

/** What the registry, review and verdict routes share. `close()` is idempotent. */
export interface RegistryServices {
  models: ModelRegistry;
  reviews: ReviewStore;
  signer: UrlSigner;
  close(): void;
}

/** Opens the registry tables in the monitoring database `file` (after the prediction store created it). */
export function openRegistryServices(file: string, secret: Buffer): RegistryServices {
  const db: Database.Database = openRegistryDb(file);
  let closed = false;
  return {
    models: new ModelRegistry(db),
    reviews: new ReviewStore(db),
    signer: new UrlSigner(secret),
    close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
