//! Scalar int8 quantizer: x ≈ c + s·q with a per-dimension centre c and one global scale s.
//!
//! A single scale keeps every distance an integer dot product (AVX2 maddubs / VNNI):
//!   ‖x−y‖² ≈ s²(‖qx‖² + ‖qy‖² − 2 qx·qy)
//!   x·y   ≈ ‖c‖² + s(c·qx + c·qy) + s² qx·qy
//! so each stored row carries ‖q‖² (i32) and c·q (f32) after its codes. Per-dimension scales
//! would need a weighted kernel; centring removes most of the spread between dimensions.
use crate::kernels;
use crate::metric::Metric;

/// Codes are clamped to ±127 so the AVX2 sign/abs trick never saturates.
pub const QMAX: f32 = 127.0;

#[derive(Clone, Debug, PartialEq)]
pub struct Quantizer {
    pub centre: Vec<f32>,
    pub scale: f32,
    /// ‖c‖², cached.
    pub centre_norm_sq: f32,
}

/// Per-row metadata stored right after the codes.
#[derive(Clone, Copy, Debug, Default)]
pub struct RowMeta {
    pub norm_sq: i32,
    pub centre_dot: f32,
}

impl Quantizer {
    /// Fits on a sample of prepared vectors (rows of `dims`). Scale covers the 99.99th
    /// percentile of |x−c| (rarer outliers clamp); small samples get 25% head-room.
    pub fn fit(sample: &[f32], dims: usize) -> Quantizer {
        assert!(dims > 0 && sample.len() % dims == 0);
        let n = sample.len() / dims;
        let mut centre = vec![0f64; dims];
        for row in sample.chunks_exact(dims) {
            for (c, &x) in centre.iter_mut().zip(row) {
                *c += x as f64;
            }
        }
        let centre: Vec<f32> = centre.iter().map(|&c| if n > 0 { (c / n as f64) as f32 } else { 0.0 }).collect();
        let mut dev: Vec<f32> = sample.chunks_exact(dims).flat_map(|row| row.iter().zip(&centre).map(|(x, c)| (x - c).abs())).collect();
        let mut range = 0f32;
        if !dev.is_empty() {
            let k = ((dev.len() as f64) * 0.9999) as usize;
            let k = k.min(dev.len() - 1);
            let (_, v, _) = dev.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
            range = *v;
        }
        if n < 1000 {
            range *= 1.25;
        }
        let scale = if range > 0.0 && range.is_finite() { range / QMAX } else { 1.0 / QMAX };
        let centre_norm_sq = kernels::dot(&centre, &centre);
        Quantizer { centre, scale, centre_norm_sq }
    }

    pub fn dims(&self) -> usize {
        self.centre.len()
    }

    /// Writes codes for `x` into `out[..dims]` (the rest of `out` is zeroed) and returns the row meta.
    pub fn encode(&self, x: &[f32], out: &mut [i8]) -> RowMeta {
        let inv = 1.0 / self.scale;
        let mut meta = RowMeta::default();
        let mut cd = 0f32;
        for (i, o) in out.iter_mut().enumerate() {
            *o = if i < x.len() {
                let q = ((x[i] - self.centre[i]) * inv).round().clamp(-QMAX, QMAX) as i8;
                meta.norm_sq += q as i32 * q as i32;
                cd += self.centre[i] * q as f32;
                q
            } else {
                0
            };
        }
        meta.centre_dot = cd;
        meta
    }

    /// How many coordinates of `x` `encode` clamps to ±QMAX (they round past it).
    pub fn clamped(&self, x: &[f32]) -> usize {
        let inv = 1.0 / self.scale;
        x.iter().zip(&self.centre).filter(|&(v, c)| ((v - c) * inv).round().abs() > QMAX).count()
    }

    /// Approximate distance between two encoded rows, in the metric's own units.
    #[inline]
    pub fn distance(&self, metric: Metric, a: &[i8], am: RowMeta, b: &[i8], bm: RowMeta) -> f32 {
        let ip = kernels::dot_i8(a, b);
        self.distance_from_ip(metric, ip, am, bm)
    }

    #[inline]
    pub fn distance_from_ip(&self, metric: Metric, ip: i32, am: RowMeta, bm: RowMeta) -> f32 {
        let s = self.scale;
        match metric {
            Metric::L2 => s * s * ((am.norm_sq + bm.norm_sq) as f32 - 2.0 * ip as f32),
            Metric::InnerProduct => -self.dot_estimate(ip, am, bm),
            Metric::Cosine => 1.0 - self.dot_estimate(ip, am, bm),
            Metric::Jaccard => crate::metric::jaccard(
                self.dot_estimate(ip, am, bm),
                self.dot_estimate(am.norm_sq, am, am),
                self.dot_estimate(bm.norm_sq, bm, bm),
            ),
        }
    }

    #[inline]
    fn dot_estimate(&self, ip: i32, am: RowMeta, bm: RowMeta) -> f32 {
        let s = self.scale;
        self.centre_norm_sq + s * (am.centre_dot + bm.centre_dot) + s * s * ip as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn estimates_track_exact_distances() {
        let mut r = rand::rngs::StdRng::seed_from_u64(1);
        let dims = 64;
        let data: Vec<f32> = (0..500 * dims).map(|i| r.random_range(-1.0..1.0) + (i % dims) as f32 * 0.1).collect();
        let q = Quantizer::fit(&data, dims);
        let mut ca = vec![0i8; dims];
        let mut cb = vec![0i8; dims];
        for p in data.chunks_exact(dims).collect::<Vec<_>>().windows(2) {
            let (a, b) = (p[0], p[1]);
            let ma = q.encode(a, &mut ca);
            let mb = q.encode(b, &mut cb);
            for m in [Metric::L2, Metric::InnerProduct] {
                let exact = m.distance(a, b);
                let est = q.distance(m, &ca, ma, &cb, mb);
                let tol = 0.05 * exact.abs().max(1.0) + 0.5;
                assert!((exact - est).abs() < tol, "{m:?}: exact {exact} est {est}");
            }
        }
    }

    /// Bit strings stored as 0/1 values: the int8 Jaccard estimate tracks the exact distance,
    /// which equals the popcount definition.
    #[test]
    fn jaccard_estimates_on_bits() {
        let mut r = rand::rngs::StdRng::seed_from_u64(2);
        let dims = 256;
        let data: Vec<f32> = (0..300 * dims).map(|_| if r.random_bool(0.3) { 1.0 } else { 0.0 }).collect();
        let q = Quantizer::fit(&data, dims);
        let (mut ca, mut cb) = (vec![0i8; dims], vec![0i8; dims]);
        for p in data.chunks_exact(dims).collect::<Vec<_>>().windows(2) {
            let (a, b) = (p[0], p[1]);
            let pack = |x: &[f32]| x.chunks(8).map(|c| c.iter().fold(0u8, |acc, &v| acc << 1 | v as u8)).collect::<Vec<u8>>();
            let exact = Metric::Jaccard.distance(a, b);
            assert_eq!(exact as f64, kernels::jaccard_distance(&pack(a), &pack(b)) as f32 as f64);
            let (ma, mb) = (q.encode(a, &mut ca), q.encode(b, &mut cb));
            let est = q.distance(Metric::Jaccard, &ca, ma, &cb, mb);
            assert!((exact - est).abs() < 0.02, "exact {exact} est {est}");
        }
        assert_eq!(Metric::Jaccard.distance(&[0.0, 0.0], &[0.0, 0.0]), 1.0);
    }

    #[test]
    fn codes_stay_in_range_for_outliers() {
        let dims = 8;
        let mut data = vec![0.0f32; 100 * dims];
        data[3] = 1e30;
        let q = Quantizer::fit(&data, dims);
        let mut c = vec![0i8; 16];
        q.encode(&[1e30, -1e30, 0., 0., 0., 0., 0., 0.], &mut c);
        assert!(c.iter().all(|&v| (-127..=127).contains(&v)));
        assert!(c[8..].iter().all(|&v| v == 0));
    }
}
