/** Reads the one data value a single-module browserify bundle exports (nsfwjs's `model.min.js`, `groupN-shard*.min.js`) without running it. */
import { EdgewatchError } from '../errors.js';
import { parseJsLiteral, type LiteralValue } from './js-literal.js';

// browserify's prelude ends with `}({1:[function(require,module,exports){` (names minified), then
// the module body; a data module's body is exactly `module.exports=<literal>`.
const MODULE_START = /\(\{1:\[function\(([\w$]+),([\w$]+),([\w$]+)\)\{/;
// After the body: `},{}]},{},[1])(1)` (no dependencies, no other module, entry 1).
const MODULE_END = /^;?\s*\},\{\}\]\},\{\},\[1\]\)\(1\)/;

/**
 * Returns the literal exported by a single-module browserify bundle: `file` names the bundle in
 * errors. Throws EW_PULL_FAILED when the bundle is not of that form (more modules, code instead of
 * data): such a file is never executed.
 */
export function readBundleExport(source: string, file: string): LiteralValue {
  const start = MODULE_START.exec(source);
  if (!start) throw notData(file, 'no browserify module 1 found');
  const moduleName = start[2]!;
  const assign = `${moduleName}.exports=`;
  const bodyStart = start.index + start[0].length;
  if (!source.startsWith(assign, bodyStart)) throw notData(file, `module 1 does not start with ${assign}`);
  let parsed: { value: LiteralValue; end: number };
  try {
    parsed = parseJsLiteral(source, bodyStart + assign.length);
  } catch (err) {
    throw notData(file, (err as Error).message, err);
  }
  if (!MODULE_END.test(source.slice(parsed.end, parsed.end + 64))) throw notData(file, 'module 1 holds more than one exported literal');
  return parsed.value;
}

function notData(file: string, why: string, cause?: unknown): EdgewatchError {
  return new EdgewatchError('EW_PULL_FAILED', `${file} is not a browserify bundle exporting plain data (${why}); the package layout may have changed.`, {
    cause,
    details: { file },
  });
}
