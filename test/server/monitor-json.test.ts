/** parseMonitorJson: the top-level image decoded without one big string, and always the same result as JSON.parse. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMonitorJson } from '../../src/server/monitor-json.js';

function bytesOf(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7919 + 13) % 256;
  return b;
}

test('the top-level image comes back as its bytes, the rest as JSON.parse gives it (SDK order, spacing, nested image keys, escapes)', () => {
  for (const size of [1, 2, 3, 4, 89_999, 90_000, 90_001, 300_002]) {
    const image = bytesOf(size);
    const b64 = image.toString('base64');
    const bodies = [
      // SDK order, compact, image last.
      JSON.stringify({ filename: 'a.jpg', latency: 0.01, custom_metadata: { edgewatch: { imageId: 'x' } }, image: b64 }),
      // Python's json.dumps spacing, image first, nested objects and arrays with their own "image" keys.
      `{ "image" : "${b64}" , "metadata": {"image": "nested", "list": [{"image": "deeper"}, "image"]}, "source": "image", "tags": ["image"] }`,
      // Keys and values that contain quotes, backslashes and the text "image":" inside strings.
      JSON.stringify({ filename: 'x\\"image\\":\\"y.jpg', note: '"image":"AAAA"', weird: '\\', image: b64, after: 'é' }),
      // Whitespace around everything, image repeated (JSON.parse keeps the last one).
      `\n\t{ "image": "AAAA",\r\n "image" :"${b64}" }  `,
    ];
    for (const text of bodies) {
      const parsed = parseMonitorJson(Buffer.from(text, 'utf8')) as Record<string, unknown>;
      const expected = JSON.parse(text) as Record<string, unknown>;
      assert.ok(Buffer.isBuffer(parsed.image), `image decoded for a ${size}-byte image`);
      assert.ok((parsed.image as Buffer).equals(image), `same bytes for a ${size}-byte image`);
      assert.deepEqual({ ...parsed, image: null }, { ...expected, image: null });
    }
  }
});

test('anything but clean standard base64 in a top-level string falls back to JSON.parse unchanged (the schema then says why)', () => {
  const b64 = bytesOf(1000).toString('base64');
  const cases: Record<string, string> = {
    'escaped slash': JSON.stringify({ image: b64 }).replace(/\//g, '\\/'),
    'line breaks (JSON-escaped)': JSON.stringify({ image: `${b64.slice(0, 76)}\n${b64.slice(76)}` }),
    'URL-safe alphabet': JSON.stringify({ image: bytesOf(999).toString('base64url') }),
    unpadded: JSON.stringify({ image: 'QUJDRA' }),
    'padding in the middle': JSON.stringify({ image: 'QQ==QQ==' }),
    'spaces inside': JSON.stringify({ image: 'QUJD QUJD' }),
    'non-ASCII inside': JSON.stringify({ image: `QUJD${'é'}QUJ` }),
    'not a string': JSON.stringify({ image: 12 }),
    'null image': JSON.stringify({ image: null }),
    'no image': JSON.stringify({ filename: 'a.jpg' }),
    'image only nested': JSON.stringify({ metadata: { image: b64 } }),
    'top-level array': JSON.stringify([{ image: b64 }]),
    'a string, not an object': JSON.stringify(b64),
    'a later top-level key spelled with an escape overrides the image': `{"image":"${b64}","im\\u0061ge":""}`,
    'an escaped key that is not image': `{"image":"${b64}","na\\u006De":"x"}`,
  };
  for (const [name, text] of Object.entries(cases)) {
    assert.deepEqual(parseMonitorJson(Buffer.from(text, 'utf8')), JSON.parse(text), name);
  }
});

test('invalid JSON throws like JSON.parse, also when only the part after the image is broken', () => {
  const b64 = bytesOf(300).toString('base64');
  for (const text of [`{"image":"${b64}"`, `{"image":"${b64}",}`, `{"image":"${b64}" "x":1}`, `{"image":"${b64}"} x`, `{"image":"${b64}`, '', 'nope']) {
    let expected: unknown;
    try {
      JSON.parse(text);
    } catch (err) {
      expected = err;
    }
    assert.throws(() => parseMonitorJson(Buffer.from(text, 'utf8')), (err) => err instanceof SyntaxError && err.message === (expected as Error).message, `same error as JSON.parse: ${text.slice(0, 30)}`);
  }
});
