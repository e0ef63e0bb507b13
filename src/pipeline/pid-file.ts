/** The running agent's pid file in its state folder: how `edgewatch reload` finds the agent to signal (SIGHUP). */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgewatchError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';

/** File name of the pid file inside the state folder. */
export const PID_FILE = 'agent.pid';

/** Writes this process's pid. */
export async function writePidFile(stateDir: string): Promise<void> {
  await writeFileAtomic(join(stateDir, PID_FILE), `${process.pid}\n`);
}

/** Removes the pid file if it is still this process's. */
export async function removePidFile(stateDir: string): Promise<void> {
  const path = join(stateDir, PID_FILE);
  const pid = await readFile(path, 'utf8').then((t) => Number(t.trim()), () => undefined);
  if (pid === process.pid) await rm(path, { force: true });
}

/** Sends SIGHUP to the agent running on `stateDir` (it re-reads its model folders and the deployment); returns its pid. Throws EW_RELOAD_NO_AGENT. */
export async function signalReload(stateDir: string): Promise<number> {
  const path = join(stateDir, PID_FILE);
  const text = await readFile(path, 'utf8').catch(() => undefined);
  const pid = text === undefined ? NaN : Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new EdgewatchError('EW_RELOAD_NO_AGENT', `No running agent found for state folder ${stateDir} (no ${PID_FILE}): start one with edgewatch run, or pass its --state-dir.`, { details: { stateDir } });
  }
  try {
    process.kill(pid, 'SIGHUP');
  } catch (err) {
    throw new EdgewatchError('EW_RELOAD_NO_AGENT', `The agent of state folder ${stateDir} (pid ${pid}) is not running (${(err as NodeJS.ErrnoException).code}): start it with edgewatch run.`, { details: { stateDir, pid } });
  }
  return pid;
}
