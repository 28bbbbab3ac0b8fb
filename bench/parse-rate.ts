import { readFileSync } from 'node:fs';
import { columnarFromRows } from '../core/data/columns';
import { csvParseText, loadTable, splitPlainText } from '../core/data/load';
import { loadColumns } from '../core/data/load-columns';

/**
 * `tsx bench/parse-rate.ts <file.csv>`: MB/s of each loading step on one file (best of 3 of
 * min(wall, cpu), so other processes on a shared machine count less): csv-parse as the loader
 * used it for every file, the plain-text path it now takes for files without quotes, the whole
 * loadTable, the typed columns built from its rows, and loadColumns: the whole load training
 * now does (read, parse, typing, and each row's split key hashed, over every column as with no
 * --exclude), i.e. MB/s of data ready to train.
 */
function best(name: string, megabytes: number, fn: () => unknown): void {
  let seconds = Infinity;
  for (let i = 0; i < 3; i++) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    fn();
    const wall = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    seconds = Math.min(seconds, wall, (used.user + used.system) / 1e6);
  }
  console.log(`${name.padEnd(36)} ${seconds.toFixed(3)} s  ${(megabytes / seconds).toFixed(1)} MB/s`);
}

const path = process.argv[2];
if (!path) throw new Error('usage: tsx bench/parse-rate.ts <file.csv>');
const buffer = readFileSync(path);
const text = buffer.toString('utf8');
const mb = buffer.length / 1e6;
console.log(`${path}: ${mb.toFixed(1)} MB`);
best('csv-parse (loader options)', mb, () => csvParseText(text, ',', true, path));
best('plain-text path', mb, () => splitPlainText(text, ',', true));
best('loadTable (read, parse, check)', mb, () => loadTable([path]));
const table = loadTable([path]);
best('typed columns from rows', mb, () => columnarFromRows(table.columns, table.rows));
best('loadColumns (read to typed, hashed)', mb, () => loadColumns([path], { digestExclude: [] }));
