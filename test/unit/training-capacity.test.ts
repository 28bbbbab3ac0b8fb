import {
  algorithmLimit,
  capacityProblem,
  FULL_VCPU_MEMORY_MB,
  REFERENCE_RESOURCES,
  scratchSpaceMb,
  TRAINING_CAPACITY,
  type TrainingCapacity,
} from '../../core/pipeline/training-capacity';

/** Round numbers so every limit can be worked out by hand: seconds = cells x 1e-5 (fast) or 1e-3 (slow), RSS = 200 MiB + 100 MiB per million cells. */
const CAPACITY: TrainingCapacity = {
  measuredAt: '2026-11-30T00:00:00Z',
  machine: 'test',
  referenceMemoryMb: 3008,
  timeBudgetSeconds: 720,
  memoryHeadroom: 0.85,
  featureColumns: 6,
  csvBytesPerCell: 8,
  algorithms: {
    fast: {
      largestMeasuredCells: 6e6,
      seconds: { a: 1e-5, b: 1 },
      rssMiB: { base: 200, perMillionCells: 100 },
      maxCells: 0,
      bound: 'memory',
    },
    slow: {
      largestMeasuredCells: 6e6,
      seconds: { a: 1e-3, b: 1 },
      rssMiB: { base: 200, perMillionCells: 100 },
      maxCells: 0,
      bound: 'time',
    },
  },
};

const at = (memoryMb: number, timeoutSeconds = 900) => ({ memoryMb, timeoutSeconds });

describe('algorithmLimit', () => {
  test('the time budget binds a slow algorithm; memory binds a fast one', () => {
    // slow: 720 s / 1e-3 s per cell = 720,000 cells; memory: (3008 * 0.85 - 200) / 100 * 1e6 = 23,568,000 cells.
    expect(algorithmLimit('slow', at(3008), CAPACITY)).toEqual({ algorithm: 'slow', maxCells: 720_000, bound: 'time' });
    // fast at 1024 MB: 72,000,000 cells x a CPU share of 1024/1769 in time; memory (870.4 - 200) / 100 * 1e6 = 6,704,000.
    expect(algorithmLimit('fast', at(1024), CAPACITY)).toEqual({
      algorithm: 'fast',
      maxCells: 6_704_000,
      bound: 'memory',
    });
  });

  test('below one full vCPU the time budget shrinks with the CPU share; above it, more memory buys no speed', () => {
    const half = Math.round(FULL_VCPU_MEMORY_MB / 2);
    expect(algorithmLimit('slow', at(half), CAPACITY)?.maxCells).toBeCloseTo(
      720_000 * (half / FULL_VCPU_MEMORY_MB),
      -1,
    );
    expect(algorithmLimit('slow', at(10_240), CAPACITY)?.maxCells).toBe(720_000);
  });

  test('a memory size that cannot hold the base footprint trains nothing', () => {
    expect(algorithmLimit('fast', at(128), CAPACITY)).toEqual({ algorithm: 'fast', maxCells: 0, bound: 'memory' });
  });

  test('a shorter timeout shrinks the time budget in proportion', () => {
    expect(algorithmLimit('slow', at(3008, 300), CAPACITY)).toEqual({
      algorithm: 'slow',
      maxCells: 240_000,
      bound: 'time',
    });
    expect(capacityProblem('m', { rows: 50_000, featureColumns: 6 }, ['slow'], at(3008, 300), CAPACITY)).toContain(
      "raise the pipeline's timeout (300 s)",
    );
  });

  test('an algorithm that was never measured has no limit', () => {
    expect(algorithmLimit('unknown', at(3008), CAPACITY)).toBeUndefined();
  });
});

describe('capacityProblem', () => {
  test("data within every algorithm's limit passes", () => {
    expect(
      capacityProblem('m', { rows: 100_000, featureColumns: 6 }, ['fast', 'slow'], at(3008), CAPACITY),
    ).toBeUndefined();
  });

  test('too large for one algorithm: names the sizes, the limit, and the fixes (window rows, the algorithms that fit)', () => {
    const problem = capacityProblem('m', { rows: 200_000, featureColumns: 6 }, ['fast', 'slow'], at(3008), CAPACITY);
    expect(problem).toContain('200,000 rows x 6 feature column(s) = 1,200,000 cells');
    expect(problem).toContain('slow at most 720,000 (its 720 s share of a 900 s step)');
    expect(problem).toContain('"window": {"rows": 120000}} in config/models/m.json');
    expect(problem).toContain('train only fast');
    expect(problem).not.toContain('memorySize');
  });

  test('memory-bound: suggests more memory', () => {
    const problem = capacityProblem('m', { rows: 2_000_000, featureColumns: 6 }, ['fast'], at(1024), CAPACITY);
    expect(problem).toContain('fast at most 6,704,000 (1024 MB of memory)');
    expect(problem).toContain('raise platform.pipeline.memorySize');
    expect(problem).not.toContain('train only');
  });
});

describe('scratchSpaceMb', () => {
  test("room for the largest dataset twice (snapshot and an upload) plus the runtime, in 512 MB steps within Lambda's 512-10,240 MB", () => {
    // largest: fast at 3008 MB, 23,568,000 cells (memory) -> 2 x 23.568e6 x 8 B = 360 MiB + 256 = 616 -> 1,024 MB.
    expect(scratchSpaceMb(at(3008), CAPACITY)).toBe(1024);
    // 2 x 23.568e6 x 100 B = 4,496 MiB + 256 = 4,752 -> 5,120 MB.
    expect(scratchSpaceMb(at(3008), { ...CAPACITY, csvBytesPerCell: 100 })).toBe(5120);
    expect(scratchSpaceMb(at(3008), { ...CAPACITY, csvBytesPerCell: 10_000 })).toBe(10_240);
  });
});

describe('the measured capacity (core/pipeline/training-capacity.json, written by npm run bench -- training-capacity)', () => {
  test("covers every algorithm a spec can name, at the pipeline function's default memory", () => {
    expect(Object.keys(TRAINING_CAPACITY.algorithms).sort()).toEqual(['gbdt', 'lr', 'nb', 'rf', 'svm']);
    expect(TRAINING_CAPACITY.referenceMemoryMb).toBe(3008);
  });

  test('the limits recomputed from the fits agree with what the bench wrote', () => {
    for (const [name, measured] of Object.entries(TRAINING_CAPACITY.algorithms)) {
      const limit = algorithmLimit(name, REFERENCE_RESOURCES);
      expect(limit?.bound).toBe(measured.bound);
      expect(Math.abs((limit?.maxCells ?? 0) - measured.maxCells) / measured.maxCells).toBeLessThan(0.01);
    }
  });
});
