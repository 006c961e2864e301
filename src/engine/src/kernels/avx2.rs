//! AVX2 + FMA kernels: 4×8-lane f32 accumulators; int8 via sign/abs + maddubs.
use std::arch::x86_64::*;

pub fn available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

#[inline(always)]
unsafe fn hsum(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps(v, 1);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    _mm_cvtss_f32(s)
}

macro_rules! f32_kernel {
    ($name:ident, $inner:ident, |$acc:ident, $x:ident, $y:ident| $step:expr, |$s:ident, $p:ident, $q:ident| $tail:expr) => {
        pub fn $name(a: &[f32], b: &[f32]) -> f32 {
            assert!(available() && a.len() == b.len());
            // SAFETY: AVX2+FMA presence checked above; lengths equal.
            unsafe { $inner(a, b) }
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $inner(a: &[f32], b: &[f32]) -> f32 {
            let n = a.len();
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let mut acc = [_mm256_setzero_ps(); 4];
            let mut i = 0;
            while i + 32 <= n {
                for k in 0..4 {
                    let $x = _mm256_loadu_ps(pa.add(i + 8 * k));
                    let $y = _mm256_loadu_ps(pb.add(i + 8 * k));
                    let $acc = acc[k];
                    acc[k] = $step;
                }
                i += 32;
            }
            while i + 8 <= n {
                let $x = _mm256_loadu_ps(pa.add(i));
                let $y = _mm256_loadu_ps(pb.add(i));
                let $acc = acc[0];
                acc[0] = $step;
                i += 8;
            }
            let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
            let mut $s = hsum(sum);
            while i < n {
                let ($p, $q) = (*pa.add(i), *pb.add(i));
                $s += $tail;
                i += 1;
            }
            $s
        }
    };
}

f32_kernel!(dot, dot_impl, |acc, x, y| _mm256_fmadd_ps(x, y, acc), |s, p, q| p * q);
f32_kernel!(l2sq, l2sq_impl, |acc, x, y| {
    let d = _mm256_sub_ps(x, y);
    _mm256_fmadd_ps(d, d, acc)
}, |s, p, q| (p - q) * (p - q));
f32_kernel!(l1, l1_impl, |acc, x, y| {
    let d = _mm256_sub_ps(x, y);
    _mm256_add_ps(acc, _mm256_andnot_ps(_mm256_set1_ps(-0.0), d))
}, |s, p, q| (p - q).abs());

/// Σ aᵢbᵢ for int8 in [-127, 127]: |a|·sign(b, a) with maddubs (≤ 2·127² per i16 lane,
/// no saturation), widened to i32 with madd.
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    assert!(available() && a.len() == b.len());
    // SAFETY: AVX2 presence checked above; lengths equal.
    unsafe { dot_i8_impl(a, b) }
}

#[target_feature(enable = "avx2")]
unsafe fn dot_i8_impl(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let ones = _mm256_set1_epi16(1);
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let mut i = 0;
    while i + 64 <= n {
        let x0 = _mm256_loadu_si256(pa.add(i) as *const __m256i);
        let y0 = _mm256_loadu_si256(pb.add(i) as *const __m256i);
        let x1 = _mm256_loadu_si256(pa.add(i + 32) as *const __m256i);
        let y1 = _mm256_loadu_si256(pb.add(i + 32) as *const __m256i);
        let p0 = _mm256_maddubs_epi16(_mm256_abs_epi8(x0), _mm256_sign_epi8(y0, x0));
        let p1 = _mm256_maddubs_epi16(_mm256_abs_epi8(x1), _mm256_sign_epi8(y1, x1));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p0, ones));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(p1, ones));
        i += 64;
    }
    while i + 32 <= n {
        let x = _mm256_loadu_si256(pa.add(i) as *const __m256i);
        let y = _mm256_loadu_si256(pb.add(i) as *const __m256i);
        let p = _mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p, ones));
        i += 32;
    }
    let acc = _mm256_add_epi32(acc0, acc1);
    let s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b00_00_00_01));
    let mut sum = _mm_cvtsi128_si32(s);
    while i < n {
        sum += *pa.add(i) as i32 * *pb.add(i) as i32;
        i += 1;
    }
    sum
}

/// binary16 kernels need F16C (vcvtph2ps) besides AVX2+FMA.
pub fn f16_available() -> bool {
    available() && is_x86_feature_detected!("f16c")
}

macro_rules! f16_kernel {
    ($name:ident, $inner:ident, |$acc:ident, $x:ident, $y:ident| $step:expr, |$p:ident, $q:ident| $tail:expr) => {
        pub fn $name(a: &[u16], b: &[u16]) -> f32 {
            assert!(f16_available() && a.len() == b.len());
            // SAFETY: AVX2+FMA+F16C presence checked above; lengths equal.
            unsafe { $inner(a, b) }
        }
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn $inner(a: &[u16], b: &[u16]) -> f32 {
            let n = a.len();
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let mut acc = [_mm256_setzero_ps(); 2];
            let mut i = 0;
            while i + 16 <= n {
                for k in 0..2 {
                    let $x = _mm256_cvtph_ps(_mm_loadu_si128(pa.add(i + 8 * k) as *const __m128i));
                    let $y = _mm256_cvtph_ps(_mm_loadu_si128(pb.add(i + 8 * k) as *const __m128i));
                    let $acc = acc[k];
                    acc[k] = $step;
                }
                i += 16;
            }
            while i + 8 <= n {
                let $x = _mm256_cvtph_ps(_mm_loadu_si128(pa.add(i) as *const __m128i));
                let $y = _mm256_cvtph_ps(_mm_loadu_si128(pb.add(i) as *const __m128i));
                let $acc = acc[0];
                acc[0] = $step;
                i += 8;
            }
            let mut s = hsum(_mm256_add_ps(acc[0], acc[1]));
            while i < n {
                let ($p, $q) = (super::scalar::h2f(*pa.add(i)), super::scalar::h2f(*pb.add(i)));
                s += $tail;
                i += 1;
            }
            s
        }
    };
}

f16_kernel!(dot_f16, dot_f16_impl, |acc, x, y| _mm256_fmadd_ps(x, y, acc), |p, q| p * q);
f16_kernel!(l2sq_f16, l2sq_f16_impl, |acc, x, y| {
    let d = _mm256_sub_ps(x, y);
    _mm256_fmadd_ps(d, d, acc)
}, |p, q| (p - q) * (p - q));
f16_kernel!(l1_f16, l1_f16_impl, |acc, x, y| {
    let d = _mm256_sub_ps(x, y);
    _mm256_add_ps(acc, _mm256_andnot_ps(_mm256_set1_ps(-0.0), d))
}, |p, q| (p - q).abs());

pub fn popcnt_available() -> bool {
    is_x86_feature_detected!("popcnt")
}

/// Hamming distance with the POPCNT instruction, 8 bytes at a time.
pub fn hamming(a: &[u8], b: &[u8]) -> u64 {
    assert!(popcnt_available() && a.len() == b.len());
    // SAFETY: POPCNT presence checked above; lengths equal.
    unsafe { hamming_impl(a, b) }
}

#[target_feature(enable = "popcnt")]
unsafe fn hamming_impl(a: &[u8], b: &[u8]) -> u64 {
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = super::scalar::hamming(ca.remainder(), cb.remainder());
    ca.zip(cb).map(|(x, y)| (u64::from_ne_bytes(x.try_into().unwrap()) ^ u64::from_ne_bytes(y.try_into().unwrap())).count_ones() as u64).sum::<u64>() + tail
}

/// Jaccard counts with POPCNT, 8 bytes at a time.
pub fn jaccard_counts(a: &[u8], b: &[u8]) -> (u64, u64, u64) {
    assert!(popcnt_available() && a.len() == b.len());
    // SAFETY: POPCNT presence checked above; lengths equal.
    unsafe { jaccard_impl(a, b) }
}

#[target_feature(enable = "popcnt")]
unsafe fn jaccard_impl(a: &[u8], b: &[u8]) -> (u64, u64, u64) {
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (mut ab, mut aa, mut bb) = super::scalar::jaccard_counts(ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let (x, y) = (u64::from_ne_bytes(x.try_into().unwrap()), u64::from_ne_bytes(y.try_into().unwrap()));
        ab += (x & y).count_ones() as u64;
        aa += x.count_ones() as u64;
        bb += y.count_ones() as u64;
    }
    (ab, aa, bb)
}
