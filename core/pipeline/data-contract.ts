/**
 * Checks an uploaded data file against its model's data contract and produces either the clean
 * copy for processed/ or the reason it belongs in quarantine/. Pure apart from a scratch file:
 * bad data never throws, it becomes a problem in a machine-readable report.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError } from '../data/errors';
import { loadTable, looksNumeric, type LoadOptions, type RawTable } from '../data/load';
import { isMissing } from '../data/schema';
import type { ModelSpec } from './model-spec';
import { pushAll } from '../arrays';

export type ProblemKind =
  | 'missing_column'
  | 'empty_file'
  | 'unparseable'
  | 'too_few_rows'
  | 'unknown_label'
  | 'bad_value'
  | 'too_many_missing'
  | 'single_class'
  | 'too_many_dropped'
  /** The upload itself cannot be handled: no model spec for its folder, or a key outside incoming/<model>/<file>. */
  | 'unknown_model'
  | 'misplaced_key';

export interface Problem {
  readonly kind: ProblemKind;
  readonly message: string;
  readonly line?: number;
  readonly column?: string;
}

export type RowFault = 'missing_label' | 'unknown_label' | 'bad_value' | 'repeated_header';

/** One rejected row: the first fault found on it (a row is counted once however many it has). */
export interface RejectedRow {
  readonly line: number;
  readonly column: string;
  readonly value: string;
  readonly fault: RowFault;
  readonly reason: string;
}

export interface ContractReport {
  readonly file: string;
  readonly checkedAt: string;
  readonly status: 'clean' | 'quarantine';
  /** Data rows that reached the row checks (0 when the file failed before them: unreadable, missing columns). */
  readonly rowsIn: number;
  /** Rows that passed the row checks: written to processed/ when the file is clean. */
  readonly rowsOut: number;
  /** Rows that failed the row checks, dropped or (onBadRow 'quarantine') the cause of quarantine;
   * listed up to MAX_LISTED_ROWS, counted in full in droppedCount. rowsIn = rowsOut + droppedCount. */
  readonly dropped: readonly RejectedRow[];
  readonly droppedCount: number;
  readonly problems: readonly Problem[];
  readonly contract: {
    readonly label: string;
    readonly requiredColumns: readonly string[];
    readonly numericColumns: readonly string[];
    readonly labelValues?: readonly string[];
    readonly minRows: number;
    readonly maxMissingFraction: number;
    readonly onBadRow: 'drop' | 'quarantine';
    readonly maxDroppedFraction: number;
  };
}

export type ContractResult =
  /** `columns` and `rows` are the clean rows (what `toCsv` writes), for the steps after the contract (deduplication). */
  | {
      readonly status: 'clean';
      readonly columns: readonly string[];
      readonly rows: readonly (readonly string[])[];
      readonly report: ContractReport;
    }
  | { readonly status: 'quarantine'; readonly report: ContractReport };

/** Keeps a report of a file with thousands of bad rows small enough to read and to store. */
export const MAX_LISTED_ROWS = 100;

/** How the next step reads a processed/ copy: always comma-separated, quoted, with a header. */
export const PROCESSED_LOAD_OPTIONS: LoadOptions = { delimiter: ',', quoting: true, header: true };

/** The share of numbers above which an undeclared column is numeric and its words are typos (as in training). */
const MOSTLY_NUMERIC = 0.95;

function decodeProblem(bytes: Uint8Array): Problem | undefined {
  if (bytes.includes(0))
    return { kind: 'unparseable', message: 'the file is binary (it contains NUL bytes), not delimited text' };
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { kind: 'unparseable', message: 'the file is not UTF-8 text' };
  }
  return undefined;
}

/** The loader only reads paths; a scratch copy keeps training's parsing rules the single source. */
function loadBytes(bytes: Uint8Array, fileName: string, options: LoadOptions): RawTable | Problem {
  const dir = mkdtempSync(join(tmpdir(), 'data-contract-'));
  const path = join(dir, 'upload');
  try {
    writeFileSync(path, bytes);
    return loadTable([path], options);
  } catch (error) {
    if (!(error instanceof DataError)) throw error;
    const message = error.message.split(path).join(fileName);
    const empty = /the file is empty|header but no data rows/.test(message);
    return { kind: empty ? 'empty_file' : 'unparseable', message, line: error.details.row };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function numericColumns(table: RawTable, spec: ModelSpec): string[] {
  const { label, exclude = [], types = {} } = spec.data;
  return table.columns.filter((name, c) => {
    if (name === label || exclude.includes(name)) return false;
    if (types[name]) return types[name] === 'numeric';
    const present = table.rows.filter((r) => !isMissing(r[c]));
    return present.length > 0 && present.filter((r) => looksNumeric(r[c])).length / present.length >= MOSTLY_NUMERIC;
  });
}

function rowFault(
  row: string[],
  table: RawTable,
  spec: ModelSpec,
  numeric: readonly number[],
  labelIndex: number,
): Omit<RejectedRow, 'line'> | undefined {
  const { label } = spec.data;
  // A header line inside the data (files concatenated, or a header on a file read as headerless).
  if (row.every((v, c) => v.trim() === table.columns[c])) {
    return {
      column: label,
      value: row[labelIndex],
      fault: 'repeated_header',
      reason: 'the line repeats the column names (a header inside the data)',
    };
  }
  const value = row[labelIndex];
  if (isMissing(value))
    return { column: label, value, fault: 'missing_label', reason: `the label "${label}" is missing` };
  const allowed = spec.contract.labelValues;
  if (allowed && !allowed.includes(value.trim())) {
    return {
      column: label,
      value,
      fault: 'unknown_label',
      reason: `"${value}" is not one of the label values (${allowed.join(', ')})`,
    };
  }
  for (const c of numeric) {
    if (!isMissing(row[c]) && !looksNumeric(row[c])) {
      return {
        column: table.columns[c],
        value: row[c],
        fault: 'bad_value',
        reason: `"${row[c]}" is not a number (the column is numeric)`,
      };
    }
  }
  return undefined;
}

function quoteField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function toCsv(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  return [columns, ...rows].map((r) => r.map(quoteField).join(',')).join('\n') + '\n';
}

function faultSummary(fault: RowFault, rows: readonly RejectedRow[]): Problem {
  const first = rows[0];
  const kind: ProblemKind = fault === 'unknown_label' ? 'unknown_label' : 'bad_value';
  const message = `${rows.length} row(s) rejected (${fault}); first at line ${first.line}, column "${first.column}": ${first.reason}; the contract says onBadRow "quarantine"`;
  return { kind, message, line: first.line, column: first.column };
}

/** Whole-file checks on the rows that survived: size, classes, missing values, drop rate. */
function tableProblems(table: RawTable, kept: readonly string[][], rejected: number, spec: ModelSpec): Problem[] {
  const { contract, data } = spec;
  const problems: Problem[] = [];
  const rowsIn = kept.length + rejected;
  if (rowsIn > 0 && rejected / rowsIn > contract.maxDroppedFraction) {
    problems.push({
      kind: 'too_many_dropped',
      message: `${rejected} of ${rowsIn} rows (${((100 * rejected) / rowsIn).toFixed(1)}%) were rejected, more than the allowed ${(100 * contract.maxDroppedFraction).toFixed(1)}%`,
    });
  }
  if (kept.length < contract.minRows) {
    problems.push({
      kind: 'too_few_rows',
      message: `${kept.length} usable row(s), the contract needs at least ${contract.minRows}`,
    });
  }
  const labelIndex = table.columns.indexOf(data.label);
  const classes = new Set(kept.map((r) => r[labelIndex].trim()));
  if (kept.length > 0 && classes.size < 2) {
    problems.push({
      kind: 'single_class',
      message: `the label "${data.label}" has only one class (${[...classes][0]}); a classifier needs at least two`,
      column: data.label,
    });
  }
  if (kept.length > 0) {
    table.columns.forEach((name, c) => {
      if (name === data.label || data.exclude?.includes(name)) return;
      const missing = kept.filter((r) => isMissing(r[c])).length / kept.length;
      if (missing > contract.maxMissingFraction) {
        problems.push({
          kind: 'too_many_missing',
          message: `column "${name}" is ${(100 * missing).toFixed(1)}% missing, more than the allowed ${(100 * contract.maxMissingFraction).toFixed(1)}%`,
          column: name,
        });
      }
    });
  }
  return problems;
}

export interface CheckOptions {
  /** @default - the current time */
  readonly now?: Date;
}

/**
 * Checks one uploaded file. Clean: `rows` are the file's rows minus rejected ones, same columns in
 * the same order; `toCsv(columns, rows)` writes them as PROCESSED_LOAD_OPTIONS reads them. Quarantine: the report says what failed and where.
 */
export function checkDataFile(
  bytes: Uint8Array,
  fileName: string,
  spec: ModelSpec,
  options: CheckOptions = {},
): ContractResult {
  const { contract, data } = spec;
  const checkedAt = (options.now ?? new Date()).toISOString();
  const summary = (numeric: readonly string[]): ContractReport['contract'] => ({
    label: data.label,
    requiredColumns: contract.requiredColumns,
    numericColumns: numeric,
    labelValues: contract.labelValues,
    minRows: contract.minRows,
    maxMissingFraction: contract.maxMissingFraction,
    onBadRow: contract.onBadRow,
    maxDroppedFraction: contract.maxDroppedFraction,
  });
  const quarantine = (
    problems: Problem[],
    table?: RawTable,
    numeric: readonly string[] = [],
    rejected: RejectedRow[] = [],
    rowsOut = 0,
  ): ContractResult => ({
    status: 'quarantine',
    report: {
      file: fileName,
      checkedAt,
      status: 'quarantine',
      rowsIn: table?.rows.length ?? 0,
      rowsOut,
      dropped: rejected.slice(0, MAX_LISTED_ROWS),
      droppedCount: rejected.length,
      problems,
      contract: summary(numeric),
    },
  });

  if (bytes.length === 0) return quarantine([{ kind: 'empty_file', message: `${fileName}: the file is empty` }]);
  const undecodable = decodeProblem(bytes);
  if (undecodable) return quarantine([{ ...undecodable, message: `${fileName}: ${undecodable.message}` }]);
  // Without column names the contract is a header row: guessing would turn a bad header into data.
  const loaded = loadBytes(bytes, fileName, {
    columns: data.columns,
    header: data.columns ? undefined : true,
    delimiter: data.delimiter,
    quoting: data.quoting,
  });
  if (!('rows' in loaded)) return quarantine([loaded]);
  const table = loaded;

  const missingColumns = [...new Set([data.label, ...contract.requiredColumns])].filter(
    (c) => !table.columns.includes(c),
  );
  if (missingColumns.length > 0) {
    const hint =
      !data.columns && table.columns.some(looksNumeric)
        ? ' (the first line looks like data; the contract expects a header row)'
        : '';
    return quarantine(
      missingColumns.map((column) => ({
        kind: 'missing_column',
        column,
        message: `${fileName}: column "${column}" is missing; the file has ${table.columns.join(', ')}${hint}`,
      })),
    );
  }

  const numericNames = numericColumns(table, spec);
  const numeric = numericNames.map((n) => table.columns.indexOf(n));
  const labelIndex = table.columns.indexOf(data.label);
  const kept: string[][] = [];
  const rejected: RejectedRow[] = [];
  table.rows.forEach((row, i) => {
    const fault = rowFault(row, table, spec, numeric, labelIndex);
    if (fault) rejected.push({ line: table.origin[i].line, ...fault });
    else kept.push(row);
  });

  const problems: Problem[] = [];
  if (contract.onBadRow === 'quarantine') {
    const faults = [...new Set(rejected.map((r) => r.fault))];
    pushAll(
      problems,
      faults.map((f) =>
        faultSummary(
          f,
          rejected.filter((r) => r.fault === f),
        ),
      ),
    );
  }
  pushAll(problems, tableProblems(table, kept, rejected.length, spec));
  if (problems.length > 0) return quarantine(problems, table, numericNames, rejected, kept.length);

  const report: ContractReport = {
    file: fileName,
    checkedAt,
    status: 'clean',
    rowsIn: table.rows.length,
    rowsOut: kept.length,
    dropped: rejected.slice(0, MAX_LISTED_ROWS),
    droppedCount: rejected.length,
    problems,
    contract: summary(numericNames),
  };
  return { status: 'clean', columns: table.columns, rows: kept, report };
}
