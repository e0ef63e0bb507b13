/** Test helper: launches Debian's headless Chromium through playwright-core, failing clearly (not skipping) when it is missing. */
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

/** Where `.ci/run` installs Chromium (`apt-get install chromium`). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags that keep Chromium offline and quiet in a container. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'];

/**
 * Returns a launched browser closed after the test, or null when the test should be skipped (env EDGEWATCH_SKIP_BROWSER=1,
 * passed in by the caller: nothing here reads process.env). Throws with install instructions when Chromium is absent.
 */
export async function launchBrowser(t: TestContext, skip: boolean): Promise<Browser | null> {
  if (skip) {
    t.skip('EDGEWATCH_SKIP_BROWSER=1');
    return null;
  }
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}: run \`apt-get update && apt-get install -y --no-install-recommends chromium\` (as .ci/run does), or set EDGEWATCH_SKIP_BROWSER=1 to skip browser tests.`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  return browser;
}
