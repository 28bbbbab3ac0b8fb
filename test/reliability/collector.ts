import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The figures each reliability part records. Jest runs every test file in its own module
 * registry, so the parts hand their figures to the report through files, not module state.
 */

export interface PartFigures {
  /** e.g. "Load", "Bad input" */
  readonly part: string;
  /** One line on what was done. */
  readonly what: string;
  /** Rows of the part's table: what, tried, survived, lost, notes. */
  readonly rows: readonly FigureRow[];
  /** Other measurements (latency, RSS, duration), printed under the table. */
  readonly measurements?: Readonly<Record<string, string | number>>;
}

export interface FigureRow {
  readonly case: string;
  readonly tried: number;
  readonly survived: number;
  readonly lost: number;
  readonly notes?: string;
}

const FIGURES_DIR = process.env.RELIABILITY_FIGURES_DIR ?? join(tmpdir(), 'mlops-reliability-figures');

export function resetFigures(): void {
  rmSync(FIGURES_DIR, { recursive: true, force: true });
  mkdirSync(FIGURES_DIR, { recursive: true });
}

/** Records (or replaces) one part's figures; call it even when a check fails, before asserting. */
export function recordPart(figures: PartFigures): void {
  mkdirSync(FIGURES_DIR, { recursive: true });
  const file = figures.part.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  writeFileSync(
    join(FIGURES_DIR, `${file}.json`),
    JSON.stringify({ ...figures, recordedAt: new Date().toISOString() }, null, 2),
  );
}

export function readParts(): (PartFigures & { recordedAt: string })[] {
  let files: string[];
  try {
    files = readdirSync(FIGURES_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return files
    .sort()
    .map((f) => JSON.parse(readFileSync(join(FIGURES_DIR, f), 'utf8')) as PartFigures & { recordedAt: string });
}
