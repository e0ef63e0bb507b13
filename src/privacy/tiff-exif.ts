/** In-place surgery on a TIFF-structured EXIF block (the payload of a JPEG APP1 "Exif" segment or a PNG eXIf chunk): find the orientation, erase the GPS IFD. */

/** Bytes per value of each TIFF field type (1 BYTE … 13 IFD); unknown types are treated as unreadable. */
const TYPE_BYTES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4 };

const TAG_ORIENTATION = 0x0112;
const TAG_GPS_IFD = 0x8825;

/** A view of one TIFF block that reads with its byte order and refuses to read outside it. */
class TiffView {
  readonly bytes: Buffer;
  readonly little: boolean;

  constructor(bytes: Buffer) {
    if (bytes.length < 8) throw new RangeError('TIFF header too short');
    const order = bytes.toString('latin1', 0, 2);
    if (order !== 'II' && order !== 'MM') throw new RangeError('not a TIFF byte order');
    this.bytes = bytes;
    this.little = order === 'II';
    if (this.u16(2) !== 42) throw new RangeError('not a TIFF magic number');
  }

  #check(offset: number, length: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + length > this.bytes.length) throw new RangeError(`TIFF offset ${offset} outside the block`);
  }

  u16(offset: number): number {
    this.#check(offset, 2);
    return this.little ? this.bytes.readUInt16LE(offset) : this.bytes.readUInt16BE(offset);
  }

  u32(offset: number): number {
    this.#check(offset, 4);
    return this.little ? this.bytes.readUInt32LE(offset) : this.bytes.readUInt32BE(offset);
  }

  setU16(offset: number, value: number): void {
    this.#check(offset, 2);
    if (this.little) this.bytes.writeUInt16LE(value, offset);
    else this.bytes.writeUInt16BE(value, offset);
  }

  zero(offset: number, length: number): void {
    this.#check(offset, length);
    this.bytes.fill(0, offset, offset + length);
  }

  /** Offset of IFD0. */
  get ifd0(): number {
    return this.u32(4);
  }

  /** The entries of the IFD at `offset`: tag, type, count and where the entry starts. */
  entries(offset: number): { tag: number; type: number; count: number; at: number }[] {
    const n = this.u16(offset);
    this.#check(offset + 2, n * 12 + 4);
    const out = [];
    for (let i = 0; i < n; i += 1) {
      const at = offset + 2 + i * 12;
      out.push({ tag: this.u16(at), type: this.u16(at + 2), count: this.u32(at + 4), at });
    }
    return out;
  }

  /** Size in bytes of an entry's value, or throws for an unknown type. */
  valueBytes(entry: { type: number; count: number }): number {
    const size = TYPE_BYTES[entry.type];
    if (size === undefined) throw new RangeError(`unknown TIFF type ${entry.type}`);
    return size * entry.count;
  }
}

/** The EXIF orientation (1–8) of a TIFF block, or undefined when absent or unreadable. */
export function readOrientation(tiff: Buffer): number | undefined {
  try {
    const view = new TiffView(tiff);
    const entry = view.entries(view.ifd0).find((e) => e.tag === TAG_ORIENTATION && e.type === 3 && e.count >= 1);
    if (!entry) return undefined;
    const value = view.u16(entry.at + 8);
    return value >= 1 && value <= 8 ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Erases the GPS IFD of a TIFF block in place: its entries, their out-of-line values and its
 * next-IFD pointer are zeroed and its pointer entry (tag 0x8825) is removed from IFD0 (the entries
 * after it move up by 12 bytes, so no other offset changes). Returns true when there was one.
 * Throws RangeError when the block is malformed (the caller then drops the whole block).
 */
export function eraseGps(tiff: Buffer): boolean {
  const view = new TiffView(tiff);
  const ifd0 = view.ifd0;
  const entries = view.entries(ifd0);
  const index = entries.findIndex((e) => e.tag === TAG_GPS_IFD);
  if (index < 0) return false;
  const pointer = entries[index] as { at: number };
  const gps = view.u32(pointer.at + 8);
  const gpsEntries = view.entries(gps);
  for (const e of gpsEntries) {
    const size = view.valueBytes(e);
    if (size > 4) view.zero(view.u32(e.at + 8), size);
  }
  view.zero(gps, 2 + gpsEntries.length * 12 + 4);
  // IFD0 without the pointer: the later entries and the next-IFD offset move up one slot.
  const end = ifd0 + 2 + entries.length * 12 + 4;
  tiff.copy(tiff, pointer.at, pointer.at + 12, end);
  view.zero(end - 12, 12);
  view.setU16(ifd0, entries.length - 1);
  return true;
}

/** A minimal big-endian TIFF block holding only IFD0's Orientation tag. */
export function orientationOnlyTiff(orientation: number): Buffer {
  const tiff = Buffer.alloc(8 + 2 + 12 + 4);
  tiff.write('MM', 0, 'latin1');
  tiff.writeUInt16BE(42, 2);
  tiff.writeUInt32BE(8, 4);
  tiff.writeUInt16BE(1, 8);
  tiff.writeUInt16BE(TAG_ORIENTATION, 10);
  tiff.writeUInt16BE(3, 12);
  tiff.writeUInt32BE(1, 14);
  tiff.writeUInt16BE(orientation, 18);
  return tiff;
}
