/** Benchmark images: real photographs from Debian's lomiri-wallpapers package, and VGA / 1080p / 12 MP JPEGs cut from them with sharp. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';

/** Image sets by size; every path is a JPEG file under the cache folder. */
export interface BenchImages {
  /** The original wallpapers (4–24 MP, some progressive). */
  photos: string[];
  vga: string[];
  hd: string[];
  mp12: string[];
}

/** The image sets the bench can be asked for. */
export type ImageSetName = keyof BenchImages;
export const IMAGE_SETS: Record<ImageSetName, { width: number; height: number; label: string } | null> = {
  photos: null,
  vga: { width: 640, height: 480, label: 'VGA 640×480' },
  hd: { width: 1920, height: 1080, label: '1080p 1920×1080' },
  mp12: { width: 4000, height: 3000, label: '12 MP 4000×3000' },
};

const PACKAGE = 'lomiri-wallpapers-20.04';
const SYSTEM_DIR = '/usr/share/backgrounds';
/** Crop positions per photo: distinct content for every generated file. */
const CROP_POSITIONS = 6;

/**
 * Makes sure the image sets exist under `<cacheDir>/images` (idempotent): finds the wallpapers
 * installed, or fetches the package with `apt-get download` and unpacks it with `dpkg-deb -x`
 * (no install), then cuts `cropsPerPhoto` (1–6) crops per photo at each size in `sets`.
 */
export async function prepareImages(cacheDir: string, log: (line: string) => void, cropsPerPhoto = CROP_POSITIONS, sets: ImageSetName[] = ['vga', 'hd', 'mp12']): Promise<BenchImages> {
  const photos = await findPhotos(cacheDir, log);
  const out: BenchImages = { photos, vga: [], hd: [], mp12: [] };
  for (const name of ['vga', 'hd', 'mp12'] as const) {
    if (!sets.includes(name)) continue;
    const size = IMAGE_SETS[name]!;
    const dir = join(cacheDir, 'images', name);
    await mkdir(dir, { recursive: true });
    for (const [p, photo] of photos.entries()) {
      for (let c = 0; c < Math.min(cropsPerPhoto, CROP_POSITIONS); c++) {
        const file = join(dir, `${name}-${p}-${c}.jpg`);
        if (!existsSync(file)) await writeCrop(photo, file, size.width, size.height, c);
        out[name].push(file);
      }
    }
  }
  return out;
}

async function findPhotos(cacheDir: string, log: (line: string) => void): Promise<string[]> {
  const unpacked = join(cacheDir, 'debs', 'root');
  for (const dir of [SYSTEM_DIR, join(unpacked, 'usr/share/backgrounds')]) {
    const found = await jpegsIn(dir);
    if (found.length > 0) return found;
  }
  const debDir = join(cacheDir, 'debs');
  await mkdir(debDir, { recursive: true });
  const hasDeb = async (): Promise<boolean> => (await readdir(debDir)).some((f) => f.startsWith(PACKAGE) && f.endsWith('.deb'));
  const download = (): void => {
    execFileSync('apt-get', ['download', PACKAGE], { cwd: debDir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  if (!(await hasDeb())) {
    log(`fetching real photographs: apt-get download ${PACKAGE} (unpacked into ${unpacked}, not installed)`);
    try {
      download();
    } catch {
      log('apt-get download failed; running apt-get update once and retrying');
      execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'pipe'] });
      download();
    }
  }
  const deb = (await readdir(debDir)).find((f) => f.startsWith(PACKAGE) && f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${PACKAGE} produced no .deb in ${debDir}`);
  const partial = `${unpacked}.partial`;
  await rm(partial, { recursive: true, force: true });
  execFileSync('dpkg-deb', ['-x', join(debDir, deb), partial]);
  await rm(unpacked, { recursive: true, force: true });
  await rename(partial, unpacked);
  const found = await jpegsIn(join(unpacked, 'usr/share/backgrounds'));
  if (found.length === 0) throw new Error(`${PACKAGE} holds no JPEG under usr/share/backgrounds`);
  return found;
}

async function jpegsIn(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true });
    const files: string[] = [];
    for (const entry of entries.sort()) {
      const file = join(dir, entry);
      if (/\.jpe?g$/i.test(entry) && (await stat(file)).isFile()) files.push(file);
    }
    return files;
  } catch {
    return [];
  }
}

/** Writes crop number `index` of `photo` scaled to width×height as a baseline JPEG (quality 85), atomically. */
async function writeCrop(photo: string, file: string, width: number, height: number, index: number): Promise<void> {
  const meta = await sharp(photo).metadata();
  const srcW = meta.width ?? width;
  const srcH = meta.height ?? height;
  // Largest window of the target aspect ratio, shrunk a little per index and slid across the photo.
  const shrink = 1 - 0.08 * (index % 3);
  const cropW = Math.min(srcW, Math.round(Math.min(srcW, (srcH * width) / height) * shrink));
  const cropH = Math.min(srcH, Math.round((cropW * height) / width));
  const left = Math.round(((srcW - cropW) * (index % CROP_POSITIONS)) / (CROP_POSITIONS - 1));
  const top = Math.round(((srcH - cropH) * ((index * 2) % CROP_POSITIONS)) / (CROP_POSITIONS - 1));
  const bytes = await sharp(photo, { limitInputPixels: false })
    .extract({ left, top, width: cropW, height: cropH })
    .resize(width, height, { fit: 'fill' })
    .jpeg({ quality: 85, progressive: false })
    .toBuffer();
  await writeFile(`${file}.tmp`, bytes);
  await rename(`${file}.tmp`, file);
}

/**
 * A byte-unique copy of a JPEG: a COM segment carrying `tag` after SOI and the APPn segments
 * (JFIF/EXIF stay first). The pixels are unchanged, so the agent's content-hash deduplication
 * sees a new image every time.
 */
export function uniqueJpeg(bytes: Buffer, tag: string): Buffer {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new Error('not a JPEG');
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff && bytes[at + 1]! >= 0xe0 && bytes[at + 1]! <= 0xef) at += 2 + bytes.readUInt16BE(at + 2);
  const text = Buffer.from(tag, 'utf8');
  const segment = Buffer.alloc(4 + text.length);
  segment.writeUInt16BE(0xfffe, 0);
  segment.writeUInt16BE(text.length + 2, 2);
  text.copy(segment, 4);
  return Buffer.concat([bytes.subarray(0, at), segment, bytes.subarray(at)]);
}

/** Reads every file of a set into memory. */
export async function loadBytes(files: string[]): Promise<Buffer[]> {
  return Promise.all(files.map((f) => readFile(f)));
}
