//! Distance kernels, runtime-dispatched: AVX-512 (F / BW+VNNI), AVX2+FMA, scalar.
//!
//! Every SIMD path has a scalar twin in [`scalar`] that the tests compare it with.
//! f32 kernels accumulate in f32 like pgvector does; int8 kernels accumulate in i32 and
//! never saturate for inputs in `[-127, 127]` (the quantizer's range) up to 16000 dims.

pub mod scalar;
pub mod sparse;
#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;

use std::sync::LazyLock;

type F32Fn = fn(&[f32], &[f32]) -> f32;
type I8Fn = fn(&[i8], &[i8]) -> i32;
type F16Fn = fn(&[u16], &[u16]) -> f32;
type HammingFn = fn(&[u8], &[u8]) -> u64;
type JaccardFn = fn(&[u8], &[u8]) -> (u64, u64, u64);

/// The kernel set chosen for this CPU.
#[derive(Clone, Copy)]
pub struct Kernels {
    pub name: &'static str,
    pub dot: F32Fn,
    pub l2sq: F32Fn,
    pub l1: F32Fn,
    pub dot_i8: I8Fn,
    /// binary16 kernels (rows of IEEE half bit patterns, f32 accumulation) and their ISA name.
    pub f16_name: &'static str,
    pub dot_f16: F16Fn,
    pub l2sq_f16: F16Fn,
    pub l1_f16: F16Fn,
    /// Bit-string kernels (popcount) and their ISA name.
    pub bits_name: &'static str,
    pub hamming: HammingFn,
    pub jaccard_counts: JaccardFn,
}

static KERNELS: LazyLock<Kernels> = LazyLock::new(|| with_f16_and_bits(detect()));

/// Fills in the binary16 and popcount kernels (F16C and POPCNT are separate CPU features).
fn with_f16_and_bits(mut k: Kernels) -> Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        if std::env::var_os("VECMAP_FORCE_SCALAR").is_none() {
            if avx2::f16_available() {
                (k.f16_name, k.dot_f16, k.l2sq_f16, k.l1_f16) = ("avx2+f16c", avx2::dot_f16, avx2::l2sq_f16, avx2::l1_f16);
            }
            if avx2::popcnt_available() {
                (k.bits_name, k.hamming, k.jaccard_counts) = ("popcnt", avx2::hamming, avx2::jaccard_counts);
            }
        }
    }
    k
}

const SCALAR_F16_BITS: (&str, F16Fn, F16Fn, F16Fn, &str, HammingFn, JaccardFn) =
    ("scalar", scalar::dot_f16, scalar::l2sq_f16, scalar::l1_f16, "scalar", scalar::hamming, scalar::jaccard_counts);

fn detect() -> Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        if std::env::var_os("VECMAP_FORCE_SCALAR").is_none() {
            if avx512::f32_available() {
                let dot_i8 = if avx512::vnni_available() { avx512::dot_i8 as I8Fn } else { avx2::dot_i8 as I8Fn };
                return Kernels { name: "avx512", dot: avx512::dot, l2sq: avx512::l2sq, l1: avx512::l1, dot_i8, ..scalar_rest() };
            }
            if avx2::available() {
                return Kernels { name: "avx2", dot: avx2::dot, l2sq: avx2::l2sq, l1: avx2::l1, dot_i8: avx2::dot_i8, ..scalar_rest() };
            }
        }
    }
    scalar_rest()
}

/// The all-scalar kernel set (the base the detected ones override).
fn scalar_rest() -> Kernels {
    let (f16_name, dot_f16, l2sq_f16, l1_f16, bits_name, hamming, jaccard_counts) = SCALAR_F16_BITS;
    Kernels {
        name: "scalar",
        dot: scalar::dot,
        l2sq: scalar::l2sq,
        l1: scalar::l1,
        dot_i8: scalar::dot_i8,
        f16_name,
        dot_f16,
        l2sq_f16,
        l1_f16,
        bits_name,
        hamming,
        jaccard_counts,
    }
}

/// The kernels in use (detected once per process).
#[inline]
pub fn kernels() -> &'static Kernels {
    &KERNELS
}

/// Inner product Σ aᵢbᵢ. Panics in debug builds if lengths differ.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (kernels().dot)(a, b)
}

/// Squared Euclidean distance Σ (aᵢ−bᵢ)².
#[inline]
pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (kernels().l2sq)(a, b)
}

/// Manhattan distance Σ |aᵢ−bᵢ|.
#[inline]
pub fn l1(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (kernels().l1)(a, b)
}

/// Integer inner product of int8 rows. Inputs must lie in `[-127, 127]`.
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    debug_assert_eq!(a.len(), b.len());
    (kernels().dot_i8)(a, b)
}

/// Σ aᵢbᵢ over binary16 rows (IEEE half bit patterns), accumulated in f32 like pgvector.
#[inline]
pub fn dot_f16(a: &[u16], b: &[u16]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (kernels().dot_f16)(a, b)
}

/// Σ (aᵢ−bᵢ)² over binary16 rows.
#[inline]
pub fn l2sq_f16(a: &[u16], b: &[u16]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (kernels().l2sq_f16)(a, b)
}

/// Σ |aᵢ−bᵢ| over binary16 rows.
#[inline]
pub fn l1_f16(a: &[u16], b: &[u16]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (kernels().l1_f16)(a, b)
}

/// Cosine distance of binary16 rows, computed like [`cosine_distance`].
pub fn cosine_distance_f16(a: &[u16], b: &[u16]) -> f64 {
    cosine_from_sums(dot_f16(a, b), dot_f16(a, a), dot_f16(b, b))
}

/// Hamming distance of two equal-length bit strings (number of differing bits).
#[inline]
pub fn hamming(a: &[u8], b: &[u8]) -> u64 {
    debug_assert_eq!(a.len(), b.len());
    (kernels().hamming)(a, b)
}

/// Jaccard distance 1 − |a∧b| / |a∨b| of two equal-length bit strings; 1 when a∧b is empty
/// (pgvector's definition, so two all-zero strings are at distance 1).
pub fn jaccard_distance(a: &[u8], b: &[u8]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let (ab, aa, bb) = (kernels().jaccard_counts)(a, b);
    if ab == 0 {
        1.0
    } else {
        1.0 - ab as f64 / (aa + bb - ab) as f64
    }
}

/// 1 − ab/√(aa·bb) clamped like pgvector; NaN when a norm is zero.
fn cosine_from_sums(ab: f32, aa: f32, bb: f32) -> f64 {
    let sim = ab as f64 / (aa as f64 * bb as f64).sqrt();
    if sim.is_nan() {
        return f64::NAN;
    }
    1.0 - sim.clamp(-1.0, 1.0)
}

/// Cosine distance 1 − a·b/(‖a‖‖b‖) computed like pgvector (f32 sums, f64 division,
/// similarity clamped to [−1, 1]). NaN when either vector is zero.
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    cosine_from_sums(dot(a, b), dot(a, a), dot(b, b))
}

#[cfg(test)]
mod tests;
