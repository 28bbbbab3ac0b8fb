import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CsvError, parse } from 'csv-parse/sync';
import { DataError } from './errors';

export interface LoadOptions {
  /** Column names for files without a header row (the header is then treated as absent). */
  readonly columns?: readonly string[];
  /** `true`/`false` forces it; by default a first row that reads as names is taken as the header. */
  readonly header?: boolean;
  /** Field separator; by default the most frequent of tab, comma, semicolon in the first line. */
  readonly delimiter?: string;
  /**
   * Whether `"` quotes fields. Defaults to on for comma/semicolon files and off for tab-separated
   * ones, whose text (e.g. movie reviews) holds literal quote characters.
   */
  readonly quoting?: boolean;
}

export interface SourceFile {
  readonly uri: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly rows: number;
}

/** Rows of strings with their column names: what every file becomes before typing. */
export interface RawTable {
  readonly columns: string[];
  readonly rows: string[][];
  /** For each row, the file index and 1-based line it came from (for error messages). */
  readonly origin: { file: number; line: number }[];
  readonly sources: SourceFile[];
  readonly format: { delimiter: string; header: boolean; quoting: boolean };
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function looksNumeric(value: string): boolean {
  return NUMBER.test(value.trim());
}

/**
 * The separator that splits the first lines into the same number of fields every time (ties:
 * the one giving more fields); sentences full of commas in a tab-separated file do not fool it.
 */
function detectDelimiter(text: string): string {
  const lines = text.split('\n', 51).slice(0, 50).filter((l) => l.trim() !== '');
  let best = { delimiter: ',', consistent: false, fields: 0 };
  for (const delimiter of ['\t', ',', ';']) {
    const counts = lines.map((l) => l.split(delimiter).length - 1);
    const consistent = counts.every((c) => c === counts[0]) && counts[0] > 0;
    const fields = counts[0] ?? 0;
    if ((consistent && !best.consistent) || (consistent === best.consistent && fields > best.fields)) {
      best = { delimiter, consistent, fields };
    }
  }
  return best.delimiter;
}

/**
 * A first row is a header when its values are distinct non-numbers and, for some column, the
 * rest of the file disagrees with it: numbers below a word, or the word never recurring.
 */
function firstRowIsHeader(records: string[][]): boolean {
  if (records.length < 2) return records.length === 1 && records[0].every((v) => !looksNumeric(v));
  const first = records[0];
  if (first.some((v) => v.trim() === '' || looksNumeric(v))) return false;
  if (new Set(first).size !== first.length) return false;
  const sample = records.slice(1, 201);
  return first.some((name, c) => {
    const below = sample.map((r) => r[c] ?? '');
    return below.some((v) => looksNumeric(v)) || !below.includes(name);
  });
}

interface ParsedRecord {
  readonly record: string[];
  readonly info: { readonly lines: number };
}

function parseText(text: string, delimiter: string, quoting: boolean, file: string): ParsedRecord[] {
  try {
    return parse(text, {
      info: true,
      delimiter,
      bom: true,
      quote: quoting ? '"' : false,
      relax_quotes: true,
      skip_empty_lines: true,
      relax_column_count: true,
      record_delimiter: ['\r\n', '\n'],
    }) as unknown as ParsedRecord[];
  } catch (error) {
    if (error instanceof CsvError) {
      const line = (error as CsvError & { lines?: number }).lines;
      throw new DataError(`${file}: cannot parse line ${line ?? '?'}: ${error.message}`, { file, row: line });
    }
    throw error;
  }
}

/**
 * Reads one or more files of the same layout into one table. Blank lines are skipped, a UTF-8
 * BOM and CRLF line ends are accepted; ragged rows, an empty file or a header with no data are
 * refused with the file and line.
 */
export function loadTable(paths: readonly string[], options: LoadOptions = {}): RawTable {
  if (paths.length === 0) throw new DataError('no data file given');
  let columns: string[] | undefined = options.columns ? [...options.columns] : undefined;
  let format: RawTable['format'] | undefined;
  const rows: string[][] = [];
  const origin: RawTable['origin'] = [];
  const sources: SourceFile[] = [];

  paths.forEach((path, fileIndex) => {
    let buffer: Buffer;
    try {
      buffer = readFileSync(path);
    } catch (error) {
      throw new DataError(`${path}: cannot read file (${(error as Error).message})`, { file: path });
    }
    const text = buffer.toString('utf8');
    if (text.replace(/^\uFEFF/, '').trim() === '') throw new DataError(`${path}: the file is empty`, { file: path });
    const delimiter = options.delimiter ?? detectDelimiter(text.replace(/^\uFEFF/, ''));
    const quoting = options.quoting ?? delimiter !== '\t';
    const parsed = parseText(text, delimiter, quoting, path);
    const records = parsed.map((p) => p.record);
    const lineOf = parsed.map((p) => p.info.lines);
    const header = options.columns ? false : (options.header ?? firstRowIsHeader(records));
    format ??= { delimiter, header, quoting };

    let start = 0;
    if (header) {
      const names = records[0].map((n) => n.trim());
      if (columns && columns.join('\u0000') !== names.join('\u0000')) {
        throw new DataError(`${path}: header (${names.join(', ')}) differs from the first file's (${columns.join(', ')})`, { file: path, row: 1 });
      }
      columns = names;
      start = 1;
    }
    columns ??= records[0].map((_, i) => `column_${i + 1}`);
    if (records.length - start === 0) {
      throw new DataError(`${path}: the file has a header but no data rows`, { file: path });
    }
    for (let i = start; i < records.length; i++) {
      const record = records[i];
      if (record.length !== columns.length) {
        throw new DataError(
          `${path}: line ${lineOf[i]} has ${record.length} fields, expected ${columns.length} (${columns.join(', ')})`,
          { file: path, row: lineOf[i] },
        );
      }
      rows.push(record);
      origin.push({ file: fileIndex, line: lineOf[i] });
    }
    sources.push({
      uri: `file://${resolve(path)}`,
      sha256: createHash('sha256').update(buffer).digest('hex'),
      bytes: buffer.length,
      rows: records.length - start,
    });
  });

  const names = columns as string[];
  const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
  if (duplicates.length > 0) throw new DataError(`duplicated column name(s): ${[...new Set(duplicates)].join(', ')}`);
  return { columns: names, rows, origin, sources, format: format as RawTable['format'] };
}
