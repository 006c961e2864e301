//! Regression guards for the hot paths: distance kernels at common widths and one HNSW
//! search (int8 walk + f32 rerank) on a clustered 20k × 128 graph.
//! Run: `cargo bench -p vecmap-engine --bench kernels`
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::sync::atomic::{AtomicBool, AtomicU64};
use vecmap_engine::hnsw::{add_nodes, Scratch, SearchParams, Searcher};
use vecmap_engine::kernels;
use vecmap_engine::quant::Quantizer;
use vecmap_engine::sidecar::{Identity, Sidecar};
use vecmap_engine::Metric;

fn lcg(seed: &mut u64) -> f32 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
}

fn bench_kernels(c: &mut Criterion) {
    let mut s = 1u64;
    for dims in [384usize, 1536] {
        let a: Vec<f32> = (0..dims).map(|_| lcg(&mut s)).collect();
        let b: Vec<f32> = (0..dims).map(|_| lcg(&mut s)).collect();
        let qa: Vec<i8> = a.iter().map(|x| (x * 254.0) as i8).collect();
        let qb: Vec<i8> = b.iter().map(|x| (x * 254.0) as i8).collect();
        c.bench_function(&format!("dot_f32/{dims}"), |z| z.iter(|| kernels::dot(black_box(&a), black_box(&b))));
        c.bench_function(&format!("l2sq_f32/{dims}"), |z| z.iter(|| kernels::l2sq(black_box(&a), black_box(&b))));
        c.bench_function(&format!("dot_i8/{dims}"), |z| z.iter(|| kernels::dot_i8(black_box(&qa), black_box(&qb))));
    }
}

fn bench_search(c: &mut Criterion) {
    let (n, dims) = (20_000usize, 128usize);
    let mut s = 7u64;
    let centres: Vec<f32> = (0..64 * dims).map(|_| lcg(&mut s) * 4.0).collect();
    let data: Vec<f32> = (0..n).flat_map(|i| (0..dims).map(|d| centres[(i % 64) * dims + d] + lcg(&mut s)).collect::<Vec<_>>()).collect();
    let dir = tempfile::tempdir().unwrap();
    let id = Identity { build_id: 1, dims: dims as u32, metric: Metric::L2, m: 16, ef_construction: 64 };
    let mut sc = Sidecar::create(&dir.path().join("bench"), id).unwrap();
    sc.reserve(n as u64, 0).unwrap();
    for (i, v) in data.chunks_exact(dims).enumerate() {
        sc.write_vector(i as u32, [0, 0, 0], v);
    }
    sc.set_quantizer(Quantizer::fit(&data, dims));
    add_nodes(&mut sc, 0, n as u32, None, &AtomicU64::new(0), &AtomicBool::new(false)).unwrap();
    sc.publish().unwrap();
    let mut scratch = Scratch::default();
    let queries: Vec<Vec<f32>> = (0..64).map(|i| data[(i * 311 % n) * dims..(i * 311 % n + 1) * dims].iter().map(|x| x + 0.05).collect()).collect();
    let mut k = 0;
    c.bench_function("hnsw_search/20k×128/ef40", |z| {
        z.iter(|| {
            k = (k + 1) % queries.len();
            let mut srch = Searcher::new(&sc, &queries[k], &mut scratch).unwrap();
            black_box(srch.next_batch(&sc, &mut scratch, SearchParams { ef: 40 }).len())
        })
    });
}

criterion_group!(benches, bench_kernels, bench_search);
criterion_main!(benches);
