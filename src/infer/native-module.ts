/**
 * The optional native package's name, alone in its file: the main thread needs the name to start
 * hosts, and importing it from backend.ts would load TF.js into a thread that never runs a model.
 */
export const TFJS_NODE = '@tensorflow/tfjs-node';
