/** Programmatic API of edgewatch. */
export const VERSION = '0.1.0';
