import { describeWindow, takeWindow } from '../../core/pipeline/window';
import { parseModelSpec } from '../../core/pipeline/model-spec';
import { processedAt, processedKey } from '../../lambdas/pipeline/keys';

const now = new Date('2026-11-30T12:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 24 * 3600 * 1000);
/** Five files, one a day, 100 rows each except the newest (30 rows). */
const files = [4, 3, 2, 1, 0].map((d) => ({
  key: processedKey('m', `day-${d}.csv`, `etag${d}`, daysAgo(d)),
  processedAt: daysAgo(d),
  rows: d === 0 ? 30 : 100,
}));
const rowsOf = async (f: (typeof files)[number]) => f.rows;
const chosen = async (window: Parameters<typeof takeWindow>[1]) =>
  (await takeWindow(files, window, now, rowsOf)).map((c) => c.file.key.replace(/^.*-day-(\d)\.csv$/, 'day-$1'));

describe('training window', () => {
  test('no window: every file, oldest first', async () => {
    expect(await chosen(undefined)).toEqual(['day-4', 'day-3', 'day-2', 'day-1', 'day-0']);
  });

  test('the newest N files', async () => {
    expect(await chosen({ files: 2 })).toEqual(['day-1', 'day-0']);
  });

  test('the newest files until they hold N rows; the file crossing the bound is kept whole', async () => {
    expect(await chosen({ rows: 30 })).toEqual(['day-0']);
    expect(await chosen({ rows: 31 })).toEqual(['day-1', 'day-0']);
    expect(await chosen({ rows: 10_000 })).toEqual(['day-4', 'day-3', 'day-2', 'day-1', 'day-0']);
  });

  test('files processed in the last D days, within every bound given', async () => {
    expect(await chosen({ days: 2 })).toEqual(['day-2', 'day-1', 'day-0']);
    expect(await chosen({ days: 2, files: 1 })).toEqual(['day-0']);
    expect(await chosen({ days: 3, rows: 150 })).toEqual(['day-2', 'day-1', 'day-0']);
  });

  test('reads rows only for the files it considers', async () => {
    const asked: string[] = [];
    await takeWindow(files, { rows: 50 }, now, async (f) => {
      asked.push(f.key);
      return f.rows;
    });
    expect(asked).toHaveLength(2);
  });

  test('processed keys carry their time', () => {
    expect(processedAt(files[0].key)?.toISOString()).toBe('2026-11-26T12:00:00.000Z');
    expect(processedAt('processed/m/legacy.csv')).toBeUndefined();
  });

  test('is described in words, and a spec refuses an empty or non-positive window', () => {
    expect(describeWindow(undefined)).toBe('every processed file (no window)');
    expect(describeWindow({ files: 3, days: 30 })).toBe(
      'the newest 3 file(s), within files processed in the last 30 day(s)',
    );
    const spec = (window: unknown) =>
      JSON.stringify({
        name: 'm',
        data: { label: 'y' },
        contract: { minRows: 1, onBadRow: 'drop' },
        training: { selectionMetric: 'macroF1', window },
        gate: { metric: 'macroF1', margin: 0, floor: 0 },
      });
    expect(parseModelSpec(spec({ rows: 1000 }), 'm.json').training.window).toEqual({ rows: 1000 });
    expect(() => parseModelSpec(spec({}), 'm.json')).toThrow(
      /training.window must set at least one of files, rows, days/,
    );
    expect(() => parseModelSpec(spec({ days: 0 }), 'm.json')).toThrow(
      /training.window.days must be a whole number of days >= 1/,
    );
    expect(() => parseModelSpec(spec({ weeks: 2 }), 'm.json')).toThrow(/unknown field\(s\) "weeks"/);
  });
});
