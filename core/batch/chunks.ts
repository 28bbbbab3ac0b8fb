/**
 * Splitting a file into byte ranges without reading it: chunk i is [i*size, (i+1)*size), and it
 * owns the lines that START inside it (the Hadoop rule). A chunk reads one byte before its start
 * (to know whether a line starts there) and past its end to the end of its last line. So the
 * start step needs only the object's size; no step ever reads the whole file.
 *
 * Assumption (documented): a newline always ends a row. CSV fields with quoted newlines are not
 * supported (such a row is refused as two broken rows, never silently merged).
 */

export interface ChunkRange {
  readonly index: number;
  readonly start: number;
  readonly end: number;
}

export function planChunks(size: number, chunkBytes: number): ChunkRange[] {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1)
    throw new Error(`chunkBytes must be a positive integer, got ${chunkBytes}`);
  const chunks: ChunkRange[] = [];
  for (let index = 0, start = 0; start < size; index++, start += chunkBytes)
    chunks.push({ index, start, end: Math.min(size, start + chunkBytes) });
  return chunks;
}

/** Reads bytes [start, end) of the object. */
export type RangeReader = (start: number, end: number) => Promise<Uint8Array>;

const NEWLINE = 0x0a;
/** How far past its end a chunk reads at first, for its last line (rows are far shorter). */
const TAIL_BYTES = 64 * 1024;

/** The lines a chunk owns, CR removed, in order (blank lines included, so line numbers stay true). */
export async function readChunkLines(read: RangeReader, chunk: ChunkRange, size: number): Promise<string[]> {
  const from = Math.max(0, chunk.start - 1);
  let to = Math.min(size, chunk.end + TAIL_BYTES);
  let bytes = Buffer.from(await read(from, to));
  // First owned line: at 0 for the first chunk, else just after the first newline at or after start-1.
  let first: number;
  if (chunk.start === 0) first = 0;
  else {
    const newline = bytes.indexOf(NEWLINE);
    if (newline < 0 || from + newline + 1 >= chunk.end) return [];
    first = newline + 1;
  }
  // Last owned line ends at the first newline at or after end-1 (or at the end of the object).
  let last = bytes.indexOf(NEWLINE, Math.max(first, chunk.end - 1 - from));
  while (last < 0 && to < size) {
    const more = Buffer.from(await read(to, Math.min(size, to + TAIL_BYTES)));
    const searchFrom = bytes.length;
    bytes = Buffer.concat([bytes, more]);
    to += more.length;
    last = bytes.indexOf(NEWLINE, searchFrom);
  }
  const text = bytes.toString('utf8', first, last < 0 ? bytes.length : last);
  return text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}
