;; The Adam(W) update of train/optimizer.ts's JS loop, two elements at a time (f64x2): float32 storage, float64
;; arithmetic in the same operation order, so results are bit-identical to the JS loop. Compiled into
;; train/adam-wasm.ts by `npm run build:wasm` (scripts/build-adam-wasm.js); test/train/adam-wasm.test.ts checks both.
;; g, m, v: byte offsets of n float32 each. g holds the gradient on entry and the step on return.
(module
  (import "env" "memory" (memory 1 65536 shared))
  (func (export "adam")
    (param $g i32) (param $m i32) (param $v i32) (param $n i32)
    (param $b1 f64) (param $c1 f64) (param $b2 f64) (param $c2 f64)
    (param $vScale f64) (param $eps f64) (param $stepSize f64) (param $gradScale f64)
    (local $end i32) (local $pairs i32)
    (local $gj v128) (local $mj v128) (local $vj v128)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128)
    (local $VS v128) (local $EPS v128) (local $SS v128) (local $GS v128)
    (local $sg f64) (local $sm f64) (local $sv f64)
    (local.set $B1 (f64x2.splat (local.get $b1)))
    (local.set $C1 (f64x2.splat (local.get $c1)))
    (local.set $B2 (f64x2.splat (local.get $b2)))
    (local.set $C2 (f64x2.splat (local.get $c2)))
    (local.set $VS (f64x2.splat (local.get $vScale)))
    (local.set $EPS (f64x2.splat (local.get $eps)))
    (local.set $SS (f64x2.splat (local.get $stepSize)))
    (local.set $GS (f64x2.splat (local.get $gradScale)))
    (local.set $pairs (i32.shl (i32.shr_u (local.get $n) (i32.const 1)) (i32.const 3)))
    (local.set $end (i32.add (local.get $g) (local.get $pairs)))
    (block $done
      (loop $pair
        (br_if $done (i32.ge_u (local.get $g) (local.get $end)))
        (local.set $gj (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $g))))
        (if (f64.ne (local.get $gradScale) (f64.const 1))
          (then
            ;; the JS loop stores g·gradScale as float32 before using it
            (local.set $gj (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero (f64x2.mul (local.get $gj) (local.get $GS)))))))
        ;; m = b1·m + (1 − b1)·g ; v = b2·v + ((1 − b2)·g)·g
        (local.set $mj (f64x2.add
          (f64x2.mul (local.get $B1) (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $m))))
          (f64x2.mul (local.get $C1) (local.get $gj))))
        (local.set $vj (f64x2.add
          (f64x2.mul (local.get $B2) (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $v))))
          (f64x2.mul (f64x2.mul (local.get $C2) (local.get $gj)) (local.get $gj))))
        (v128.store64_lane 0 (local.get $m) (f32x4.demote_f64x2_zero (local.get $mj)))
        (v128.store64_lane 0 (local.get $v) (f32x4.demote_f64x2_zero (local.get $vj)))
        ;; step = (m / (√v · vScale + eps)) · stepSize
        (v128.store64_lane 0 (local.get $g) (f32x4.demote_f64x2_zero
          (f64x2.mul
            (f64x2.div (local.get $mj) (f64x2.add (f64x2.mul (f64x2.sqrt (local.get $vj)) (local.get $VS)) (local.get $EPS)))
            (local.get $SS))))
        (local.set $g (i32.add (local.get $g) (i32.const 8)))
        (local.set $m (i32.add (local.get $m) (i32.const 8)))
        (local.set $v (i32.add (local.get $v) (i32.const 8)))
        (br $pair)))
    ;; an odd last element, the same arithmetic in scalar form
    (if (i32.and (local.get $n) (i32.const 1))
      (then
        (local.set $sg (f64.promote_f32 (f32.load (local.get $g))))
        (if (f64.ne (local.get $gradScale) (f64.const 1))
          (then (local.set $sg (f64.promote_f32 (f32.demote_f64 (f64.mul (local.get $sg) (local.get $gradScale)))))))
        (local.set $sm (f64.add (f64.mul (local.get $b1) (f64.promote_f32 (f32.load (local.get $m)))) (f64.mul (local.get $c1) (local.get $sg))))
        (local.set $sv (f64.add (f64.mul (local.get $b2) (f64.promote_f32 (f32.load (local.get $v)))) (f64.mul (f64.mul (local.get $c2) (local.get $sg)) (local.get $sg))))
        (f32.store (local.get $m) (f32.demote_f64 (local.get $sm)))
        (f32.store (local.get $v) (f32.demote_f64 (local.get $sv)))
        (f32.store (local.get $g) (f32.demote_f64
          (f64.mul (f64.div (local.get $sm) (f64.add (f64.mul (f64.sqrt (local.get $sv)) (local.get $vScale)) (local.get $eps))) (local.get $stepSize)))))))
)
