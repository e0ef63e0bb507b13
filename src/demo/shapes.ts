/** Synthetic geometric-shape images: the training data of the demo models and the images the demo feeder drops. */
import sharp from 'sharp';

/** The demo classes, in label-index order (the demo models' `labels`). */
export const SHAPE_LABELS = ['circle', 'square', 'triangle', 'cross', 'stripes'] as const;
export type ShapeLabel = (typeof SHAPE_LABELS)[number];

/** A seeded pseudo-random source returning floats in [0, 1). */
export type Rng = () => number;

/** mulberry32: a tiny, fast, seeded PRNG (same seed, same sequence, on every platform). */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An RGB image as HWC uint8 pixels. */
export interface RgbImage {
  pixels: Uint8Array;
  width: number;
  height: number;
}

type Rgb = [number, number, number];

function randomColour(rng: Rng): Rgb {
  return [Math.floor(rng() * 256), Math.floor(rng() * 256), Math.floor(rng() * 256)];
}

function luminance([r, g, b]: Rgb): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

/** A foreground colour that stands out from the background (the class must stay visible). */
function contrastingColour(rng: Rng, background: Rgb): Rgb {
  for (let i = 0; i < 50; i++) {
    const c = randomColour(rng);
    if (Math.abs(luminance(c) - luminance(background)) > 70) return c;
  }
  return luminance(background) > 127 ? [20, 20, 20] : [235, 235, 235];
}

/** Point-in-shape test in the shape's own frame: (u, v) centred on the shape, scaled so the shape spans about [-1, 1]. */
function insideShape(label: ShapeLabel, u: number, v: number, stripeFreq: number): boolean {
  switch (label) {
    case 'circle':
      return u * u + v * v <= 1;
    case 'square':
      return Math.abs(u) <= 0.82 && Math.abs(v) <= 0.82;
    case 'triangle': {
      // Upward equilateral-ish triangle: apex at v=-1, base at v=0.8.
      if (v < -1 || v > 0.8) return false;
      const halfWidth = ((v + 1) / 1.8) * 1.05;
      return Math.abs(u) <= halfWidth;
    }
    case 'cross':
      return (Math.abs(u) <= 1 && Math.abs(v) <= 0.28) || (Math.abs(v) <= 1 && Math.abs(u) <= 0.28);
    case 'stripes':
      return Math.abs(u) <= 1 && Math.abs(v) <= 1 && Math.floor((u + 1) * stripeFreq) % 2 === 0;
  }
}

/**
 * Renders one shape of class `label` on a random background: random colours, centre, size,
 * rotation, a background gradient and pixel noise, all drawn from `rng` (reproducible).
 * Anti-aliased with 2×2 supersampling. `size` is the side of the square image in pixels.
 */
export function renderShape(label: ShapeLabel, rng: Rng, size = 64): RgbImage {
  const background = randomColour(rng);
  const gradient = randomColour(rng);
  const gradientStrength = rng() * 0.5;
  const gradientAngle = rng() * Math.PI * 2;
  const foreground = contrastingColour(rng, background);
  const radius = size * (0.22 + rng() * 0.2);
  const margin = radius * 1.05;
  const cx = margin + rng() * Math.max(0, size - 2 * margin);
  const cy = margin + rng() * Math.max(0, size - 2 * margin);
  const maxRotation = label === 'circle' ? Math.PI : label === 'stripes' ? Math.PI / 2 : Math.PI / 6;
  const angle = (rng() * 2 - 1) * maxRotation;
  const stripeFreq = 2 + Math.floor(rng() * 2);
  const noiseAmplitude = 6 + rng() * 22;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const gx = Math.cos(gradientAngle);
  const gy = Math.sin(gradientAngle);

  const pixels = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let coverage = 0;
      for (let sy = 0; sy < 2; sy++) {
        for (let sx = 0; sx < 2; sx++) {
          const dx = x + 0.25 + sx * 0.5 - cx;
          const dy = y + 0.25 + sy * 0.5 - cy;
          const u = (dx * cos + dy * sin) / radius;
          const v = (-dx * sin + dy * cos) / radius;
          if (insideShape(label, u, v, stripeFreq)) coverage += 0.25;
        }
      }
      const g = Math.max(0, Math.min(1, 0.5 + ((x / size - 0.5) * gx + (y / size - 0.5) * gy))) * gradientStrength;
      const offset = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) {
        const bg = background[c]! * (1 - g) + gradient[c]! * g;
        const value = bg * (1 - coverage) + foreground[c]! * coverage + (rng() * 2 - 1) * noiseAmplitude;
        pixels[offset + c] = Math.max(0, Math.min(255, Math.round(value)));
      }
    }
  }
  return { pixels, width: size, height: size };
}

/** A JPEG of one shape, reproducible from `seed` (the demo feeder drops these into a watched folder). */
export async function makeShapeImage(label: ShapeLabel, seed: number, size = 256): Promise<Buffer> {
  const { pixels, width, height } = renderShape(label, createRng(seed), size);
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}
