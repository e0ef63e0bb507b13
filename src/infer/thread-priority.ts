/** Lowers the OS scheduling priority of the calling thread alone (not the process), so a shadow model's thread only gets the CPU the champion's leave. */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * Sets the niceness of the current thread to `niceness` and returns the niceness it has after.
 * Linux names each thread in /proc/thread-self, and setpriority() on a thread id changes that
 * thread only. Where that file does not exist (macOS, Windows) or the change is refused, the
 * thread is left as it is and 0 is returned: the pool's own priority dispatch still applies.
 * Raising niceness needs no privilege; lowering it back would, so a thread keeps it for life.
 */
export function niceCurrentThread(niceness: number): number {
  if (niceness === 0) return 0;
  let tid: number;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return 0;
  }
  if (!Number.isInteger(tid) || tid <= 0) return 0;
  try {
    setPriority(tid, niceness);
    return getPriority(tid);
  } catch {
    return 0;
  }
}
