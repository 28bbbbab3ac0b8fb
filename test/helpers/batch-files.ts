import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * ai4i2020-like batch files: the bundled dataset's rows (header and all 14 columns: ids and the
 * true labels pass through), repeated with fresh UDIs up to the size asked for, so the output's
 * order can be checked by UDI. Real rows, so the predictions are the model's real answers.
 */
const SOURCE = join(__dirname, '../../training/datasets/ai4i2020.csv');

export function ai4iBatchCsv(rows: number): { text: string; header: string; lines: string[] } {
  const [header, ...data] = readFileSync(SOURCE, 'utf8')
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const cells = data[i % data.length].split(',');
    cells[0] = String(i + 1);
    lines.push(cells.join(','));
  }
  return { text: `${header}\n${lines.join('\n')}\n`, header, lines };
}

/** The features of an ai4i line as the API takes them. */
export function ai4iFeatures(line: string): Record<string, string | number> {
  const c = line.split(',');
  return {
    Type: c[2],
    'Air temperature [K]': Number(c[3]),
    'Process temperature [K]': Number(c[4]),
    'Rotational speed [rpm]': Number(c[5]),
    'Torque [Nm]': Number(c[6]),
    'Tool wear [min]': Number(c[7]),
  };
}
