import { resolve } from 'node:path';

/** The repository root, resolved from this file so synth and bundling work from any working directory. */
export const PROJECT_ROOT = resolve(__dirname, '..', '..');
