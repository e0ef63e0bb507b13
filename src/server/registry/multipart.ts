/**
 * A multipart/form-data body (RFC 7578) split into its parts without copying: each part's data is a view of the body.
 * An upload of N bytes then costs the body once, instead of the three or four copies a generic form parser makes.
 */

/** One part: its field name, file name (file parts), content type, and bytes (a view into the body). */
export interface MultipartPart {
  name: string;
  filename: string | null;
  contentType: string | null;
  data: Buffer;
}

/** Parts accepted in one body (the presigned POST has five or six). */
export const MAX_PARTS = 64;
const HEADER_LIMIT = 16 * 1024;

/** The boundary of a `multipart/form-data; boundary=…` content type, or null. */
export function boundaryOf(contentType: string): string | null {
  if (!/^multipart\/form-data\s*;/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m ? ((m[1] ?? m[2]) as string) : null;
}

function parseHeaders(text: string): { name: string; filename: string | null; contentType: string | null } | null {
  let name: string | null = null;
  let filename: string | null = null;
  let contentType: string | null = null;
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'content-disposition') {
      if (!/^form-data\b/i.test(value)) return null;
      name = /;\s*name="([^"]*)"/i.exec(value)?.[1] ?? /;\s*name=([^;\s]+)/i.exec(value)?.[1] ?? null;
      filename = /;\s*filename="([^"]*)"/i.exec(value)?.[1] ?? /;\s*filename=([^;\s]+)/i.exec(value)?.[1] ?? null;
    } else if (key === 'content-type') contentType = value;
  }
  return name === null ? null : { name, filename, contentType };
}

/** The parts of `body`, or null when it is not a well-formed multipart body of at most MAX_PARTS parts. */
export function parseMultipart(body: Buffer, boundary: string): MultipartPart[] | null {
  const opening = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  if (body.indexOf(opening) !== 0) return null;
  const parts: MultipartPart[] = [];
  let at = opening.length;
  for (;;) {
    if (body.subarray(at, at + 2).toString('latin1') === '--') return parts; // closing delimiter
    if (body.subarray(at, at + 2).toString('latin1') !== '\r\n') return null;
    const headerStart = at + 2;
    const headerEnd = body.indexOf('\r\n\r\n', headerStart, 'latin1');
    if (headerEnd === -1 || headerEnd - headerStart > HEADER_LIMIT) return null;
    const headers = parseHeaders(body.subarray(headerStart, headerEnd).toString('utf8'));
    if (headers === null) return null;
    const dataStart = headerEnd + 4;
    const next = body.indexOf(delimiter, dataStart);
    if (next === -1) return null;
    parts.push({ ...headers, data: body.subarray(dataStart, next) });
    if (parts.length > MAX_PARTS) return null;
    at = next + delimiter.length;
  }
}
