//! Measures the int8 quantizer choice on real vectors: recall of the exact top-10 inside the
//! top-`keep` by int8 distance (what the f32 rerank then sorts), for
//!   (a) one global scale with a per-dimension centre (vecmap's choice: pure int8 kernels), and
//!   (b) per-dimension min/max ranges (needs a weighted kernel; measured by dequantizing).
//! Usage: cargo run --release -p vecmap-engine --example quantizer_choice -- BASE.fvecs QUERY.fvecs [cosine|l2]
use vecmap_engine::quant::Quantizer;
use vecmap_engine::Metric;

fn read_fvecs(path: &str) -> (Vec<f32>, usize) {
    let b = std::fs::read(path).expect("read fvecs");
    let d = u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize;
    let rec = 4 + 4 * d;
    let mut out = Vec::with_capacity(b.len() / rec * d);
    for r in b.chunks_exact(rec) {
        out.extend(r[4..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())));
    }
    (out, d)
}

fn topk(scores: &mut [(f32, usize)], k: usize) -> Vec<usize> {
    scores.sort_by(|a, b| a.0.total_cmp(&b.0));
    scores.iter().take(k).map(|s| s.1).collect()
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (base, d) = read_fvecs(&a[1]);
    let (queries, _) = read_fvecs(&a[2]);
    let metric = if a.get(3).map(|s| s.as_str()) == Some("l2") { Metric::L2 } else { Metric::Cosine };
    let mut prep = Vec::new();
    let mut buf = Vec::new();
    for v in base.chunks_exact(d) {
        metric.prepare(v, &mut buf);
        prep.extend_from_slice(&buf);
    }
    let n = prep.len() / d;
    // (a) global scale + centre
    let q = Quantizer::fit(&prep, d);
    let codes: Vec<(Vec<i8>, _)> = prep.chunks_exact(d).map(|v| { let mut c = vec![0i8; d.div_ceil(32) * 32]; let m = q.encode(v, &mut c); (c, m) }).collect();
    // (b) per-dimension ranges, dequantized
    let (mut lo, mut hi) = (vec![f32::MAX; d], vec![f32::MIN; d]);
    for v in prep.chunks_exact(d) {
        for i in 0..d { lo[i] = lo[i].min(v[i]); hi[i] = hi[i].max(v[i]); }
    }
    let deq: Vec<f32> = prep.chunks_exact(d).flat_map(|v| (0..d).map(|i| { let s = (hi[i] - lo[i]).max(1e-12) / 254.0; lo[i] + s * ((v[i] - lo[i]) / s).round() }).collect::<Vec<_>>()).collect();
    for keep in [10usize, 20, 40] {
        let (mut ha, mut hb, mut total) = (0, 0, 0);
        for qv in queries.chunks_exact(d) {
            metric.prepare(qv, &mut buf);
            let mut exact: Vec<(f32, usize)> = (0..n).map(|i| (metric.distance(&buf, &prep[i * d..(i + 1) * d]), i)).collect();
            let truth = topk(&mut exact, 10);
            let mut qc = vec![0i8; d.div_ceil(32) * 32];
            let qm = q.encode(&buf, &mut qc);
            let mut sa: Vec<(f32, usize)> = (0..n).map(|i| (q.distance(metric, &qc, qm, &codes[i].0, codes[i].1), i)).collect();
            let mut sb: Vec<(f32, usize)> = (0..n).map(|i| (metric.distance(&buf, &deq[i * d..(i + 1) * d]), i)).collect();
            let (ta, tb) = (topk(&mut sa, keep), topk(&mut sb, keep));
            ha += truth.iter().filter(|t| ta.contains(t)).count();
            hb += truth.iter().filter(|t| tb.contains(t)).count();
            total += 10;
        }
        println!("top-{keep:>2} by int8 holds the exact top-10: global scale + centre {:.4}   per-dimension ranges {:.4}", ha as f64 / total as f64, hb as f64 / total as f64);
    }
}
