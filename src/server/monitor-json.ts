/**
 * Parses a monitor request body without making its image one JavaScript string.
 *
 * The body is JSON whose top-level `image` holds the whole file in base64 (hundreds of KB).
 * `JSON.parse(body.toString())` makes two strings that size, and on a small VM every string over
 * 128 KB costs a page fault per 4 KB (V8 puts it in its large-object space): ≈ 1.2 ms per 350 KB
 * string, most of the service's parse time. Here the top-level `image` value is located in the
 * bytes, the rest is parsed as usual, and the base64 is decoded in pieces straight into a Buffer.
 * Anything unusual (no top-level string `image`, escapes or non-base64 bytes in it) falls back to
 * the plain parse, so the result and the errors are always those of `JSON.parse`.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const IMAGE_KEY = Buffer.from('image', 'latin1');
/** Characters decoded per call: a multiple of 4 that keeps each piece a regular (small) V8 string. */
const PIECE_CHARS = 120_000;

/** The JSON value of `body`, with the top-level `image` already decoded to a Buffer when it was valid base64. */
export function parseMonitorJson(body: Buffer): unknown {
  const plain = (): unknown => JSON.parse(body.toString('utf8'));
  const span = topLevelImage(body);
  const image = span && decodeBase64Span(body, span.start, span.end);
  if (!span || !image) return plain();
  // The image value becomes "" in the text parsed, then the decoded bytes in the result.
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(body.toString('utf8', 0, span.start) + body.toString('utf8', span.end)) as Record<string, unknown>;
  } catch {
    return plain(); // throws JSON.parse's own error (positions of the whole body)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value.image !== '') return plain();
  value.image = image;
  return value;
}

/** Index of the quote closing the string whose opening quote is at `open`, or -1. */
function stringEnd(body: Buffer, open: number): number {
  let q = body.indexOf(QUOTE, open + 1);
  while (q !== -1) {
    let backslashes = 0;
    while (body[q - 1 - backslashes] === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return q;
    q = body.indexOf(QUOTE, q + 1);
  }
  return -1;
}

function isWhitespace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Where the characters of the top-level `image` string value are (`start` after its opening quote,
 * `end` at its closing quote), the last one if repeated (as `JSON.parse` keeps); undefined when the
 * body is not an object with such a member. Strings are skipped with `indexOf`, so the cost is per
 * member, not per byte of the image.
 */
function topLevelImage(body: Buffer): { start: number; end: number } | undefined {
  let depth = 0;
  let expectKey = false;
  let found: { start: number; end: number } | undefined;
  let i = 0;
  while (isWhitespace(body[i])) i += 1;
  if (body[i] !== 0x7b) return undefined;
  while (i < body.length) {
    const c = body[i] as number;
    if (c === QUOTE) {
      const end = stringEnd(body, i);
      if (end === -1) return undefined;
      const isKey = depth === 1 && expectKey;
      // A top-level key written with escapes ("im\u0061ge") may be "image" to JSON.parse: unusual, take the plain path.
      if (isKey) {
        const escape = body.indexOf(BACKSLASH, i + 1);
        if (escape !== -1 && escape < end) return undefined;
      }
      const isImageKey = isKey && end - i - 1 === IMAGE_KEY.length && body.compare(IMAGE_KEY, 0, IMAGE_KEY.length, i + 1, end) === 0;
      expectKey = false;
      i = end + 1;
      if (!isImageKey) continue;
      while (isWhitespace(body[i])) i += 1;
      if (body[i] !== 0x3a) return undefined;
      i += 1;
      while (isWhitespace(body[i])) i += 1;
      if (body[i] !== QUOTE) {
        found = undefined; // a non-string image: the schema's error, through the plain parse
        continue;
      }
      const valueEnd = stringEnd(body, i);
      if (valueEnd === -1) return undefined;
      found = { start: i + 1, end: valueEnd };
      i = valueEnd + 1;
      continue;
    }
    if (c === 0x7b) {
      depth += 1;
      expectKey = depth === 1;
    } else if (c === 0x5b) depth += 1;
    else if (c === 0x7d || c === 0x5d) depth -= 1;
    else if (c === 0x2c) expectKey = depth === 1;
    i += 1;
  }
  return found;
}

/**
 * The bytes of standard padded base64 in `body[start, end)`, or undefined unless it is exactly that:
 * a multiple of 4 characters, no backslash (a JSON escape), no URL-safe '-' or '_', and decoding to
 * the length its size promises (Node's decoder skips other bytes and stops at an early '=').
 */
function decodeBase64Span(body: Buffer, start: number, end: number): Buffer | undefined {
  const length = end - start;
  if (length === 0 || length % 4 !== 0) return undefined;
  for (const forbidden of [BACKSLASH, 0x2d, 0x5f]) {
    const at = body.indexOf(forbidden, start);
    if (at !== -1 && at < end) return undefined;
  }
  const padding = body[end - 1] === 0x3d ? (body[end - 2] === 0x3d ? 2 : 1) : 0;
  const expected = (length / 4) * 3 - padding;
  const out = Buffer.allocUnsafe(expected);
  let written = 0;
  for (let piece = start; piece < end; piece += PIECE_CHARS) {
    written += out.write(body.toString('latin1', piece, Math.min(end, piece + PIECE_CHARS)), written, 'base64');
  }
  // A skipped or early-stopping character only ever makes fewer bytes.
  return written === expected ? out : undefined;
}
