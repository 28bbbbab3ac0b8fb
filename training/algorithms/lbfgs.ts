/**
 * Limited-memory BFGS with a strong-Wolfe line search (Nocedal & Wright, Algorithms 7.4, 3.5
 * and 3.6). The linear trainers minimise smooth convex objectives with it, so a dependency-free
 * quasi-Newton method that converges to tight tolerances is all they need.
 */

/** Writes the gradient at `w` into `grad` and returns the objective value. */
export type Objective = (w: Float64Array, grad: Float64Array) => number;

export interface MinimizeOptions {
  /** Correction pairs kept; 10 is the usual trade-off between memory and curvature quality. */
  readonly history?: number;
  readonly maxIterations?: number;
  /** Stop when max |gradient| falls to this. */
  readonly gradTol?: number;
  /** Stop when one iteration lowers the loss by less than this, relative to max(|f|, 1). */
  readonly relTol?: number;
  /**
   * Stop before a step whose predicted decrease (-g . dir / 2, the quadratic model's, for the unit
   * step) is at most this, relative to max(|f|, 1). For a loss summed over many rows, changes that
   * small are rounding noise in f and in its gradient: the line search judges the step on noise
   * and can spend its whole budget in zoom (a warm start near the optimum did, 41 evaluations for
   * one step). Default 0: off, so objectives computed exactly still stop on the gradient test.
   */
  readonly predictedTol?: number;
  /** Function evaluations allowed per line search. */
  readonly maxLineSearch?: number;
}

export type StopReason = 'gradient' | 'relative-loss' | 'max-iterations' | 'line-search';

export interface MinimizeResult {
  readonly w: Float64Array;
  readonly loss: number;
  readonly iterations: number;
  readonly evaluations: number;
  readonly reason: StopReason;
  /** True unless the iteration budget ran out or the line search could not make progress. */
  readonly converged: boolean;
}

// Standard Wolfe constants for quasi-Newton directions: a loose curvature condition (0.9)
// lets the unit step be accepted almost always, which is what makes L-BFGS cheap.
const C1 = 1e-4;
const C2 = 0.9;

/** Four partial sums break the add-latency chain: about twice as fast on long vectors. */
function dot(a: Float64Array, b: Float64Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = a.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++) s0 += a[i] * b[i];
  return s0 + s1 + (s2 + s3);
}

/** y += a * x. Hot loop of the two-loop recursion, kept free of aliasing doubts for the JIT. */
function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += a * x[i];
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Minimiser of the cubic through (a, fa, da) and (b, fb, db); NaN when it has none. */
function cubicMin(a: number, fa: number, da: number, b: number, fb: number, db: number): number {
  const d1 = da + db - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - da * db;
  if (!(disc >= 0)) return NaN;
  const d2 = Math.sign(b - a) * Math.sqrt(disc);
  return b - ((b - a) * (db + d2 - d1)) / (db - da + 2 * d2);
}

interface Point {
  a: number;
  f: number;
  d: number;
}

/**
 * Finds a step along `dir` meeting the strong Wolfe conditions. On success `x`/`g` hold the
 * accepted point and its gradient; returns its loss, or NaN when no acceptable step was found.
 */
function lineSearch(
  f: Objective,
  w: Float64Array,
  f0: number,
  d0: number,
  dir: Float64Array,
  step: number,
  x: Float64Array,
  g: Float64Array,
  maxEvals: number,
  counter: { evals: number },
): number {
  const evaluate = (a: number): Point => {
    for (let i = 0; i < w.length; i++) x[i] = w[i] + a * dir[i];
    counter.evals++;
    const fa = f(x, g);
    return { a, f: fa, d: dot(g, dir) };
  };
  const sufficient = (p: Point): boolean => Number.isFinite(p.f) && p.f <= f0 + C1 * p.a * d0;
  const curvature = (p: Point): boolean => Math.abs(p.d) <= -C2 * d0;

  const zoom = (lo: Point, hi: Point, budget: number): number => {
    for (let i = 0; i < budget; i++) {
      const width = hi.a - lo.a;
      let a = Number.isFinite(hi.f) ? cubicMin(lo.a, lo.f, lo.d, hi.a, hi.f, hi.d) : NaN;
      // Keep the trial away from the bracket ends so the interval keeps shrinking.
      const left = Math.min(lo.a + 0.1 * width, hi.a - 0.1 * width);
      const right = Math.max(lo.a + 0.1 * width, hi.a - 0.1 * width);
      if (!(a >= left && a <= right)) a = lo.a + 0.5 * width;
      const p = evaluate(a);
      if (!sufficient(p) || p.f >= lo.f) {
        hi = p;
      } else {
        if (curvature(p)) return p.f;
        if (p.d * (hi.a - lo.a) >= 0) hi = lo;
        lo = p;
      }
      if (Math.abs(hi.a - lo.a) <= 1e-16 * Math.max(1, lo.a)) break;
    }
    // Out of budget: fall back to the best point with sufficient decrease, if any.
    if (lo.a === 0) return NaN;
    return evaluate(lo.a).f;
  };

  let prev: Point = { a: 0, f: f0, d: d0 };
  for (let i = 0; i < maxEvals; i++) {
    const p = evaluate(step);
    if (!sufficient(p) || (i > 0 && p.f >= prev.f)) return zoom(prev, p, maxEvals - i - 1);
    if (curvature(p)) return p.f;
    if (p.d >= 0) return zoom(p, prev, maxEvals - i - 1);
    prev = p;
    step *= 2;
  }
  return evaluate(prev.a).f;
}

/** Minimises `f` from `w0` (left untouched). */
export function minimize(f: Objective, w0: Float64Array, options: MinimizeOptions = {}): MinimizeResult {
  const m = options.history ?? 10;
  const maxIterations = options.maxIterations ?? 500;
  const gradTol = options.gradTol ?? 1e-6;
  const relTol = options.relTol ?? 1e-10;
  const maxLineSearch = options.maxLineSearch ?? 40;
  const predictedTol = options.predictedTol ?? 0;
  const n = w0.length;

  let w = Float64Array.from(w0);
  let g = new Float64Array(n);
  let x = new Float64Array(n);
  let gx = new Float64Array(n);
  const dir = new Float64Array(n);
  const s = Array.from({ length: m }, () => new Float64Array(n));
  const y = Array.from({ length: m }, () => new Float64Array(n));
  const rho = new Float64Array(m);
  const alpha = new Float64Array(m);
  let stored = 0;
  let newest = -1;
  const counter = { evals: 1 };

  let loss = f(w, g);
  const finish = (iterations: number, reason: StopReason): MinimizeResult => ({
    w,
    loss,
    iterations,
    evaluations: counter.evals,
    reason,
    converged: reason === 'gradient' || reason === 'relative-loss',
  });
  if (maxAbs(g) <= gradTol) return finish(0, 'gradient');

  for (let iter = 1; iter <= maxIterations; iter++) {
    // Two-loop recursion: dir = -H * g with H built from the stored (s, y) pairs.
    for (let i = 0; i < n; i++) dir[i] = -g[i];
    for (let k = 0; k < stored; k++) {
      const j = (newest - k + m) % m;
      alpha[j] = rho[j] * dot(s[j], dir);
      axpy(-alpha[j], y[j], dir);
    }
    if (stored > 0) {
      const gamma = dot(s[newest], y[newest]) / dot(y[newest], y[newest]);
      for (let i = 0; i < n; i++) dir[i] *= gamma;
    }
    for (let k = stored - 1; k >= 0; k--) {
      const j = (newest - k + m) % m;
      axpy(alpha[j] - rho[j] * dot(y[j], dir), s[j], dir);
    }
    let d0 = dot(g, dir);
    if (!(d0 < 0)) {
      // Curvature information went bad (rounding); restart from steepest descent.
      stored = 0;
      for (let i = 0; i < n; i++) dir[i] = -g[i];
      d0 = dot(g, dir);
    }
    if (-d0 / 2 <= predictedTol * Math.max(Math.abs(loss), 1)) return finish(iter - 1, 'relative-loss');
    // Without curvature yet, a unit step along -g has no natural scale: aim for a step of norm 1.
    const step = stored === 0 ? Math.min(1, 1 / Math.sqrt(-d0)) : 1;
    const next = lineSearch(f, w, loss, d0, dir, step, x, gx, maxLineSearch, counter);
    if (Number.isNaN(next)) {
      if (stored === 0) return finish(iter - 1, 'line-search');
      stored = 0; // retry once from steepest descent before giving up
      iter--;
      continue;
    }

    newest = (newest + 1) % m;
    const sNew = s[newest];
    const yNew = y[newest];
    for (let i = 0; i < n; i++) {
      sNew[i] = x[i] - w[i];
      yNew[i] = gx[i] - g[i];
    }
    const sy = dot(sNew, yNew);
    const yy = dot(yNew, yNew);
    // Keep the pair only if it carries positive curvature; otherwise H would lose definiteness.
    if (sy > 1e-10 * yy) {
      rho[newest] = 1 / sy;
      stored = Math.min(stored + 1, m);
    } else {
      newest = (newest - 1 + m) % m;
    }

    const previous = loss;
    [w, x] = [x, w];
    [g, gx] = [gx, g];
    loss = next;
    if (maxAbs(g) <= gradTol) return finish(iter, 'gradient');
    if (previous - loss <= relTol * Math.max(Math.abs(previous), Math.abs(loss), 1)) {
      return finish(iter, 'relative-loss');
    }
  }
  return finish(maxIterations, 'max-iterations');
}
