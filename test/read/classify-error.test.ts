/** classifySharpError and classifyFsError on the real messages sharp 0.35 / libvips 8.18 and Node produce. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyFsError, classifySharpError } from '../../src/read/index.js';

const PATH = '/in/cam/a.jpg';

test('sharp messages seen on real bad files map to their codes (no bytes given)', () => {
  const cases: Array<[string, string]> = [
    ['Input image exceeds pixel limit', 'EW_IMAGE_TOO_LARGE'],
    ['Input Buffer is empty', 'EW_IMAGE_EMPTY'],
    ['Input buffer contains unsupported image format', 'EW_IMAGE_UNSUPPORTED'],
    ['VipsJpeg: premature end of JPEG image', 'EW_IMAGE_TRUNCATED'],
    ['Input buffer has corrupt header: VipsJpeg: premature end of JPEG image\nVipsJpeg: Bogus Huffman table definition', 'EW_IMAGE_TRUNCATED'],
    ['Input buffer has corrupt header: gifload_buffer: Unexpected end of GIF source data', 'EW_IMAGE_TRUNCATED'],
    ['VipsJpeg: Corrupt JPEG data: bad Huffman code', 'EW_IMAGE_CORRUPT'],
    ['VipsJpeg: Corrupt JPEG data: premature end of data segment', 'EW_IMAGE_CORRUPT'],
    ['vipspng: libpng read error', 'EW_IMAGE_CORRUPT'],
    ['Input buffer has corrupt header:', 'EW_IMAGE_CORRUPT'],
    ['Input buffer has corrupt header: webp: unable to parse image', 'EW_IMAGE_CORRUPT'],
  ];
  for (const [message, code] of cases) {
    const err = classifySharpError(new Error(message), PATH);
    assert.equal(err.code, code, message);
    assert.ok(err.message.includes(PATH));
    assert.equal(err.details.path, PATH);
  }
});

test('a codec the prebuilt libvips lacks (HEIC/HEVC; libheif-style message, not reproducible here) → EW_IMAGE_UNSUPPORTED', () => {
  assert.equal(classifySharpError(new Error('heif: Unsupported feature: Unsupported codec'), PATH).code, 'EW_IMAGE_UNSUPPORTED');
});

test('bytes decide what messages cannot: a PNG cut short vs a damaged one, unknown signatures', () => {
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
  assert.equal(classifySharpError(new Error('vipspng: libpng read error'), PATH, png).code, 'EW_IMAGE_TRUNCATED');
  assert.equal(classifySharpError(new Error('Input buffer contains unsupported image format'), PATH, Buffer.from('hello')).code, 'EW_IMAGE_UNSUPPORTED');
  const tiffCut = Buffer.from('49492a0000100000', 'hex'); // directory at 4096, file of 8 bytes
  assert.equal(classifySharpError(new Error('Input buffer contains unsupported image format'), PATH, tiffCut).code, 'EW_IMAGE_TRUNCATED');
});

test('file-system errors: ENOENT → EW_WATCH_VANISHED, the rest → EW_IMAGE_UNREADABLE', () => {
  const errno = (code: string) => Object.assign(new Error(`${code}: failed`), { code });
  assert.equal(classifyFsError(errno('ENOENT'), PATH).code, 'EW_WATCH_VANISHED');
  for (const code of ['EACCES', 'EISDIR', 'EIO', 'EPERM']) assert.equal(classifyFsError(errno(code), PATH).code, 'EW_IMAGE_UNREADABLE', code);
});
