/** The read stage: decode-once image reading, sharp error classification, and setting bad files aside. */
export { readImage, distinctSpecs, type ImageRead, type ReadLimits, type ReadTimings } from './read-image.js';
export { classifySharpError, classifyFsError } from './classify-error.js';
export { rejectFile, type RejectResult, type RejectReason } from './reject-file.js';
export { sniffImageFormat, endsEarly, type ImageFormat } from './sniff.js';
export { CONVERSION_JPEG_QUALITY } from './decode.js';
