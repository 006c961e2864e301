//! Reference kernels: plain loops the SIMD paths are tested against.

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

pub fn l1(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
}

/// binary16 bits → f32 (exact).
#[inline(always)]
pub fn h2f(h: u16) -> f32 {
    half::f16::from_bits(h).to_f32()
}

/// Σ aᵢbᵢ over binary16 rows (bit patterns), accumulated in f32.
pub fn dot_f16(a: &[u16], b: &[u16]) -> f32 {
    a.iter().zip(b).map(|(&x, &y)| h2f(x) * h2f(y)).sum()
}

/// Σ (aᵢ−bᵢ)² over binary16 rows, accumulated in f32.
pub fn l2sq_f16(a: &[u16], b: &[u16]) -> f32 {
    a.iter().zip(b).map(|(&x, &y)| (h2f(x) - h2f(y)) * (h2f(x) - h2f(y))).sum()
}

/// Σ |aᵢ−bᵢ| over binary16 rows, accumulated in f32.
pub fn l1_f16(a: &[u16], b: &[u16]) -> f32 {
    a.iter().zip(b).map(|(&x, &y)| (h2f(x) - h2f(y)).abs()).sum()
}

/// Number of differing bits.
pub fn hamming(a: &[u8], b: &[u8]) -> u64 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones() as u64).sum()
}

/// (popcount(a & b), popcount(a), popcount(b)): the Jaccard counts.
pub fn jaccard_counts(a: &[u8], b: &[u8]) -> (u64, u64, u64) {
    a.iter().zip(b).fold((0, 0, 0), |(ab, aa, bb), (x, y)| {
        (ab + (x & y).count_ones() as u64, aa + x.count_ones() as u64, bb + y.count_ones() as u64)
    })
}
