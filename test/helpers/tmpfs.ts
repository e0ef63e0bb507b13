/** A real full disk for fault tests: a small tmpfs mounted on a test folder (needs root; the test is skipped where mounting is not allowed), and a file that fills it. */
import { execFileSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import type { TestContext } from 'node:test';

/**
 * Mounts a tmpfs of `size` (e.g. '4m') on the existing folder `dir` and runs `fn`, then unmounts it
 * (lazily: the code under test may still hold files there) before the temp folder's own clean-up.
 * Skips the test with the reason when this machine does not allow the mount.
 */
export async function withTmpfs(t: TestContext, dir: string, size: string, fn: () => Promise<void>): Promise<void> {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    t.skip(`cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]})`);
    return;
  }
  try {
    await fn();
  } finally {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  }
}

/** Writes into `path` until the file system refuses, down to its last page. */
export async function fillUp(path: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (const size of [64 * 1024, 4096, 512]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) await handle.write(chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    await handle.close();
  }
}
