//! Distance kernels, runtime-dispatched: AVX-512 (F / BW+VNNI), AVX2+FMA, scalar.
//!
//! Every SIMD path has a scalar twin in [`scalar`] that the tests compare it with.
//! f32 kernels accumulate in f32 like pgvector does; int8 kernels accumulate in i32 and
//! never saturate for inputs in `[-127, 127]` (the quantizer's range) up to 16000 dims.

pub mod scalar;
#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;

use std::sync::LazyLock;

type F32Fn = fn(&[f32], &[f32]) -> f32;
type I8Fn = fn(&[i8], &[i8]) -> i32;

/// The kernel set chosen for this CPU.
#[derive(Clone, Copy)]
pub struct Kernels {
    pub name: &'static str,
    pub dot: F32Fn,
    pub l2sq: F32Fn,
    pub l1: F32Fn,
    pub dot_i8: I8Fn,
}

static KERNELS: LazyLock<Kernels> = LazyLock::new(detect);

fn detect() -> Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        if std::env::var_os("VECMAP_FORCE_SCALAR").is_none() {
            if avx512::f32_available() {
                let dot_i8 = if avx512::vnni_available() { avx512::dot_i8 as I8Fn } else { avx2::dot_i8 as I8Fn };
                return Kernels { name: "avx512", dot: avx512::dot, l2sq: avx512::l2sq, l1: avx512::l1, dot_i8 };
            }
            if avx2::available() {
                return Kernels { name: "avx2", dot: avx2::dot, l2sq: avx2::l2sq, l1: avx2::l1, dot_i8: avx2::dot_i8 };
            }
        }
    }
    Kernels { name: "scalar", dot: scalar::dot, l2sq: scalar::l2sq, l1: scalar::l1, dot_i8: scalar::dot_i8 }
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

/// Cosine distance 1 − a·b/(‖a‖‖b‖) computed like pgvector (f32 sums, f64 division,
/// similarity clamped to [−1, 1]). NaN when either vector is zero.
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    let ab = dot(a, b) as f64;
    let na = dot(a, a) as f64;
    let nb = dot(b, b) as f64;
    let sim = ab / (na * nb).sqrt();
    if sim.is_nan() {
        return f64::NAN;
    }
    1.0 - sim.clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests;
