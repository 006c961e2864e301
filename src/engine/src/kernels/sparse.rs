//! Distances between sparse vectors (ascending 0-based indices, non-zero f32 values), by a
//! merge in index order with f32 accumulation — the order pgvector adds terms in, so results
//! agree bit for bit.

/// Walks both vectors in index order: `f(a, b)` per index present in either (0 for absent).
#[inline]
fn merge(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32], mut f: impl FnMut(f32, f32)) {
    let (mut i, mut j) = (0, 0);
    while i < ai.len() || j < bi.len() {
        if j == bi.len() || (i < ai.len() && ai[i] < bi[j]) {
            f(av[i], 0.0);
            i += 1;
        } else if i == ai.len() || bi[j] < ai[i] {
            f(0.0, bv[j]);
            j += 1;
        } else {
            f(av[i], bv[j]);
            i += 1;
            j += 1;
        }
    }
}

/// Σ (aᵢ−bᵢ)².
pub fn l2sq(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32 {
    let mut s = 0.0f32;
    merge(ai, av, bi, bv, |x, y| s += (x - y) * (x - y));
    s
}

/// Σ |aᵢ−bᵢ|.
pub fn l1(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32 {
    let mut s = 0.0f32;
    merge(ai, av, bi, bv, |x, y| s += (x - y).abs());
    s
}

/// Σ aᵢbᵢ over the indices both hold.
pub fn dot(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32 {
    let (mut s, mut j) = (0.0f32, 0);
    for (i, &a) in ai.iter().enumerate() {
        while j < bi.len() && bi[j] < a {
            j += 1;
        }
        if j < bi.len() && bi[j] == a {
            s += av[i] * bv[j];
        }
    }
    s
}

/// Cosine distance like pgvector: 1 − a·b/√(‖a‖²‖b‖²), clamped; NaN for a zero vector.
pub fn cosine_distance(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f64 {
    let ab = dot(ai, av, bi, bv) as f64;
    let na: f32 = av.iter().map(|x| x * x).sum();
    let nb: f32 = bv.iter().map(|x| x * x).sum();
    let sim = ab / (na as f64 * nb as f64).sqrt();
    if sim.is_nan() {
        return f64::NAN;
    }
    1.0 - sim.clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn dense(idx: &[i32], val: &[f32], dim: usize) -> Vec<f32> {
        let mut d = vec![0.0; dim];
        idx.iter().zip(val).for_each(|(&i, &v)| d[i as usize] = v);
        d
    }

    /// Sparse results equal the dense scalar kernels on the densified vectors (same order of
    /// additions, zeros contribute exact zeros).
    #[test]
    fn matches_dense() {
        let mut r = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..500 {
            let dim = r.random_range(1..200usize);
            let mut pick = || {
                let idx: Vec<i32> = (0..dim as i32).filter(|_| r.random_bool(0.2)).collect();
                let val: Vec<f32> = idx.iter().map(|_| r.random_range(-10.0f32..10.0)).filter(|v| *v != 0.0).collect();
                (idx[..val.len()].to_vec(), val)
            };
            let ((ai, av), (bi, bv)) = (pick(), pick());
            let (a, b) = (dense(&ai, &av, dim), dense(&bi, &bv, dim));
            assert_eq!(l2sq(&ai, &av, &bi, &bv), super::super::scalar::l2sq(&a, &b));
            assert_eq!(l1(&ai, &av, &bi, &bv), super::super::scalar::l1(&a, &b));
            assert_eq!(dot(&ai, &av, &bi, &bv), super::super::scalar::dot(&a, &b));
        }
        assert_eq!(dot(&[0, 2], &[1.0, 2.0], &[1, 2], &[5.0, 3.0]), 6.0);
        assert!(cosine_distance(&[], &[], &[0], &[1.0]).is_nan());
        assert!((cosine_distance(&[0], &[2.0], &[0], &[3.0])).abs() < 1e-12);
    }
}
