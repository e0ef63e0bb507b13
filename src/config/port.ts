/** The schema of a TCP port a command listens on, shared by the agent's, the service's and the demo's configurations. */
import { z } from 'zod';

/** A port to listen on: an integer from 0 to 65535, 0 picking a free one. Add `.default()`/`.optional()` and the description per field. */
export function listenPort() {
  return z.number().int().min(0).max(65535);
}
