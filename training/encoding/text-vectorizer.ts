import type { InputTensor } from '../../core/features';
import type { GraphBuilder } from '../onnx/graph-builder';

const SEPARATOR = '\u0001';
const MAX_TERMS = 50_000;
const NORM_EPSILON = Math.fround(1e-12);

/**
 * TF-IDF over unigrams and bigrams, with the smoothed IDF and L2 row norm scikit-learn uses.
 * `encodeRow` reproduces, in float32 steps, what the exported TfIdfVectorizer -> ReduceL2 -> Div
 * nodes compute, so the trainer sees the numbers onnxruntime will.
 */
export class TextVectorizer {
  private constructor(
    /** Pool order: all unigrams, then all bigrams (joined with SEPARATOR). */
    readonly terms: readonly string[],
    private readonly unigrams: number,
    private readonly idf: Float32Array,
    private readonly index: ReadonlyMap<string, number>,
  ) {}

  get size(): number {
    return this.terms.length;
  }

  /** Learns the vocabulary (most frequent MAX_TERMS by document frequency) and IDF. */
  static fit(documents: readonly string[][]): TextVectorizer {
    const df = new Map<string, number>();
    for (const tokens of documents) {
      const seen = new Set<string>();
      for (let j = 0; j < tokens.length; j++) {
        if (tokens[j] === '') continue;
        seen.add(tokens[j]);
        if (j + 1 < tokens.length && tokens[j + 1] !== '') seen.add(tokens[j] + SEPARATOR + tokens[j + 1]);
      }
      for (const t of seen) df.set(t, (df.get(t) ?? 0) + 1);
    }
    let kept = [...df.entries()];
    if (kept.length > MAX_TERMS) {
      kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      kept = kept.slice(0, MAX_TERMS);
    }
    const byName = (a: [string, number], b: [string, number]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    const uni = kept.filter(([t]) => !t.includes(SEPARATOR)).sort(byName);
    const bi = kept.filter(([t]) => t.includes(SEPARATOR)).sort(byName);
    const ordered = [...uni, ...bi];
    const n = documents.length;
    const idf = Float32Array.from(ordered, ([, d]) => Math.log((1 + n) / (1 + d)) + 1);
    const terms = ordered.map(([t]) => t);
    return new TextVectorizer(terms, uni.length, idf, new Map(terms.map((t, i) => [t, i])));
  }

  /** Sparse encoded row: column offsets (relative to this block) and float32-rounded values. */
  encodeRow(tokens: InputTensor['data'], start: number, width: number): { cols: number[]; values: number[] } {
    const counts = new Map<number, number>();
    const bump = (term: string) => {
      const k = this.index.get(term);
      if (k !== undefined) counts.set(k, (counts.get(k) ?? 0) + 1);
    };
    for (let j = 0; j < width; j++) {
      const token = tokens[start + j] as string;
      if (token === '') continue;
      bump(token);
      const next = j + 1 < width ? (tokens[start + j + 1] as string) : '';
      if (next !== '') bump(token + SEPARATOR + next);
    }
    const cols = [...counts.keys()].sort((a, b) => a - b);
    const weighted = cols.map((k) => Math.fround((counts.get(k) as number) * this.idf[k]));
    const norm = Math.max(Math.fround(Math.sqrt(weighted.reduce((s, v) => s + v * v, 0))), NORM_EPSILON);
    return { cols, values: weighted.map((v) => Math.fround(v / norm)) };
  }

  /** TfIdfVectorizer + L2 normalisation on a [N, T] token tensor; returns the [N, V] output. */
  toOnnx(graph: GraphBuilder, tokens: string): string {
    const bigrams = this.terms.length - this.unigrams;
    const pool = this.terms.flatMap((t) => t.split(SEPARATOR));
    const tfidf = graph.op('TfIdfVectorizer', [tokens], {
      mode: 'TFIDF',
      min_gram_length: 1,
      max_gram_length: bigrams > 0 ? 2 : 1,
      max_skip_count: 0,
      ngram_counts: { ints: bigrams > 0 ? [0, this.unigrams] : [0] },
      ngram_indexes: { ints: this.terms.map((_, i) => i) },
      pool_strings: pool,
      weights: { floats: Array.from(this.idf) },
    });
    const norm = graph.op('ReduceL2', [tfidf], { axes: { ints: [1] }, keepdims: 1 });
    const safe = graph.op('Max', [norm, graph.floats('norm_epsilon', [NORM_EPSILON], [])]);
    return graph.op('Div', [tfidf, safe]);
  }
}
