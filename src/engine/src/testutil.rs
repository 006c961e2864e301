//! Test helpers shared by the engine's tests: clustered data and a built sidecar.
use crate::hnsw::add_nodes;
use crate::quant::Quantizer;
use crate::sidecar::{Identity, Sidecar};
use crate::Metric;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, AtomicU64};

fn gaussian(r: &mut impl Rng) -> f32 {
    let u1: f64 = r.random_range(f64::EPSILON..1.0);
    let u2: f64 = r.random();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

/// `n` rows of `dims` around `clusters` Gaussian centres.
pub fn clustered(n: usize, dims: usize, clusters: usize, seed: u64) -> Vec<f32> {
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..clusters * dims).map(|_| gaussian(&mut r)).collect();
    let mut out = Vec::with_capacity(n * dims);
    for _ in 0..n {
        let c = r.random_range(0..clusters);
        for d in 0..dims {
            out.push(centres[c * dims + d] + 0.35 * gaussian(&mut r));
        }
    }
    out
}

/// A published sidecar holding `data` (build id 42), graph built single-threaded.
pub fn build(path: &std::path::Path, data: &[f32], dims: usize, metric: Metric, m: u32, efc: u32) -> Sidecar {
    let id = Identity { build_id: 42, dims: dims as u32, metric, m, ef_construction: efc };
    let mut sc = Sidecar::create(path, id).unwrap();
    let n = data.len() / dims;
    sc.reserve(n as u64, 0).unwrap();
    let mut prepared = Vec::with_capacity(data.len());
    let mut buf = Vec::new();
    for (i, v) in data.chunks_exact(dims).enumerate() {
        assert!(metric.prepare(v, &mut buf));
        sc.write_vector(i as u32, [0, (i >> 16) as u16, i as u16], &buf);
        prepared.extend_from_slice(&buf);
    }
    sc.set_quantizer(Quantizer::fit(&prepared, dims));
    add_nodes(&mut sc, 0, n as u32, None, &AtomicU64::new(0), &AtomicBool::new(false)).unwrap();
    sc.publish().unwrap();
    sc
}
