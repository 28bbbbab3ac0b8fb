import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CsvError, type Options, parse } from 'csv-parse/sync';
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

/**
 * Records of one file whose quoted fields held line ends, so that each spans several physical
 * lines: right for text with line breaks, a sign of an unbalanced quote otherwise.
 */
export interface MultilineRecords {
  /** Index into `sources`. */
  readonly file: number;
  /** How many records spanned more than one line. */
  readonly records: number;
  /** Physical lines merged into the line before them (line ends inside quoted fields). */
  readonly lines: number;
  /** The 1-based line the first such record starts on. */
  readonly firstLine: number;
}

/** Rows of strings with their column names: what every file becomes before typing. */
export interface RawTable {
  readonly columns: string[];
  readonly rows: string[][];
  /** For each row, the file index and 1-based line it starts on (for error messages). */
  readonly origin: { file: number; line: number }[];
  readonly sources: SourceFile[];
  readonly format: { delimiter: string; header: boolean; quoting: boolean };
  /** Files with records that spanned several lines (absent or empty: none, or not from loadTable). */
  readonly multiline?: readonly MultilineRecords[];
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
  const lines = text
    .split('\n', 51)
    .slice(0, 50)
    .filter((l) => l.trim() !== '');
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
export function firstRowIsHeader(records: string[][]): boolean {
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

/** A parsed record with the physical lines it covers (1-based, inclusive). */
export interface LocatedRecord {
  readonly record: string[];
  readonly first: number;
  readonly last: number;
}

function csvOptions(delimiter: string, quoting: boolean): Options {
  return {
    info: true,
    delimiter,
    bom: true,
    quote: quoting ? '"' : false,
    relax_quotes: true,
    skip_empty_lines: true,
    relax_column_count: true,
    record_delimiter: ['\r\n', '\n'],
  };
}

/** The line the record after the first `records` ones starts on (blank lines skipped). */
function lineAfterRecords(text: string, delimiter: string, quoting: boolean, records: number): number {
  const before =
    records > 0 ? (parse(text, { ...csvOptions(delimiter, quoting), to: records }) as unknown as ParsedRecord[]) : [];
  const lines = text.split(/\r\n|\n|\r/);
  let line = before.length > 0 ? before[before.length - 1].info.lines + 1 : 1;
  while (line < lines.length && lines[line - 1].trim() === '') line++;
  return line;
}

/**
 * csv-parse counts `\r` and `\n` inside a quoted field as a line each, outside it `\r\n` as one;
 * records are located on physical lines (any of `\r\n`, `\n`, `\r` ends one).
 */
function locate(parsed: readonly ParsedRecord[]): LocatedRecord[] {
  let overcount = 0;
  return parsed.map(({ record, info }) => {
    let counted = 0;
    let physical = 0;
    for (const field of record) {
      for (let i = 0; i < field.length; i++) {
        const ch = field.charCodeAt(i);
        if (ch === 10 || ch === 13) counted++;
        if (ch === 10 || (ch === 13 && field.charCodeAt(i + 1) !== 10)) physical++;
      }
    }
    overcount += counted - physical;
    const last = info.lines - overcount;
    return { record, first: last - physical, last };
  });
}

/**
 * Text with no quote character (or read with quoting off) and no lone `\r` is a line per record and
 * a field per delimiter: csv-parse's result with the options above, record for record (blank lines
 * skipped, a BOM dropped, `\r\n` or `\n` ending a line), at several times its speed
 * (docs/benchmarks.md, section training-columnar). Anything else returns undefined and goes to csv-parse.
 */
export function splitPlainText(text: string, delimiter: string, quoting: boolean): LocatedRecord[] | undefined {
  if ((quoting && text.includes('"')) || /\r(?!\n)/.test(text)) return undefined;
  const records: LocatedRecord[] = [];
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let line = 1; start < text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const stop = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    if (stop > start) records.push({ record: text.slice(start, stop).split(delimiter), first: line, last: line });
    start = end + 1;
  }
  return records;
}

function parseText(text: string, delimiter: string, quoting: boolean, file: string): LocatedRecord[] {
  return splitPlainText(text, delimiter, quoting) ?? csvParseText(text, delimiter, quoting, file);
}

/** The records as csv-parse reads them (quotes, line ends inside fields), located on physical lines. */
export function csvParseText(text: string, delimiter: string, quoting: boolean, file: string): LocatedRecord[] {
  try {
    return locate(parse(text, csvOptions(delimiter, quoting)) as unknown as ParsedRecord[]);
  } catch (error) {
    if (error instanceof CsvError) {
      const details = error as CsvError & { lines?: number; records?: number };
      if (error.code === 'CSV_QUOTE_NOT_CLOSED') {
        const open = lineAfterRecords(text, delimiter, quoting, details.records ?? 0);
        throw new DataError(
          `${file}: line ${open}: a quoted field opens here and is never closed, so lines ${open}-${details.lines ?? '?'} would be one value; ` +
            'balance the quote (a literal quote inside a quoted field is written "") or read the file with --quoting off',
          { file, row: open },
        );
      }
      const line = details.lines;
      throw new DataError(`${file}: cannot parse line ${line ?? '?'}: ${error.message}`, { file, row: line });
    }
    throw error;
  }
}

/** The file's records that spanned several lines, or undefined when none did. */
export function multilineRecords(
  file: number,
  records: readonly LocatedRecord[],
  start: number,
): MultilineRecords | undefined {
  let count = 0;
  let lines = 0;
  let firstLine = 0;
  for (let i = start; i < records.length; i++) {
    const span = records[i].last - records[i].first;
    if (span === 0) continue;
    if (count === 0) firstLine = records[i].first;
    count++;
    lines += span;
  }
  return count > 0 ? { file, records: count, lines, firstLine } : undefined;
}

/**
 * A data file's text with its delimiter and quoting (the options', else detected); an unreadable or
 * empty file is a DataError naming it. Both loaders (loadTable, loadColumns) start here.
 */
export function readDataFile(
  path: string,
  options: Pick<LoadOptions, 'delimiter' | 'quoting'>,
): { buffer: Buffer; text: string; delimiter: string; quoting: boolean } {
  let buffer: Buffer;
  try {
    buffer = readFileSync(path);
  } catch (error) {
    throw new DataError(`${path}: cannot read file (${(error as Error).message})`, { file: path });
  }
  const text = buffer.toString('utf8');
  const content = text.replace(/^\uFEFF/, '');
  if (content.trim() === '') throw new DataError(`${path}: the file is empty`, { file: path });
  const delimiter = options.delimiter ?? detectDelimiter(content);
  return { buffer, text, delimiter, quoting: options.quoting ?? delimiter !== '\t' };
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
  const multiline: MultilineRecords[] = [];

  paths.forEach((path, fileIndex) => {
    const { buffer, text, delimiter, quoting } = readDataFile(path, options);
    const parsed = parseText(text, delimiter, quoting, path);
    const records = parsed.map((p) => p.record);
    const lineOf = parsed.map((p) => p.first);
    const header = options.columns ? false : (options.header ?? firstRowIsHeader(records));
    format ??= { delimiter, header, quoting };

    let start = 0;
    if (header) {
      const names = records[0].map((n) => n.trim());
      if (columns && columns.join('\u0000') !== names.join('\u0000')) {
        throw new DataError(
          `${path}: header (${names.join(', ')}) differs from the first file's (${columns.join(', ')})`,
          { file: path, row: 1 },
        );
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
        const { first, last } = parsed[i];
        const spans =
          last > first ? ` (the record spans lines ${first}-${last}: a quote there is probably unbalanced)` : '';
        throw new DataError(
          `${path}: line ${lineOf[i]} has ${record.length} fields, expected ${columns.length} (${columns.join(', ')})${spans}`,
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
    const merged = multilineRecords(fileIndex, parsed, start);
    if (merged) multiline.push(merged);
  });

  const names = columns as string[];
  const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
  if (duplicates.length > 0) throw new DataError(`duplicated column name(s): ${[...new Set(duplicates)].join(', ')}`);
  return { columns: names, rows, origin, sources, format: format as RawTable['format'], multiline };
}
