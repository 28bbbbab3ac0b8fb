import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** Where a metric is emitted: which constant, which key, which function folder, which dimensions. */
export interface RecordedMetric {
  /** `INFERENCE_METRICS`, `PIPELINE_METRICS`, `MONITORING_METRICS` or `CAPTURE_METRICS`. */
  readonly constant: string;
  /** The key in that constant, e.g. `predictions`. */
  readonly key: string;
  /** The function folder under lambdas/ (`inference`, `pipeline`, `monitoring`). */
  readonly folder: string;
  /** The record's own dimension names, sorted (Powertools adds `service`); undefined if not literal. */
  readonly dimensions?: readonly string[];
  /** file:line, for messages. */
  readonly where: string;
}

const LAMBDAS_DIR = join(__dirname, '..', '..', 'lambdas');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Keys of an object literal's text, shorthand (`{ model }`) included. */
function literalKeys(body: string): string[] {
  return body
    .split(',')
    .map((part) => part.split(':')[0].trim())
    .filter((key) => /^\w+$/.test(key))
    .sort();
}

/**
 * Every metric record literal `{ name: <INFERENCE|PIPELINE|MONITORING|CAPTURE>_METRICS.<key>, ...,
 * dimensions }` in lambdas/ (passed to `record(...)`, or listed for `recordTogether(...)`), read
 * from the source: what the functions actually emit, as opposed to what the constants merely
 * declare. A `dimensions` shorthand is resolved through the nearest `const dimensions = {...}`
 * before it in the same file.
 */
export function recordedMetrics(root: string = LAMBDAS_DIR): RecordedMetric[] {
  const found: RecordedMetric[] = [];
  // The record literal: `{ name: X.key, ... }` holding at most one nested `{...}` (a dimensions literal).
  const call =
    /\{\s*name:\s*(INFERENCE_METRICS|PIPELINE_METRICS|MONITORING_METRICS|CAPTURE_METRICS)\.(\w+),((?:[^;{}]|\{[^{}]*\})*?)\}/g;
  for (const file of sourceFiles(root)) {
    const text = readFileSync(file, 'utf8');
    const folder = relative(root, file).split(sep)[0];
    const declarations = [...text.matchAll(/const dimensions = \{([^}]*)\}/g)];
    for (const match of text.matchAll(call)) {
      const rest = match[3];
      const literal = /dimensions:\s*\{([^}]*)\}/.exec(rest);
      const shorthand = /\bdimensions\s*$/.test(rest.trim()) || /\bdimensions\s*,/.test(rest);
      const declared = declarations.filter((d) => (d.index ?? 0) < (match.index ?? 0)).at(-1);
      const dimensions = literal
        ? literalKeys(literal[1])
        : shorthand && declared
          ? literalKeys(declared[1])
          : undefined;
      const line = text.slice(0, match.index).split('\n').length;
      found.push({ constant: match[1], key: match[2], folder, dimensions, where: `${relative(root, file)}:${line}` });
    }
  }
  return found;
}
