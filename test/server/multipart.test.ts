/** The zero-copy multipart/form-data parser of presigned uploads: bodies as Python requests and undici's FormData send them, and malformed ones. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FormData } from 'undici';
import { MAX_PARTS, boundaryOf, parseMultipart } from '../../src/server/registry/multipart.js';
import { multipart } from './registry-sdk.js';

test('a Python-requests-shaped body: fields, then the file part, its bytes a view of the body', () => {
  const bytes = Buffer.from([0, 1, 2, 13, 10, 45, 45, 255]); // CR LF and "--" inside the data
  const form = multipart({ key: 'registry/a', policy: 'p', signature: 's', 'Content-Type': 'application/zip' }, { filename: 'registry/a', bytes });
  const boundary = boundaryOf(form.contentType) as string;
  const parts = parseMultipart(form.body, boundary);
  assert.ok(parts);
  assert.deepEqual(parts.map((p) => [p.name, p.filename, p.data.toString('latin1')]).slice(0, 4), [['key', null, 'registry/a'], ['policy', null, 'p'], ['signature', null, 's'], ['Content-Type', null, 'application/zip']]);
  const file = parts[4];
  assert.equal(file?.name, 'file');
  assert.equal(file?.filename, 'registry/a');
  assert.deepEqual(file?.data, bytes);
  assert.equal(file?.data.buffer, form.body.buffer, 'no copy');
});

test("undici's FormData (edgewatch models push) parses the same", async () => {
  const form = new FormData();
  form.append('key', 'k');
  form.append('file', new Blob([Buffer.from('zip bytes')], { type: 'application/zip' }), 'model.zip');
  const res = new Response(form as unknown as BodyInit);
  const body = Buffer.from(await res.arrayBuffer());
  const parts = parseMultipart(body, boundaryOf(res.headers.get('content-type') ?? '') as string);
  assert.deepEqual(parts?.map((p) => [p.name, p.filename, p.contentType, p.data.toString()]), [['key', null, null, 'k'], ['file', 'model.zip', 'application/zip', 'zip bytes']]);
});

test('malformed bodies and content types are refused', () => {
  assert.equal(boundaryOf('application/json'), null);
  assert.equal(boundaryOf('multipart/form-data'), null);
  assert.equal(boundaryOf('multipart/form-data; boundary="abc"'), 'abc');
  const good = multipart({ a: '1' }, null);
  const boundary = boundaryOf(good.contentType) as string;
  assert.equal(parseMultipart(Buffer.from('garbage'), boundary), null);
  assert.equal(parseMultipart(good.body.subarray(0, good.body.length - 10), boundary), null, 'cut before the closing delimiter');
  assert.equal(parseMultipart(Buffer.from(`--${boundary}\r\nX: y\r\n\r\nno disposition\r\n--${boundary}--\r\n`), boundary), null);
  const many = multipart(Object.fromEntries(Array.from({ length: MAX_PARTS + 1 }, (_, i) => [`f${i}`, 'x'])), null);
  assert.equal(parseMultipart(many.body, boundaryOf(many.contentType) as string), null);
});
