import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseArgsProblem } from '../core/registry/parse-args-cli';
import { isAlgorithm } from './algorithms';
import type { AlgorithmName } from './algorithms/types';
import type { LoadOptions } from '../core/data/load';
import { type FeatureType, MISSING_CATEGORY_OPTIONS, type MissingCategory } from '../core/data/schema';
import type { SelectionMetric } from './train';

export interface TrainCommand {
  readonly data: string[];
  readonly out: string;
  readonly name: string;
  readonly label: string;
  readonly load: LoadOptions;
  readonly types: Record<string, FeatureType>;
  readonly exclude: string[];
  readonly algorithms?: AlgorithmName[];
  readonly seed?: number;
  readonly metric: SelectionMetric;
  /** Absent unless --missing-category was given (the trainer then uses its default). */
  readonly missingCategory?: MissingCategory;
}

/** A schema file: what a user would otherwise say with --columns, --label, --text, --types, --exclude. */
interface SchemaFile {
  columns?: string[];
  label?: string;
  types?: Record<string, FeatureType>;
  exclude?: string[];
}

/** The first line of USAGE and where the rest is: what a mistyped command prints after its one-line reason. */
export const SHORT_USAGE = `Usage: npm run train -- --data <file> [--data <file> ...] --label <column> --out <dir> [options]
       npm run train -- --help   lists every option`;

export const USAGE = `Usage: npm run train -- --data <file> [--data <file> ...] --label <column> --out <dir> [options]

  --data <file>          CSV/TSV file (repeat for several files of one layout)
  --label <column>       the column to predict
  --out <dir>            where model.onnx and manifest.json are written
  --name <name>          model name (default: the first file's base name)
  --columns a,b,c        column names, for files without a header row
  --schema <file.json>   { "columns": [...], "label": "...", "types": {"col": "numeric|categorical|text"}, "exclude": [...] }
  --text <column>        treat the column as free text (repeatable)
  --types col=type,...   override inferred types (numeric, categorical, text)
  --exclude a,b          columns to leave out (identifiers, leaks)
  --algorithms lr,gbdt   subset of lr, gbdt, rf, nb, svm (default: all that apply)
  --metric macroF1|accuracy   what picks the best candidate on the validation rows (default macroF1)
  --missing-category own|most-frequent
                         a missing categorical value (empty, ?, NA, ...; null in a request) becomes a
                         category of its own, "(missing)", or the commonest category (default own:
                         as good on random gaps, better when gaps depend on the label; docs/benchmarks.md)
  --seed <n>             split and training seed (default 42)
  --delimiter <c>        field separator (default: detected); use '\\t' for tab
  --header | --no-header whether the first row holds column names (default: detected)
  --quoting on|off       whether " quotes fields (default: on for CSV, off for TSV)`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const list = (v: string | undefined) =>
  v
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];

const OPTIONS = {
  data: { type: 'string', multiple: true },
  label: { type: 'string' },
  out: { type: 'string' },
  name: { type: 'string' },
  columns: { type: 'string' },
  schema: { type: 'string' },
  text: { type: 'string', multiple: true },
  types: { type: 'string' },
  exclude: { type: 'string' },
  algorithms: { type: 'string' },
  metric: { type: 'string' },
  seed: { type: 'string' },
  delimiter: { type: 'string' },
  header: { type: 'boolean' },
  'no-header': { type: 'boolean' },
  quoting: { type: 'string' },
  'missing-category': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** parseArgs, its errors (unknown option, missing value, stray argument) as one-line UsageErrors. */
function parseOptions(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true }).values;
  } catch (error) {
    const problem = parseArgsProblem(error, Object.keys(OPTIONS));
    if (problem === undefined) throw error;
    throw new UsageError(problem, { cause: error });
  }
}

export function parseTrainCommand(argv: string[]): TrainCommand {
  const values = parseOptions(argv);
  const schema: SchemaFile = values.schema ? (JSON.parse(readFileSync(values.schema, 'utf8')) as SchemaFile) : {};
  const data = values.data ?? [];
  const label = values.label ?? schema.label;
  if (data.length === 0) throw new UsageError('--data is required');
  if (!label) throw new UsageError('--label is required (or "label" in --schema)');
  if (!values.out) throw new UsageError('--out is required');

  const types: Record<string, FeatureType> = { ...(schema.types ?? {}) };
  for (const pair of list(values.types)) {
    const [column, type] = pair.split('=');
    if (!['numeric', 'categorical', 'text'].includes(type))
      throw new UsageError(`--types ${pair}: type must be numeric, categorical or text`);
    types[column] = type as FeatureType;
  }
  for (const column of values.text ?? []) types[column] = 'text';

  const algorithms = values.algorithms ? list(values.algorithms) : undefined;
  for (const a of algorithms ?? [])
    if (!isAlgorithm(a))
      throw new UsageError(`--algorithms: unknown algorithm "${a}" (choose from lr, gbdt, rf, nb, svm)`);
  const metric = values.metric ?? 'macroF1';
  if (metric !== 'macroF1' && metric !== 'accuracy') throw new UsageError('--metric must be macroF1 or accuracy');
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError('--seed must be an integer');
  if (values.quoting && !['on', 'off'].includes(values.quoting)) throw new UsageError('--quoting must be on or off');
  const missingCategory = values['missing-category'];
  if (missingCategory !== undefined && !(MISSING_CATEGORY_OPTIONS as readonly string[]).includes(missingCategory)) {
    throw new UsageError(
      `--missing-category must be ${MISSING_CATEGORY_OPTIONS.join(' or ')}, got "${missingCategory}"`,
    );
  }

  const columns = values.columns ? list(values.columns) : schema.columns;
  const delimiter = values.delimiter === '\\t' ? '\t' : values.delimiter;
  const header = values.header ? true : values['no-header'] ? false : undefined;
  const base = data[0].split('/').pop() ?? 'model';
  return {
    data,
    out: values.out,
    name: values.name ?? base.replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9_-]+/g, '-'),
    label,
    load: { columns, delimiter, header, quoting: values.quoting === undefined ? undefined : values.quoting === 'on' },
    types,
    exclude: [...(schema.exclude ?? []), ...list(values.exclude)],
    algorithms: algorithms as AlgorithmName[] | undefined,
    seed,
    metric,
    ...(missingCategory ? { missingCategory: missingCategory as MissingCategory } : {}),
  };
}
