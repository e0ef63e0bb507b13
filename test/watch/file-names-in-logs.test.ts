/** Issue 14 item 7: a file name with control characters cannot forge or colour agent log lines. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { isEdgewatchError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { readImage } from '../../src/read/index.js';
import { tempDir } from '../helpers/images.js';

function capture(): { out: Writable; text: () => string } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { out, text: () => text };
}

test('a rejected file whose name holds a newline, a carriage return and an escape sequence stays on one log line', async (t) => {
  const dir = await tempDir(t, 'ew-names-');
  const name = 'cam\n12:00:00.000 ERROR forged line\r\x1b[31mred\u2028.jpg';
  const path = join(dir, name);
  await writeFile(path, 'this is not an image');
  const err = await readImage(path, [], { maxPixels: 1e8, maxFileBytes: 1e8 }).then(
    () => assert.fail('not an image'),
    (e: unknown) => e,
  );
  assert.ok(isEdgewatchError(err));
  for (const format of ['pretty', 'json'] as const) {
    const { out, text } = capture();
    const logger = createLogger({ level: 'info', format, destination: out });
    // As process-image.ts logs a rejection: the path in a field and, through the error, in the message.
    logger.warn({ code: err.code, file: path }, `rejected: ${err.message}`);
    logger.info({}, 'next line');
    const lines = text().split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 2, `${format}: ${JSON.stringify(text())}`);
    assert.doesNotMatch(text(), /[\r\x1b\u2028]/, `${format}: raw control characters`);
    assert.match(lines[0] as string, /cam\\n12:00:00.000 ERROR forged line\\r\\u001b\[31mred\\u2028\.jpg/, format);
  }
});
