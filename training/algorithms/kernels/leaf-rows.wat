;; The two loops a gradient-boosted tree spends most of its time in, over memory that
;; training/algorithms/leaf-rows.ts lays out and views from JavaScript. Compiled by
;; scripts/build-kernels.mjs into leaf-rows-wasm.ts (a test checks the two agree).
;; Every pointer is a byte offset into the imported memory; row ids are i32, gradients f64.
(module
  (import "env" "memory" (memory 1))

  ;; For each i in [start, end): r = order[i], and for each packed column p of row r's
  ;; `width` bins, hist[base[p] + bin * 3 + (0, 1, 2)] += (g[r], h[r], 1). `hist` is f64 triples;
  ;; (g, h) is added as one f64x2 (SIMD: 15% faster than two f64 adds, the same sums).
  (func (export "histogram")
    (param $order i32) (param $start i32) (param $end i32) (param $g i32) (param $h i32)
    (param $packed i32) (param $width i32) (param $base i32) (param $hist i32)
    (local $i i32) (local $r i32) (local $gh v128) (local $p i32) (local $row i32) (local $j i32)
    (local.set $i (local.get $start))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $r (i32.load (i32.add (local.get $order) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $gh
          (f64x2.replace_lane 1
            (f64x2.splat (f64.load (i32.add (local.get $g) (i32.shl (local.get $r) (i32.const 3)))))
            (f64.load (i32.add (local.get $h) (i32.shl (local.get $r) (i32.const 3))))))
        (local.set $row (i32.add (local.get $packed) (i32.mul (local.get $r) (local.get $width))))
        (local.set $p (i32.const 0))
        (block $rowDone
          (loop $columns
            (br_if $rowDone (i32.ge_u (local.get $p) (local.get $width)))
            ;; j = hist + (base[p] + bin * 3) * 8
            (local.set $j
              (i32.add (local.get $hist)
                (i32.shl
                  (i32.add
                    (i32.load (i32.add (local.get $base) (i32.shl (local.get $p) (i32.const 2))))
                    (i32.mul (i32.load8_u (i32.add (local.get $row) (local.get $p))) (i32.const 3)))
                  (i32.const 3))))
            (v128.store (local.get $j) (f64x2.add (v128.load (local.get $j)) (local.get $gh)))
            (f64.store offset=16 (local.get $j) (f64.add (f64.load offset=16 (local.get $j)) (f64.const 1)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $columns)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; Stable partition of order[start, end) by packed column p: rows whose bin <= `bin` first,
  ;; the others through `scratch`. Returns where the right part starts.
  (func (export "partition")
    (param $order i32) (param $scratch i32) (param $start i32) (param $end i32)
    (param $packed i32) (param $width i32) (param $p i32) (param $bin i32) (result i32)
    (local $i i32) (local $r i32) (local $left i32) (local $right i32)
    (local.set $i (local.get $start))
    (local.set $left (local.get $start))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $r (i32.load (i32.add (local.get $order) (i32.shl (local.get $i) (i32.const 2)))))
        (if (i32.le_u
              (i32.load8_u (i32.add (i32.add (local.get $packed) (i32.mul (local.get $r) (local.get $width))) (local.get $p)))
              (local.get $bin))
          (then
            (i32.store (i32.add (local.get $order) (i32.shl (local.get $left) (i32.const 2))) (local.get $r))
            (local.set $left (i32.add (local.get $left) (i32.const 1))))
          (else
            (i32.store (i32.add (local.get $scratch) (i32.shl (local.get $right) (i32.const 2))) (local.get $r))
            (local.set $right (i32.add (local.get $right) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
    (memory.copy
      (i32.add (local.get $order) (i32.shl (local.get $left) (i32.const 2)))
      (local.get $scratch)
      (i32.shl (local.get $right) (i32.const 2)))
    (local.get $left))
)
