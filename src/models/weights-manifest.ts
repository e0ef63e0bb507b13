/** Reads a TF.js model.json's weightsManifest: which shard files it needs and how many bytes each group must hold. */
import { EdgewatchError } from '../errors.js';

/** One weights group: its shard paths in order and the byte length the weight specs add up to. */
export interface WeightsGroup {
  paths: string[];
  expectedBytes: number;
}

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, float16: 2, uint16: 2, uint8: 1, int8: 1, bool: 1 };

/**
 * Lists the weight groups of a model.json object with their expected byte lengths (from every
 * weight's shape and stored dtype, quantization included). Throws EW_PULL_VERIFY when the manifest
 * is missing, malformed, or uses a dtype whose size cannot be known (strings).
 */
export function readWeightsGroups(modelJson: unknown, where: string): WeightsGroup[] {
  const manifest = (modelJson as { weightsManifest?: unknown } | null)?.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0) throw bad(where, 'model.json has no weightsManifest');
  return manifest.map((group: unknown, g) => {
    const { paths, weights } = (group ?? {}) as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string' && isPlainFileName(p))) {
      throw bad(where, `weightsManifest[${g}].paths must be a non-empty list of plain file names`);
    }
    if (!Array.isArray(weights)) throw bad(where, `weightsManifest[${g}].weights is not a list`);
    let expectedBytes = 0;
    for (const w of weights as Array<{ name?: unknown; shape?: unknown; dtype?: unknown; quantization?: { dtype?: unknown } }>) {
      const shape = w?.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(where, `weight ${String(w?.name)} has no valid shape`);
      const dtype = String(w.quantization?.dtype ?? w.dtype);
      const size = BYTES_PER_ELEMENT[dtype];
      if (size === undefined) throw bad(where, `weight ${String(w?.name)} has dtype ${dtype} whose byte size is unknown`);
      expectedBytes += (shape as number[]).reduce((a, b) => a * b, 1) * size;
    }
    return { paths: paths as string[], expectedBytes };
  });
}

/** True for a file name with no directory part (shard paths are written next to model.json). */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

function bad(where: string, why: string): EdgewatchError {
  return new EdgewatchError('EW_PULL_VERIFY', `${where}: ${why}.`, { details: { model: where } });
}
