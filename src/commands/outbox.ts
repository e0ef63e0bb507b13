/** `edgewatch outbox list|retry|purge`: inspects and replays dead-lettered predictions in the state database. */
import { z } from 'zod';
import { loadConfig, helpText } from '../config/load.js';
import { EdgewatchError, EXIT } from '../errors.js';
import { escapeControl } from '../log.js';
import { openStateDb } from '../state/state-db.js';
import { Ledger } from '../state/ledger.js';
import { Outbox } from '../state/outbox.js';
import { SinkQueue } from '../state/sink-queue.js';
import type { Io } from './io.js';

/** Options of `edgewatch outbox`. */
export const outboxConfigSchema = z
  .object({
    stateDir: z.string().min(1).default('.edgewatch').describe('Folder of the agent state database (same as `run --state-dir`).'),
    id: z.array(z.string().min(4)).optional().describe('Image id (or prefix) to act on; repeatable. Default: all dead letters.'),
    limit: z.number().int().min(1).default(50).describe('Rows shown by `list`.'),
    json: z.boolean().default(false).describe('Print `list` as JSON lines.'),
  })
  .strict();

/** Runs `edgewatch outbox list|retry|purge <argv…>` and resolves to the exit code; usage errors are thrown (EW_USAGE). */
export async function outboxCommand(argv: string[], io: Io): Promise<number> {
  const [action, ...rest] = argv;
  if (!action || action === '--help' || !['list', 'retry', 'purge'].includes(action)) {
    io.out.write(`edgewatch outbox list|retry|purge [options]\n  list: dead letters (newest first) and queue counts, of the monitor calls and of each result sink\n  retry: move dead letters back into the outbox or their sink's queue (the running or next \`run\` sends them)\n  purge: delete dead letters\n\n${helpText(outboxConfigSchema)}\n`);
    if (action === '--help') return EXIT.OK;
    throw new EdgewatchError('EW_USAGE', `outbox needs one of list, retry, purge${action ? ` (got "${action}")` : ''}.`);
  }
  const { config } = loadConfig(outboxConfigSchema, { argv: rest, env: io.env });
  const db = openStateDb(config.stateDir);
  try {
    const outbox = new Outbox(db, { maxEntries: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER });
    // The result sinks' queues and dead letters (see README "Result sinks"), listed and replayed alike.
    const sinks = new SinkQueue(db, SinkQueue.sinksIn(db), Number.MAX_SAFE_INTEGER);
    if (action === 'list') {
      const counts = outbox.counts();
      const dead = outbox.listDead(config.limit);
      if (config.json) {
        for (const d of dead) io.out.write(`${JSON.stringify(d)}\n`);
        for (const sink of sinks.sinks) for (const d of sinks.listDead(sink, config.limit)) io.out.write(`${JSON.stringify({ sink, ...d })}\n`);
      } else {
        const late = counts.lateShadows;
        const lateLine = late.queued + late.delivered + late.dead > 0 ? `; late shadows: queued ${late.queued}, delivered ${late.delivered}, dead ${late.dead}` : '';
        io.out.write(`queued ${counts.queued}, delivered ${counts.delivered}, dead ${counts.dead}${lateLine}\n`);
        for (const d of dead) {
          io.out.write(`${d.imageId.slice(0, 16)}  ${new Date(d.diedAt * 1000).toISOString()}  ${d.status ?? '-'} ${d.code}  ${escapeControl(`${d.path ?? '?'}  ${d.message}`)}\n`);
        }
        for (const sink of sinks.sinks) {
          const c = sinks.counts(sink);
          io.out.write(`sink ${sink}: queued ${c.pending}, dead ${c.dead}\n`);
          for (const d of sinks.listDead(sink, config.limit)) io.out.write(`${d.imageId.slice(0, 16)}  ${new Date(d.diedAt * 1000).toISOString()}  ${d.code}  ${escapeControl(d.message)}\n`);
        }
      }
      return EXIT.OK;
    }
    const ledger = new Ledger(db);
    if (action === 'retry') {
      const n = outbox.retryDead(config.id, (fileId) => ledger.mark(fileId, 'queued'));
      io.out.write(`${n} dead letter(s) moved back to the outbox\n`);
      const s = sinks.retryDead(config.id);
      if (s > 0) io.out.write(`${s} sink dead letter(s) moved back to their sink queues\n`);
    } else {
      const n = outbox.purgeDead(config.id);
      io.out.write(`${n} dead letter(s) deleted\n`);
      const s = sinks.purgeDead(config.id);
      if (s > 0) io.out.write(`${s} sink dead letter(s) deleted\n`);
    }
    return EXIT.OK;
  } finally {
    db.close();
  }
}
