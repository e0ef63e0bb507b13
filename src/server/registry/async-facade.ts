/** The synchronous SQLite classes of the registry and reviews behind their asynchronous store interfaces (resolved promises). */
import type { Async } from '../store-api.js';

/** Every public method of `target`'s class, answering a resolved promise (a thrown error becomes a rejection). */
export function asyncFacade<T extends object>(target: T): Async<T> {
  const facade: Record<string, unknown> = {};
  const proto = Object.getPrototypeOf(target) as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const method = proto[name];
    if (name === 'constructor' || typeof method !== 'function') continue;
    facade[name] = async (...args: unknown[]) => (method as (...a: unknown[]) => unknown).apply(target, args);
  }
  return facade as Async<T>;
}
