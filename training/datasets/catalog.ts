import { join } from 'node:path';
import { loadTable, type LoadOptions, type RawTable } from '../../core/data/load';
import type { FeatureType } from '../../core/data/schema';

/** How to read one bundled dataset: files, column names when there is no header, label, exclusions. */
export interface DatasetSpec {
  readonly name: string;
  readonly files: readonly string[];
  readonly load: LoadOptions;
  readonly label: string;
  readonly exclude?: readonly string[];
  readonly types?: Readonly<Record<string, FeatureType>>;
}

export const DATASETS_DIR = __dirname;

const WDBC_MEASUREMENTS = ['radius', 'texture', 'perimeter', 'area', 'smoothness', 'compactness', 'concavity', 'concave_points', 'symmetry', 'fractal_dimension'];

const MUSHROOM_COLUMNS = [
  'class', 'cap-shape', 'cap-surface', 'cap-color', 'bruises', 'odor', 'gill-attachment', 'gill-spacing', 'gill-size',
  'gill-color', 'stalk-shape', 'stalk-root', 'stalk-surface-above-ring', 'stalk-surface-below-ring',
  'stalk-color-above-ring', 'stalk-color-below-ring', 'veil-type', 'veil-color', 'ring-number', 'ring-type',
  'spore-print-color', 'population', 'habitat',
];

export const DATASETS: Readonly<Record<string, DatasetSpec>> = {
  iris: {
    name: 'iris',
    files: ['iris.csv'],
    load: { columns: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'class'] },
    label: 'class',
  },
  mushrooms: {
    name: 'mushrooms',
    files: ['mushrooms.csv'],
    load: { columns: MUSHROOM_COLUMNS },
    label: 'class',
  },
  wdbc: {
    name: 'wdbc',
    files: ['wdbc.csv'],
    load: {
      columns: ['id', 'diagnosis', ...['mean', 'se', 'worst'].flatMap((stat) => WDBC_MEASUREMENTS.map((m) => `${m}_${stat}`))],
    },
    label: 'diagnosis',
    exclude: ['id'],
  },
  ai4i2020: {
    name: 'ai4i2020',
    files: ['ai4i2020.csv'],
    load: {},
    label: 'Machine failure',
    // Identifiers, and the failure modes that define the label (they would leak it).
    exclude: ['UDI', 'Product ID', 'TWF', 'HDF', 'PWF', 'OSF', 'RNF'],
  },
  sentiment: {
    name: 'sentiment',
    files: ['sentiment/amazon_cells_labelled.txt', 'sentiment/imdb_labelled.txt', 'sentiment/yelp_labelled.txt'],
    load: { columns: ['sentence', 'label'], delimiter: '\t', quoting: false },
    label: 'label',
    types: { sentence: 'text' },
  },
};

export function datasetPaths(spec: DatasetSpec): string[] {
  return spec.files.map((f) => join(DATASETS_DIR, f));
}

export function loadDataset(spec: DatasetSpec): RawTable {
  return loadTable(datasetPaths(spec), spec.load);
}

/** Schema overrides and label for trainCandidates, as the catalog entry says. */
export function trainOptionsFor(spec: DatasetSpec): { label: string; exclude?: readonly string[]; types?: Readonly<Record<string, FeatureType>> } {
  return { label: spec.label, exclude: spec.exclude, types: spec.types };
}
