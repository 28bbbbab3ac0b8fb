import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const AI4I = readFileSync(join(__dirname, '../../training/datasets/ai4i2020.csv'), 'utf8');

/**
 * ai4i2020 as more readings from the same machines: every tool `minutes` more worn. Same layout and
 * distribution, but no row the pipeline already has (it deduplicates rows by content).
 */
export function ai4iMoreReadings(minutes: number): string {
  return AI4I.split(/\r?\n/)
    .map((line, i) => {
      if (i === 0 || line.trim() === '') return line;
      const values = line.split(',');
      values[7] = String(Number(values[7]) + minutes);
      return values.join(',');
    })
    .join('\n');
}

const IRIS = readFileSync(join(__dirname, '../../training/datasets/iris.csv'), 'utf8');

/** iris with every sepal_length moved by `delta` (two decimals): as many rows, none of them already in iris. */
export function irisShifted(delta: number): string {
  return IRIS.split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [a, ...rest] = line.split(',');
      return [(Number(a) + delta).toFixed(2), ...rest].join(',');
    })
    .join('\n');
}
