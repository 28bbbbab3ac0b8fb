import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildSync } from 'esbuild';
import { GENERATED_FEATURES, writeGeneratedCsv } from './generated-data';
import { describeMachine } from './machine';
import { table } from './markdown';

/**
 * `npm run bench -- training-capacity`: how large a dataset one training step of the retraining
 * pipeline handles. Each point is one Map item, `train(item, deps)` from lambdas/pipeline/train.ts,
 * run in a fresh plain `node` process (bench/training-capacity-child.ts, bundled with esbuild as
 * the function is) with a heap cap that keeps it under the function's memory size, on a generated
 * table (bench/generated-data.ts) of increasing size. Per algorithm, seconds = a * cells^b and
 * peak RSS = base + slope * cells are fitted to the measurements, and the largest cells that fit
 * both the time budget and the memory headroom are written to core/pipeline/training-capacity.json,
 * which the pipeline reads to refuse larger datasets up front.
 */

const ROOT = join(__dirname, '..');
const CHILD_ENTRY = join(__dirname, 'training-capacity-child.ts');
const CAPACITY_JSON = join(ROOT, 'core', 'pipeline', 'training-capacity.json');
const run = promisify(execFile);

const ALGORITHMS = ['lr', 'gbdt', 'rf', 'nb', 'svm'] as const;
type Algorithm = (typeof ALGORITHMS)[number];

/** The pipeline function's defaults (lib/constructs/retraining-pipeline.ts RETRAINING_DEFAULTS). */
const MEMORY_MB = 3008;
const LAMBDA_TIMEOUT_S = 15 * 60;
/** The share of the timeout training may use: the rest is headroom for Lambda's CPU differing from this machine's and for init, download, export upload. */
const TIME_SHARE = 0.8;
const TIME_BUDGET_S = LAMBDA_TIMEOUT_S * TIME_SHARE;
/** The share of the memory size the step's peak RSS may reach. */
const MEMORY_HEADROOM = 0.85;
/** Left outside V8's old space for native memory (onnxruntime, buffers, code): the heap cap is the memory size minus this. */
const NATIVE_RESERVE_MB = 300;
const HEAP_CAP_MB = MEMORY_MB - NATIVE_RESERVE_MB;

const ROW_LADDER = [25_000, 50_000, 100_000, 200_000, 400_000, 800_000, 1_600_000, 3_200_000, 6_400_000];
/** A point slower than this ends the algorithm's ladder. */
const STOP_AFTER_S = 150;
/** The next point is not started when it is predicted to take longer than this. */
const MAX_PREDICTED_S = 200;
/** A child still running after this is killed (recorded as a timeout). */
const KILL_AFTER_S = 300;
/** What the whole section may spend on measurements, shared among the algorithms still to run. */
const SECTION_BUDGET_S = 19 * 60;
/** Exponent assumed for the next point's time when only one point is measured. */
const DEFAULT_EXPONENT = 1.2;
/**
 * The limit never exceeds this many times the largest measured point: further out the fits are
 * guesses, and a guess too high is a step Lambda kills at its timeout, what the limit exists to prevent.
 */
const MAX_EXTRAPOLATION = 4;
/** The fits use this many of the largest successful points (at the small ones fixed costs dominate). */
const FIT_POINTS = 4;
const DATA_SEED = 17;
/** A point whose predicted peak RSS exceeds the memory size by this factor is not run (it would only show the obvious, slowly). */
const CLEARLY_OVER = 1.3;
/** Cheapest first: the section's time left over goes to gbdt, the slowest per row that fits in memory. */
const RUN_ORDER: readonly Algorithm[] = ['nb', 'lr', 'svm', 'rf', 'gbdt'];

type FailureKind = 'out of memory' | 'over memory size' | 'stack overflow' | 'timeout' | 'error';

interface ChildReport {
  readonly seconds: number;
  readonly fitSeconds: number;
  readonly maxRssKiB: number;
  readonly cpuSeconds: number;
  readonly snapshotBytes: number;
  readonly onnxBytes: number;
  readonly params: Readonly<Record<string, unknown>>;
  readonly holdout: { readonly accuracy: number; readonly macroF1: number };
}

interface Point {
  readonly algorithm: Algorithm;
  readonly rows: number;
  readonly cells: number;
  /** Spawn to exit as the parent saw it (for failures: until the process died). */
  readonly wallSeconds: number;
  /** 1-minute load average when the point started (2 cores: above ~1 something else was running). */
  readonly load: number;
  readonly report?: ChildReport;
  readonly failure?: { readonly kind: FailureKind; readonly message: string };
}

type Measured = Point & { report: ChildReport };
const ok = (p: Point): p is Measured => p.report !== undefined && p.failure === undefined;
/** Ran to the end (ok, or over the memory size): its time and RSS are measurements. */
const measured = (p: Point): p is Measured => p.report !== undefined;
const rssMiB = (p: Measured) => p.report.maxRssKiB / 1024;
/**
 * The seconds the fits use: train()'s wall time, or its CPU time when that is lower. Alone on the
 * machine wall <= CPU (GC and onnxruntime threads add CPU in parallel); when other work shares the
 * 2 cores, the wall time stretches and the CPU time is the closer estimate of an unshared run.
 */
const seconds = (p: Measured) => Math.min(p.report.seconds, p.report.cpuSeconds);

interface TimeFit {
  readonly a: number;
  readonly b: number;
}

interface RssFit {
  readonly base: number;
  /** MiB per cell. */
  readonly slope: number;
}

/** seconds = a * cells^b, least squares on log seconds against log cells. */
function fitPower(points: readonly { cells: number; seconds: number }[]): TimeFit {
  const xs = points.map((p) => Math.log(p.cells));
  const ys = points.map((p) => Math.log(p.seconds));
  const { intercept, slope } = leastSquares(xs, ys);
  return { a: Math.exp(intercept), b: slope };
}

/** rss = base + slope * cells, least squares. */
function fitLinear(points: readonly { cells: number; rss: number }[]): RssFit {
  const { intercept, slope } = leastSquares(
    points.map((p) => p.cells),
    points.map((p) => p.rss),
  );
  return { base: intercept, slope };
}

function leastSquares(xs: readonly number[], ys: readonly number[]): { intercept: number; slope: number } {
  if (xs.length < 2) throw new Error(`a fit needs at least 2 points, got ${xs.length}`);
  const mx = xs.reduce((s, x) => s + x, 0) / xs.length;
  const my = ys.reduce((s, y) => s + y, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  const slope = sxy / sxx;
  return { intercept: my - slope * mx, slope };
}

/** Rounded down to 3 significant digits: a limit must not round up. */
function floor3(n: number): number {
  if (!(n > 0)) return 0;
  const scale = 10 ** (Math.floor(Math.log10(n)) - 2);
  return Math.floor(n / scale) * scale;
}

const sig = (n: number, digits: number) => Number(n.toPrecision(digits));
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const s1 = (n: number) => n.toFixed(1);

/** What a child's death says: the kind and the line that names it (plus where, for a stack overflow). */
function classify(stderr: string, killedByTimeout: boolean): { kind: FailureKind; message: string } {
  if (killedByTimeout) return { kind: 'timeout', message: `still running after ${KILL_AFTER_S} s, killed` };
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (
    /heap out of memory|Reached heap limit|Allocation failed|Array buffer allocation failed|Invalid array length|Invalid string length/i.test(
      stderr,
    )
  ) {
    const line =
      lines.find((l) => /out of memory|heap limit|Allocation failed|Invalid (array|string) length/i.test(l)) ??
      'heap limit';
    return { kind: 'out of memory', message: line };
  }
  if (stderr.includes('Maximum call stack size exceeded')) {
    const at = lines
      .filter((l) => l.startsWith('at '))
      .slice(0, 3)
      .join(' <- ');
    return { kind: 'stack overflow', message: `Maximum call stack size exceeded ${at}` };
  }
  return { kind: 'error', message: lines.slice(0, 3).join(' | ') || 'the child exited without a report' };
}

async function measure(child: string, algorithm: Algorithm, rows: number, csv: string, tmp: string): Promise<Point> {
  const load = loadavg()[0];
  const start = performance.now();
  const base = { algorithm, rows, cells: rows * GENERATED_FEATURES, load };
  try {
    const { stdout } = await run(
      process.execPath,
      ['--enable-source-maps', `--max-old-space-size=${HEAP_CAP_MB}`, child, algorithm, String(rows), csv, tmp],
      {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production' },
        timeout: KILL_AFTER_S * 1000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 << 20,
      },
    );
    const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ChildReport;
    const wallSeconds = (performance.now() - start) / 1000;
    if (report.maxRssKiB / 1024 > MEMORY_MB) {
      return {
        ...base,
        wallSeconds,
        report,
        failure: {
          kind: 'over memory size',
          message: `peak RSS ${int(report.maxRssKiB / 1024)} MiB > ${MEMORY_MB} MB: Lambda would stop the function`,
        },
      };
    }
    return { ...base, wallSeconds, report };
  } catch (error) {
    const e = error as { stderr?: string; killed?: boolean; signal?: string | null; code?: number | string };
    const wallSeconds = (performance.now() - start) / 1000;
    const timedOut = e.killed === true && e.signal === 'SIGKILL' && wallSeconds >= KILL_AFTER_S - 1;
    const failure = classify(e.stderr ?? String(error), timedOut);
    return {
      ...base,
      wallSeconds,
      failure: { ...failure, message: `${failure.message} (exit ${e.code ?? e.signal ?? '?'})` },
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The next point's peak RSS, linear through the last two successful points (undefined with one). */
function predictRss(done: readonly Measured[], cells: number): number | undefined {
  const last = done[done.length - 1];
  const before = done[done.length - 2];
  if (!before) return undefined;
  return rssMiB(last) + ((rssMiB(last) - rssMiB(before)) / (last.cells - before.cells)) * (cells - last.cells);
}

/** Why the next point is not worth running (too slow, over the section's time, far over the memory size), or undefined. */
function whyNotRun(
  done: readonly Measured[],
  cells: number,
  budget: { spent: number; allowance: number; bisecting: boolean },
): string | undefined {
  const predicted = predictSeconds(done, cells);
  if (predicted > MAX_PREDICTED_S) return `predicted ${s1(predicted)} s > ${MAX_PREDICTED_S} s`;
  if (budget.spent + predicted > budget.allowance) {
    return `predicted ${s1(predicted)} s would exceed its share of the section's time (${s1(budget.allowance - budget.spent)} s left of ${s1(budget.allowance)} s)`;
  }
  const rss = predictRss(done, cells);
  if (!budget.bisecting && rss !== undefined && rss > MEMORY_MB * CLEARLY_OVER) {
    return `predicted peak RSS ${int(rss)} MiB, more than ${CLEARLY_OVER}× the memory size`;
  }
  return undefined;
}

/** The next point's time from the last two successful points' local exponent (at least linear). */
function predictSeconds(done: readonly Measured[], cells: number): number {
  const last = done[done.length - 1];
  const before = done[done.length - 2];
  const b = before
    ? Math.max(1, Math.log(seconds(last) / seconds(before)) / Math.log(last.cells / before.cells))
    : DEFAULT_EXPONENT;
  return seconds(last) * (cells / last.cells) ** b;
}

interface Limit {
  readonly algorithm: Algorithm;
  readonly largestMeasuredCells: number;
  readonly time: TimeFit;
  readonly rss: RssFit;
  /**
   * The fits as training-capacity.json states them: rounded up, and when a failed point caps the
   * limit below what the fit allows, made steeper so that a reader recomputing the limit from them
   * (core/pipeline/training-capacity.ts does) lands on maxCells, not past the failure.
   */
  readonly published: {
    readonly time: TimeFit;
    readonly rss: RssFit;
    readonly bound: 'time' | 'memory';
    readonly steepened?: string;
  };
  readonly timeCells: number;
  readonly memoryCells: number;
  readonly maxCells: number;
  /** What binds: 'failure' when a point crashed for another reason than time or memory (a stack overflow, an error). */
  readonly bound: 'time' | 'memory' | 'failure';
  /** Cells of the first failed point (the limit never exceeds it), if any. */
  readonly failedAtCells?: number;
  /** What the fit says at the largest measured point, against what was measured there. */
  readonly check: {
    readonly seconds: number;
    readonly rss: number;
    readonly measuredSeconds: number;
    readonly measuredRss: number;
  };
}

function failureBound(kind: FailureKind | undefined): Limit['bound'] {
  if (kind === 'timeout') return 'time';
  if (kind === 'out of memory' || kind === 'over memory size') return 'memory';
  return 'failure';
}

/** Rounded up to 4 significant digits: a published cost must not round down. */
function ceil4(n: number): number {
  if (n === 0) return 0;
  const scale = 10 ** (Math.floor(Math.log10(Math.abs(n))) - 3);
  return sig(Math.ceil(n / scale) * scale, 4);
}

function deriveLimit(algorithm: Algorithm, points: readonly Point[]): Limit | undefined {
  const sorted = [...points].sort((x, y) => x.cells - y.cells);
  const good = sorted.filter(ok);
  if (good.length < 2) return undefined;
  // Successful points only: one that went over the memory size ran under a heap cap it pressed against (V8
  // collecting hard, RSS flattened, time inflated), off the curves the fits describe.
  const used = good.slice(-FIT_POINTS);
  const largest = good[good.length - 1];
  // Training reads every row at least once: a fit flatter than linear (the forest's, whose node budget
  // stops its trees growing) would promise too much further out, so it becomes linear through the largest point.
  const fittedTime = fitPower(used.map((p) => ({ cells: p.cells, seconds: seconds(p) })));
  const time = fittedTime.b >= 1 ? fittedTime : { a: seconds(largest) / largest.cells, b: 1 };
  const rss = fitLinear(used.map((p) => ({ cells: p.cells, rss: rssMiB(p) })));
  const timeCells = (TIME_BUDGET_S / time.a) ** (1 / time.b);
  const memoryBudget = MEMORY_MB * MEMORY_HEADROOM;
  const memoryCells = rss.slope > 0 ? (memoryBudget - rss.base) / rss.slope : Number.POSITIVE_INFINITY;
  const fitted = Math.min(timeCells, memoryCells);
  // The smallest point that failed caps the limit at the largest success below it when the fits would
  // allow that size (they missed something), and always when it crashed for another reason.
  const failed = sorted.find((p) => p.failure);
  const failedKind = failureBound(failed?.failure?.kind);
  const capped = failed !== undefined && (fitted >= failed.cells || failedKind === 'failure');
  const failureCap = capped
    ? (good.filter((p) => p.cells < failed.cells).at(-1)?.cells ?? 0)
    : Number.POSITIVE_INFINITY;
  // Past the extrapolation cap it is the unmeasured time that is in doubt: the bound is time.
  const cap = Math.min(failureCap, MAX_EXTRAPOLATION * largest.cells);
  const maxCells = floor3(Math.min(fitted, cap));
  const capKind: Limit['bound'] = failureCap === cap ? failedKind : 'time';
  const bound: Limit['bound'] = cap < fitted ? capKind : timeCells <= memoryCells ? 'time' : 'memory';
  const publishedBound: 'time' | 'memory' = bound === 'failure' ? 'memory' : bound;
  let publishedTime: TimeFit = { a: ceil4(time.a), b: sig(time.b, 4) };
  let publishedRss: RssFit = { base: Math.ceil(rss.base), slope: ceil4(rss.slope * 1e6) / 1e6 };
  let steepened: string | undefined;
  if (cap < fitted && publishedBound === 'time') {
    publishedTime = { a: ceil4(TIME_BUDGET_S / maxCells ** time.b), b: publishedTime.b };
    steepened = `a raised from ${time.a.toExponential(2)} to ${publishedTime.a.toExponential(2)}`;
  } else if (cap < fitted) {
    publishedRss = {
      base: publishedRss.base,
      slope: ceil4(((memoryBudget - publishedRss.base) / maxCells) * 1e6) / 1e6,
    };
    steepened = `slope raised from ${(rss.slope * 1e6).toFixed(0)} to ${(publishedRss.slope * 1e6).toFixed(0)} MiB per M cells`;
  }
  return {
    algorithm,
    largestMeasuredCells: largest.cells,
    time,
    rss,
    published: { time: publishedTime, rss: publishedRss, bound: publishedBound, ...(steepened ? { steepened } : {}) },
    timeCells,
    memoryCells,
    maxCells,
    bound,
    ...(failed ? { failedAtCells: failed.cells } : {}),
    check: {
      seconds: time.a * largest.cells ** time.b,
      rss: rss.base + rss.slope * largest.cells,
      measuredSeconds: seconds(largest),
      measuredRss: rssMiB(largest),
    },
  };
}

/**
 * The pipeline's code imports training-capacity.json (Prepare's capacity check), so the child cannot
 * be bundled before the file exists: the first run starts from one with no algorithms (the schema
 * allows it; no limit applies to an algorithm it does not list) and replaces it with the measurements.
 */
function ensureCapacityJson(): void {
  if (existsSync(CAPACITY_JSON)) return;
  const empty = {
    measuredAt: 'not measured yet',
    machine: describeMachine(),
    referenceMemoryMb: MEMORY_MB,
    timeBudgetSeconds: TIME_BUDGET_S,
    memoryHeadroom: MEMORY_HEADROOM,
    featureColumns: GENERATED_FEATURES,
    csvBytesPerCell: 1,
    algorithms: {},
  };
  writeFileSync(CAPACITY_JSON, `${JSON.stringify(empty, null, 2)}\n`);
}

/** For a quick check of the bench itself (a short ladder, a scratch JSON); `npm run bench` uses the defaults. */
export interface TrainingCapacityOptions {
  readonly rows?: readonly number[];
  readonly algorithms?: readonly Algorithm[];
  readonly capacityJson?: string;
}

export async function benchTrainingCapacity(
  outDir: string,
  log: (line: string) => void,
  options: TrainingCapacityOptions = {},
): Promise<{ markdown: string; failures: string[] }> {
  const ladder = options.rows ?? ROW_LADDER;
  const runOrder = options.algorithms ?? RUN_ORDER;
  /** Reported in the usual order whatever order they ran in. */
  const algorithms = ALGORITHMS.filter((a) => runOrder.includes(a));
  const capacityJson = options.capacityJson ?? CAPACITY_JSON;
  const sectionStart = performance.now();
  const measuredAt = new Date().toISOString();
  mkdirSync(outDir, { recursive: true });
  ensureCapacityJson();
  const child = join(outDir, 'training-capacity-child.js');
  // The function's bundling: CommonJS, source map, onnxruntime-node from node_modules.
  buildSync({
    entryPoints: [CHILD_ENTRY],
    outfile: child,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: true,
    external: ['onnxruntime-node'],
    logLevel: 'error',
  });

  const files = new Map<number, { path: string; bytes: number; positives: number }>();
  const dataFor = (rows: number) => {
    let file = files.get(rows);
    if (!file) {
      const path = join(outDir, `generated-${rows}.csv`);
      const written = writeGeneratedCsv(path, rows, DATA_SEED);
      file = { path, bytes: written.bytes, positives: written.positives };
      files.set(rows, file);
    }
    return file;
  };

  const points: Point[] = [];
  const stops = new Map<Algorithm, string>();
  const failures: string[] = [];
  let measuring = 0;
  try {
    for (const [index, algorithm] of runOrder.entries()) {
      const allowance = (SECTION_BUDGET_S - measuring) / (runOrder.length - index);
      let spent = 0;
      const mine: Point[] = [];
      const notes: string[] = [];
      const queue = [...ladder];
      let bisecting = false;
      for (let rows = queue.shift(); rows !== undefined; rows = queue.shift()) {
        const cells = rows * GENERATED_FEATURES;
        const good = mine.filter(ok).sort((x, y) => x.cells - y.cells);
        const skip = good.length > 0 ? whyNotRun(good, cells, { spent, allowance, bisecting }) : undefined;
        if (skip) {
          notes.push(`${int(rows)} rows not run: ${skip}`);
          break;
        }
        const data = dataFor(rows);
        const point = await measure(child, algorithm, rows, data.path, join(outDir, `tmp-${algorithm}-${rows}`));
        mine.push(point);
        points.push(point);
        spent += point.wallSeconds;
        measuring += point.wallSeconds;
        if (point.failure) {
          log(
            `${algorithm} ${int(rows)} rows: FAILED (${point.failure.kind}) after ${s1(point.wallSeconds)} s: ${point.failure.message}`,
          );
          notes.push(`${point.failure.kind} at ${int(rows)} rows`);
          if (point.failure.kind === 'stack overflow' || point.failure.kind === 'error') {
            failures.push(
              `training-capacity ${algorithm} at ${int(rows)} rows: ${point.failure.kind}: ${point.failure.message}`,
            );
          }
          // Once, after running out of memory: the point halfway (geometrically) to the last success narrows the limit.
          const last = good.at(-1);
          const between = last ? Math.round(Math.sqrt(last.rows * rows) / 1000) * 1000 : 0;
          if (
            !bisecting &&
            failureBound(point.failure.kind) === 'memory' &&
            last &&
            between > last.rows &&
            between < rows
          ) {
            bisecting = true;
            queue.splice(0, queue.length, between);
            continue;
          }
          break;
        }
        const r = point.report as ChildReport;
        const took = seconds(point as Measured);
        log(
          `${algorithm} ${int(rows)} rows: ${s1(r.seconds)} s (cpu ${s1(r.cpuSeconds)} s), peak RSS ${int(r.maxRssKiB / 1024)} MiB, holdout macro F1 ${r.holdout.macroF1.toFixed(3)}, load ${point.load.toFixed(2)}`,
        );
        if (bisecting) {
          notes.push(`${int(rows)} rows (between) ok`);
          break;
        }
        if (took > STOP_AFTER_S) {
          notes.push(`stopped after ${int(rows)} rows took ${s1(took)} s (> ${STOP_AFTER_S} s)`);
          break;
        }
      }
      stops.set(algorithm, notes.length > 0 ? notes.join(', then ') : 'end of the row ladder');
    }
  } finally {
    for (const file of files.values()) rmSync(file.path, { force: true });
  }

  const limits: Limit[] = [];
  for (const algorithm of algorithms) {
    const limit = deriveLimit(
      algorithm,
      points.filter((p) => p.algorithm === algorithm),
    );
    if (limit) limits.push(limit);
    else failures.push(`training-capacity ${algorithm}: fewer than 2 successful points, no limit derived`);
  }

  // CSV bytes per feature cell, from the largest table generated (the header is negligible there).
  const largestRows = Math.max(...files.keys());
  const largestFile = files.get(largestRows);
  const csvBytesPerCell = largestFile ? sig(largestFile.bytes / (largestRows * GENERATED_FEATURES), 3) : 0;
  const positiveShare = largestFile ? largestFile.positives / largestRows : 0;
  const machine = describeMachine();

  const capacity = {
    measuredAt,
    machine,
    referenceMemoryMb: MEMORY_MB,
    timeBudgetSeconds: TIME_BUDGET_S,
    memoryHeadroom: MEMORY_HEADROOM,
    featureColumns: GENERATED_FEATURES,
    csvBytesPerCell,
    algorithms: Object.fromEntries(
      limits.map((l) => [
        l.algorithm,
        {
          largestMeasuredCells: l.largestMeasuredCells,
          seconds: l.published.time,
          rssMiB: { base: l.published.rss.base, perMillionCells: sig(l.published.rss.slope * 1e6, 4) },
          maxCells: l.maxCells,
          // The reader knows time and memory only; a crash (in the markdown) is published as memory, its cap in the fit.
          bound: l.published.bound,
        },
      ]),
    ),
  };
  writeFileSync(capacityJson, `${JSON.stringify(capacity, null, 2)}\n`);
  log(`wrote ${capacityJson}`);

  const sectionSeconds = (performance.now() - sectionStart) / 1000;
  const order = (p: Point) => ALGORITHMS.indexOf(p.algorithm) * 1e9 + p.rows;
  const measuredRows = [...points]
    .sort((x, y) => order(x) - order(y))
    .map((p) => {
      const r = p.report;
      return [
        p.algorithm,
        int(p.rows),
        int(p.cells),
        r ? s1(r.seconds) : `(${s1(p.wallSeconds)} until it died)`,
        r ? s1(r.cpuSeconds) : '',
        measured(p) ? `**${s1(seconds(p))}**` : '',
        r ? int(r.maxRssKiB / 1024) : '',
        r ? (r.onnxBytes / 2 ** 20).toFixed(r.onnxBytes < 2 ** 20 ? 3 : 1) : '',
        r ? r.holdout.macroF1.toFixed(3) : '',
        p.load.toFixed(2),
        p.failure ? `**failed: ${p.failure.kind}** (${p.failure.message.replace(/\|/g, '\\|')})` : 'ok',
      ];
    });
  const limitRows = limits.map((l) => {
    const extrapolation = l.maxCells / l.largestMeasuredCells;
    return [
      l.algorithm,
      int(l.largestMeasuredCells / GENERATED_FEATURES),
      `${l.time.a.toExponential(2)} × cells^${l.time.b.toFixed(3)} (${s1(l.check.seconds)} s vs ${s1(l.check.measuredSeconds)} measured at the largest ok point)`,
      `${int(l.rss.base)} + ${(l.rss.slope * 1e6).toFixed(0)} per M cells (${int(l.check.rss)} vs ${int(l.check.measuredRss)} measured)`,
      int(Math.min(l.timeCells, 1e12)),
      int(Math.min(l.memoryCells, 1e12)),
      `**${int(l.maxCells)}**`,
      `**${int(Math.floor(l.maxCells / GENERATED_FEATURES))}**`,
      l.bound + (l.failedAtCells !== undefined && l.maxCells <= l.largestMeasuredCells ? ' (failed point)' : ''),
      extrapolation > 1.0001 ? `×${extrapolation.toFixed(2)} beyond` : 'within',
      l.published.steepened ?? '',
    ];
  });
  const stopLines = algorithms.map((a) => `${a}: ${stops.get(a) ?? 'not run'}`).join('; ');

  const markdown = `## Training capacity: how large a dataset one training step handles

Each point is one pipeline training step, the real \`train(item, deps)\` of
\`lambdas/pipeline/train.ts\` (load the run's snapshot via /tmp, grid search, refit, ONNX export,
onnxruntime holdout parity, write model.onnx + manifest) for one algorithm, in a fresh plain
\`node\` process: \`bench/training-capacity-child.ts\` bundled with esbuild as the function is
(onnxruntime-node external), run with \`--max-old-space-size=${HEAP_CAP_MB}\` (the memory size,
${MEMORY_MB} MB, minus ${NATIVE_RESERVE_MB} MB for native memory), the buckets an in-memory
object store, the data laid out as Prepare leaves it (a processed/ file, runs/<model>/<run>/data.csv
and data.json). The data is generated (\`bench/generated-data.ts\`, seed ${DATA_SEED}): a
machine-failure table with one categorical and five numeric feature columns (so cells = rows × ${GENERATED_FEATURES}),
a binary label with ${(positiveShare * 100).toFixed(1)}% positives and a nonlinear dependence on the features.
Wall s is train()'s wall time inside the child, cpu s its user + system time over all threads;
*s used* (what the fits and the ladder use) is the lower of the two: alone on the machine the wall
time (GC and onnxruntime threads add CPU time in parallel), when other work shares the 2 cores the
CPU time, the closer estimate of an unshared run. Peak RSS is the child's maxRSS (process start included).
Rows double per point; an algorithm's ladder stops at a point over ${STOP_AFTER_S} s, a failed point,
a next point predicted over ${MAX_PREDICTED_S} s, over ${CLEARLY_OVER}× the memory size (linear through the last two points)
or over its share of the section's time (${SECTION_BUDGET_S / 60} min, run cheapest first: ${RUN_ORDER.join(', ')}); after
running out of memory it measures once more halfway (geometrically) between the last success and the failure.
Load is the 1-minute load average when the point started (2 cores: above 1, something else ran beside it).

${table(['algorithm', 'rows', 'cells', 'wall s', 'cpu s', 's used', 'peak RSS MiB', 'model.onnx MiB', 'holdout macro F1', 'load', 'result'], measuredRows)}

Ladders: ${stopLines}. Section wall time ${s1(sectionSeconds / 60)} min.

**Derived limit per algorithm.** Seconds = a × cells^b (least squares on log-log) and peak RSS
(MiB) = base + slope × cells (least squares), each fitted to the largest ${FIT_POINTS} successful points
(all of them when fewer; not a point over the memory size: it pressed against the heap cap, where V8
collects hard, the RSS flattens and the time swells), then the largest cells that fit both ${TIME_BUDGET_S} s (${TIME_SHARE * 100}% of Lambda's
15-minute limit: headroom for Lambda's CPU differing from this one and for init, download and upload)
and ${MEMORY_HEADROOM * 100}% of ${MEMORY_MB} MB (${int(MEMORY_MB * MEMORY_HEADROOM)} MiB); a point that failed although the fits
allow its size caps the limit at the largest successful point below it ("(failed point)"), and the limit is never
more than ${MAX_EXTRAPOLATION}× the largest successful point (bound "time": further out the fits are guesses). A time fit flatter
than linear (exponent below 1) is replaced by a linear one through the largest point. Rounded down to 3 significant digits. The JSON
states the fits rounded up; where a failed point or the extrapolation cap holds the limit below the fit, it states a steeper
fit (last column) so that recomputing the limit from it, as \`core/pipeline/training-capacity.ts\` does,
gives the cap and not the fit's optimism.

${table(['algorithm', 'largest ok rows', 'seconds fit', 'peak RSS MiB fit', 'cells within time', 'cells within memory', 'max cells', 'max rows at 6 features', 'bound', 'vs largest ok point', 'published fit'], limitRows)}

The snapshot CSV takes ${csvBytesPerCell} bytes per feature cell (the step writes it to /tmp, which is 512 MB
unless the function sets more ephemeral storage). Written to \`core/pipeline/training-capacity.json\`,
which the pipeline reads. Caveats: measured on this machine (${machine}); Lambda at ${MEMORY_MB} MB has
about 1.7 vCPU of unknown single-thread speed and training is single-threaded, so the time bound
carries the ${100 - TIME_SHARE * 100}% headroom and nothing more; "beyond" in the last column is extrapolation past the
largest measured point, which power laws and linear memory fits do not guarantee; the RSS is taken
under a heap cap, so V8 collects harder near it than at small sizes (the memory fit is on the
conservative side there); the function's own baseline (the AWS SDK, Powertools, the S3 download
buffer) is not in the child and adds to the base; the generated table has ${GENERATED_FEATURES} feature columns and a
binary label: more classes, text columns or high-cardinality categoricals cost more per cell.`;

  return { markdown, failures };
}
