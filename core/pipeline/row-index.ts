import { MissingArtifactError } from './errors';

/**
 * Row identities for deduplication. Each processed/ file has a sidecar holding the identities of
 * its rows: the first 64 bits of each row's content digest (training/split.ts `rowDigest`), sorted,
 * 8 bytes each, big-endian. Validate reads the sidecars (not the data: 8 bytes a row instead of a
 * CSV line, no parsing) to drop rows a model already has. 64 bits keep the chance of two different
 * rows sharing an identity below 3e-6 up to ten million rows per model (birthday bound n²/2^65).
 */

/** The 64-bit identity of a row digest (sha256 hex): its first 16 hex characters. */
export const rowIdentity = (digest: string): string => digest.slice(0, 16);

/** A sorted, duplicate-free set of identities, stored as pairs of 32-bit words. */
export class RowIdentitySet {
  private constructor(private readonly words: Uint32Array) {}

  static empty(): RowIdentitySet {
    return new RowIdentitySet(new Uint32Array(0));
  }

  /** From identities (16 hex characters each), in any order, with repeats. */
  static fromIdentities(identities: Iterable<string>): RowIdentitySet {
    const unique = [...new Set(identities)].sort();
    const words = new Uint32Array(unique.length * 2);
    unique.forEach((id, i) => {
      if (!/^[0-9a-f]{16}$/.test(id)) throw new Error(`"${id}" is not a row identity (16 lower-case hex characters)`);
      words[2 * i] = Number.parseInt(id.slice(0, 8), 16);
      words[2 * i + 1] = Number.parseInt(id.slice(8), 16);
    });
    return new RowIdentitySet(words);
  }

  /** Reads a sidecar; `source` names it in the error when it is not one. */
  static decode(bytes: Uint8Array, source: string): RowIdentitySet {
    if (bytes.length % 8 !== 0)
      throw new MissingArtifactError(
        `${source} is not a row identity file (${bytes.length} bytes is not a multiple of 8)`,
      );
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const words = new Uint32Array(bytes.length / 4);
    for (let i = 0; i < words.length; i++) words[i] = view.getUint32(4 * i, false);
    return new RowIdentitySet(words);
  }

  /**
   * The union of several sets (a model's sidecars), merged as numbers: no string per row, so a
   * model with millions of processed rows costs 8 bytes a row here, not a string each.
   */
  static union(sets: readonly RowIdentitySet[]): RowIdentitySet {
    let total = 0;
    for (const set of sets) total += set.words.length;
    const all = new Uint32Array(total);
    let offset = 0;
    for (const set of sets) {
      all.set(set.words, offset);
      offset += set.words.length;
    }
    const order = Int32Array.from({ length: total / 2 }, (_, i) => i);
    order.sort((a, b) => all[2 * a] - all[2 * b] || all[2 * a + 1] - all[2 * b + 1]);
    const words = new Uint32Array(total);
    let n = 0;
    for (const i of order) {
      const hi = all[2 * i];
      const lo = all[2 * i + 1];
      if (n > 0 && words[2 * n - 2] === hi && words[2 * n - 1] === lo) continue;
      words[2 * n] = hi;
      words[2 * n + 1] = lo;
      n++;
    }
    return new RowIdentitySet(words.slice(0, 2 * n));
  }

  get size(): number {
    return this.words.length / 2;
  }

  encode(): Uint8Array {
    const bytes = new Uint8Array(this.words.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < this.words.length; i++) view.setUint32(4 * i, this.words[i], false);
    return bytes;
  }

  *identities(): Generator<string> {
    for (let i = 0; i < this.words.length; i += 2) {
      yield this.words[i].toString(16).padStart(8, '0') + this.words[i + 1].toString(16).padStart(8, '0');
    }
  }

  has(identity: string): boolean {
    const hi = Number.parseInt(identity.slice(0, 8), 16);
    const lo = Number.parseInt(identity.slice(8, 16), 16);
    let low = 0;
    let high = this.size - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const h = this.words[2 * mid];
      const l = this.words[2 * mid + 1];
      if (h === hi && l === lo) return true;
      if (h < hi || (h === hi && l < lo)) low = mid + 1;
      else high = mid - 1;
    }
    return false;
  }
}

export interface Deduplicated<T> {
  readonly kept: T[];
  /** Identities of the kept rows (what the new sidecar holds). */
  readonly keptIdentities: RowIdentitySet;
  /** Rows already in the model's processed data. */
  readonly duplicatesOfProcessed: number;
  /** Rows repeating an earlier row of the same file. */
  readonly duplicatesWithinFile: number;
}

/** Keeps the first occurrence of each row not already `seen`, in file order. */
export function deduplicate<T>(rows: readonly T[], digests: readonly string[], seen: RowIdentitySet): Deduplicated<T> {
  const kept: T[] = [];
  const keptIds = new Set<string>();
  let duplicatesOfProcessed = 0;
  let duplicatesWithinFile = 0;
  for (let i = 0; i < rows.length; i++) {
    const id = rowIdentity(digests[i]);
    if (seen.has(id)) duplicatesOfProcessed++;
    else if (keptIds.has(id)) duplicatesWithinFile++;
    else {
      keptIds.add(id);
      kept.push(rows[i]);
    }
  }
  return { kept, keptIdentities: RowIdentitySet.fromIdentities(keptIds), duplicatesOfProcessed, duplicatesWithinFile };
}
