import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { ColumnBuilder, trimmed } from './column-builder';
import type { TypedTable } from './columns';
import { DataError } from './errors';
import {
  csvParseText,
  readDataFile,
  firstRowIsHeader,
  type LoadOptions,
  type MultilineRecords,
  multilineRecords,
  type RawTable,
  type SourceFile,
} from './load';
import { contentColumns, digestInto, RECORD, SPLIT_KEY_BYTES, UNIT } from './row-digest';

/**
 * Training's loader: loadTable's files, checks and errors, read into typed columns
 * (core/data/columns.ts) instead of rows of strings.
 */

export interface LoadColumnsOptions extends LoadOptions {
  /**
   * Hash each row's content while its text is at hand (training/split.ts's row digests), over
   * every column but these; the split keys are kept on the table (TypedTable.splitKeys).
   * @default - no split keys: training computes the digests from the columns
   */
  readonly digestExclude?: readonly string[];
}

/**
 * The first up-to-`count` records of a quote-free text as splitPlainText reads them (what the
 * header test looks at), without reading the rest.
 */
function firstPlainRecords(text: string, delimiter: string, count: number): string[][] {
  const records: string[][] = [];
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (start < text.length && records.length < count) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const stop = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    if (stop > start) records.push(text.slice(start, stop).split(delimiter));
    start = end + 1;
  }
  return records;
}

/**
 * Each record of a quote-free text, as splitPlainText reads them, given to `each` with its line.
 * The record array is reused from one record to the next: `each` must not keep it.
 */
function eachPlainRecord(text: string, delimiter: string, each: (record: string[], line: number) => void): void {
  const single = delimiter.length === 1 ? delimiter.charCodeAt(0) : -1;
  const fields: string[] = [];
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let line = 1; start < text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const stop = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    if (stop > start) {
      if (single < 0) {
        each(text.slice(start, stop).split(delimiter), line);
      } else {
        // split(delimiter) of the line, without making the line.
        fields.length = 0;
        let from = start;
        for (let i = start; i < stop; i++) {
          if (text.charCodeAt(i) !== single) continue;
          fields.push(text.slice(from, i));
          from = i + 1;
        }
        fields.push(text.slice(from, stop));
        each(fields, line);
      }
    }
    start = end + 1;
  }
}

/** Rows' files, lines and digests, grown as rows arrive. */
class RowSink {
  files: Int32Array;
  lines: Int32Array;
  digests: Uint8Array | undefined;
  size = 0;

  constructor(hashing: boolean, capacity: number) {
    this.files = new Int32Array(capacity);
    this.lines = new Int32Array(capacity);
    if (hashing) this.digests = new Uint8Array(capacity * SPLIT_KEY_BYTES);
  }

  push(file: number, line: number, text: string | undefined): void {
    if (this.size === this.lines.length) {
      const lines = new Int32Array(this.size * 2 + 16);
      lines.set(this.lines);
      this.lines = lines;
      const files = new Int32Array(this.size * 2 + 16);
      files.set(this.files);
      this.files = files;
      if (this.digests) {
        const digests = new Uint8Array((this.size * 2 + 16) * SPLIT_KEY_BYTES);
        digests.set(this.digests);
        this.digests = digests;
      }
    }
    if (this.digests && text !== undefined) digestInto(this.digests, this.size, text, SPLIT_KEY_BYTES);
    this.files[this.size] = file;
    this.lines[this.size++] = line;
  }
}

/** Lines in `text` (an upper bound on its records). */
function lineCount(text: string): number {
  let lines = 1;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) lines++;
  return lines;
}

/**
 * loadTable's table (same files, checks, errors and line numbers) as typed columns, read
 * straight from each file's text into them: no row of strings outlives its line, so a
 * 1,000,000-row file costs its typed columns, not a string per cell. Files with quotes or lone
 * `\r` go through csv-parse record by record, as loadTable reads them.
 */
export function loadColumns(paths: readonly string[], options: LoadColumnsOptions = {}): TypedTable {
  if (paths.length === 0) throw new DataError('no data file given');
  let columns: string[] | undefined = options.columns ? [...options.columns] : undefined;
  let format: RawTable['format'] | undefined;
  let builders: ColumnBuilder[] = [];
  let rows: RowSink | undefined;
  const sources: SourceFile[] = [];
  const multiline: MultilineRecords[] = [];
  let hashed: { names: string[]; index: number[]; prefixes: string[] } | undefined;

  paths.forEach((path, fileIndex) => {
    const { buffer, text, delimiter, quoting } = readDataFile(path, options);
    const plain = !((quoting && text.includes('"')) || /\r(?!\n)/.test(text));
    const parsed = plain ? undefined : csvParseText(text, delimiter, quoting, path);
    const head = parsed ? parsed.slice(0, 201).map((p) => p.record) : firstPlainRecords(text, delimiter, 201);
    const header = options.columns ? false : (options.header ?? firstRowIsHeader(head));
    format ??= { delimiter, header, quoting };

    if (header) {
      const names = head[0].map((n) => n.trim());
      if (columns && columns.join('\u0000') !== names.join('\u0000')) {
        throw new DataError(
          `${path}: header (${names.join(', ')}) differs from the first file's (${columns.join(', ')})`,
          { file: path, row: 1 },
        );
      }
      columns = names;
    }
    columns ??= head[0].map((_, i) => `column_${i + 1}`);
    if (head.length - (header ? 1 : 0) === 0) {
      throw new DataError(`${path}: the file has a header but no data rows`, { file: path });
    }
    const names = columns;
    if (builders.length === 0) {
      // Sized for the first file's lines (an upper bound on its rows), so that a single file is
      // read without growing, and without a copy at the end when few lines were blank.
      const lines = lineCount(text);
      builders = names.map(() => new ColumnBuilder(lines));
      rows = new RowSink(options.digestExclude !== undefined, lines);
    }
    const sink = rows as RowSink;
    if (options.digestExclude && !hashed) {
      const content = contentColumns(names, options.digestExclude);
      hashed = { names: content, index: content.map((c) => names.indexOf(c)), prefixes: content.map((c) => c + UNIT) };
    }
    const digest = hashed;
    let records = 0;
    const cells: string[] = new Array<string>(names.length);
    const take = (record: string[], first: number, last: number) => {
      if (records++ === 0 && header) return;
      if (record.length !== names.length) {
        const spans =
          last > first ? ` (the record spans lines ${first}-${last}: a quote there is probably unbalanced)` : '';
        throw new DataError(
          `${path}: line ${first} has ${record.length} fields, expected ${names.length} (${names.join(', ')})${spans}`,
          { file: path, row: first },
        );
      }
      for (let c = 0; c < record.length; c++) cells[c] = builders[c].push(record[c]);
      let canonical: string | undefined;
      if (digest) {
        // canonicalRow's text: the builders hand back each cell trimmed, '' when missing.
        canonical = '';
        for (let j = 0; j < digest.index.length; j++) canonical += digest.prefixes[j] + cells[digest.index[j]] + RECORD;
      }
      sink.push(fileIndex, first, canonical);
    };
    if (parsed) for (const p of parsed) take(p.record, p.first, p.last);
    else eachPlainRecord(text, delimiter, (record, line) => take(record, line, line));
    sources.push({
      uri: `file://${resolve(path)}`,
      sha256: createHash('sha256').update(buffer).digest('hex'),
      bytes: buffer.length,
      rows: records - (header ? 1 : 0),
    });
    const merged = parsed ? multilineRecords(fileIndex, parsed, header ? 1 : 0) : undefined;
    if (merged) multiline.push(merged);
  });

  const names = columns as string[];
  const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
  if (duplicates.length > 0) throw new DataError(`duplicated column name(s): ${[...new Set(duplicates)].join(', ')}`);
  const sink = rows as RowSink;
  const count = sink.size;
  return {
    columns: names,
    data: builders.map((b) => b.build()),
    rows: count,
    origin: { file: trimmed(sink.files, count), line: trimmed(sink.lines, count) },
    sources,
    format: format as RawTable['format'],
    multiline,
    ...(hashed && sink.digests
      ? { splitKeys: { columns: hashed.names, bytes: trimmed(sink.digests, count * SPLIT_KEY_BYTES) } }
      : {}),
  };
}
