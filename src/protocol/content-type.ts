/** The two image content types of the monitoring protocol and the magic bytes that identify them: the one place these wire facts live. */

/** Upper-case content types: the only two the protocol accepts (servers compare case-insensitively). */
export type WireContentType = 'IMAGE/JPEG' | 'IMAGE/PNG';

/** Every content type the protocol accepts, in a stable order. */
export const WIRE_CONTENT_TYPES: readonly WireContentType[] = ['IMAGE/JPEG', 'IMAGE/PNG'];

/** The first bytes of every file of each content type: JPEG's SOI marker plus the next marker's 0xFF, PNG's 8-byte signature. */
export const WIRE_MAGIC_BYTES: Readonly<Record<WireContentType, Uint8Array>> = {
  'IMAGE/JPEG': Uint8Array.of(0xff, 0xd8, 0xff),
  'IMAGE/PNG': Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
};

/** True when `value` is exactly one of the protocol's content types (upper case). */
export function isWireContentType(value: unknown): value is WireContentType {
  return value === 'IMAGE/JPEG' || value === 'IMAGE/PNG';
}

/** True when `bytes` start with the magic bytes of `contentType`. */
export function hasWireMagic(bytes: Uint8Array, contentType: WireContentType): boolean {
  const magic = WIRE_MAGIC_BYTES[contentType];
  if (bytes.length < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (bytes[i] !== magic[i]) return false;
  return true;
}

/** The content type announced by the first bytes, or null when they are neither JPEG nor PNG. */
export function sniffWireContentType(bytes: Uint8Array): WireContentType | null {
  for (const contentType of WIRE_CONTENT_TYPES) if (hasWireMagic(bytes, contentType)) return contentType;
  return null;
}
