import { createHash } from 'node:crypto';

/** The SHA-256 of some bytes (or a string's UTF-8), as 64 lowercase hex digits: how models, data files and documents are fingerprinted. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}
