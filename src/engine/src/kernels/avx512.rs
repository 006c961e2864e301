//! AVX-512 kernels: 16-lane f32 with masked tails; int8 with VNNI `vpdpbusd`.
//!
//! `vpdpbusd` multiplies unsigned by signed bytes, so a is biased by +128 (xor 0x80) and
//! 128·Σb is subtracted; both sums stay far below i32 range for ≤ 16000 dims.
use std::arch::x86_64::*;

pub fn f32_available() -> bool {
    is_x86_feature_detected!("avx512f")
}

pub fn vnni_available() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512vnni")
}

macro_rules! f32_kernel {
    ($name:ident, $inner:ident, |$acc:ident, $x:ident, $y:ident| $step:expr) => {
        pub fn $name(a: &[f32], b: &[f32]) -> f32 {
            assert!(f32_available() && a.len() == b.len());
            // SAFETY: AVX-512F presence checked above; lengths equal.
            unsafe { $inner(a, b) }
        }
        #[target_feature(enable = "avx512f")]
        unsafe fn $inner(a: &[f32], b: &[f32]) -> f32 {
            let n = a.len();
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let mut acc0 = _mm512_setzero_ps();
            let mut acc1 = _mm512_setzero_ps();
            let mut i = 0;
            while i + 32 <= n {
                let ($x, $y) = (_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
                let $acc = acc0;
                acc0 = $step;
                let ($x, $y) = (_mm512_loadu_ps(pa.add(i + 16)), _mm512_loadu_ps(pb.add(i + 16)));
                let $acc = acc1;
                acc1 = $step;
                i += 32;
            }
            while i < n {
                let rem = (n - i).min(16);
                let mask: __mmask16 = if rem == 16 { 0xffff } else { (1u16 << rem) - 1 };
                let $x = _mm512_maskz_loadu_ps(mask, pa.add(i));
                let $y = _mm512_maskz_loadu_ps(mask, pb.add(i));
                let $acc = acc0;
                acc0 = $step;
                i += rem;
            }
            _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
        }
    };
}

f32_kernel!(dot, dot_impl, |acc, x, y| _mm512_fmadd_ps(x, y, acc));
f32_kernel!(l2sq, l2sq_impl, |acc, x, y| {
    let d = _mm512_sub_ps(x, y);
    _mm512_fmadd_ps(d, d, acc)
});
f32_kernel!(l1, l1_impl, |acc, x, y| _mm512_add_ps(acc, _mm512_abs_ps(_mm512_sub_ps(x, y))));

/// Σ aᵢbᵢ for int8 rows with AVX-512 VNNI.
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    assert!(vnni_available() && a.len() == b.len());
    // SAFETY: AVX-512F/BW/VNNI presence checked above; lengths equal.
    unsafe { dot_i8_impl(a, b) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn dot_i8_impl(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let bias = _mm512_set1_epi8(-128i8);
    let ones = _mm512_set1_epi8(1);
    let mut prod = _mm512_setzero_si512();
    let mut bsum = _mm512_setzero_si512();
    let mut i = 0;
    while i < n {
        let rem = (n - i).min(64);
        let mask: __mmask64 = if rem == 64 { u64::MAX } else { (1u64 << rem) - 1 };
        let x = _mm512_maskz_loadu_epi8(mask, pa.add(i) as *const i8);
        let y = _mm512_maskz_loadu_epi8(mask, pb.add(i) as *const i8);
        // Masked-off lanes: x=0 → biased 128, y=0 → contribute 0 to both sums.
        let xu = _mm512_xor_si512(x, bias);
        prod = _mm512_dpbusd_epi32(prod, xu, y);
        bsum = _mm512_dpbusd_epi32(bsum, ones, y);
        i += rem;
    }
    _mm512_reduce_add_epi32(prod) - 128 * _mm512_reduce_add_epi32(bsum)
}
