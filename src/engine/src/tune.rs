//! Recall calibration: measure recall@k against exact search for a sweep of `ef`, keep the
//! Pareto curve (ef → recall, cost), and pick the smallest `ef` that meets a recall target.
//!
//! Held-out queries sampled from the index are level-0 nodes that the search is made blind
//! to: the node is marked visited before the search starts, so it is never scored, expanded
//! or returned, and the exact ground truth skips it too. Only level-0 nodes qualify, because
//! upper-layer lists would lead the greedy descent straight to the query's own node.
use crate::hnsw::{Cand, Scratch, SearchParams, Searcher};
use crate::sidecar::Sidecar;
use crate::stats::SplitMix;
use bytemuck::{Pod, Zeroable};
use std::collections::BinaryHeap;
use std::time::Instant;

/// ef values tried, in order (never above `vecmap.ef_search`'s maximum).
pub const EF_SWEEP: [u32; 21] = [10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 100, 128, 160, 200, 256, 320, 400, 512, 640, 800, 1000];
/// The sweep stops once mean recall reaches this (and the target is met).
pub const RECALL_CEILING: f64 = 0.999;
/// Most curve points a calibration stores.
pub const MAX_POINTS: usize = 32;
/// One-sided 95% normal quantile for the lower confidence bound on mean recall.
const Z95: f64 = 1.645;

/// The curve an index that was never tuned uses: deliberately generous (ef → recall@10
/// assumed), from HNSW with m = 16 on hard real embeddings.
pub const DEFAULT_CURVE: [(u32, f64); 5] = [(64, 0.90), (100, 0.95), (200, 0.98), (400, 0.99), (1000, 0.999)];

/// One measured point of the curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurvePoint {
    pub ef: u32,
    /// Mean recall@k over the held-out queries.
    pub recall: f64,
    /// One-sided 95% lower confidence bound of `recall` (mean − 1.645·stderr).
    pub recall_low: f64,
    /// Median time of one search (graph search + rerank), microseconds.
    pub latency_us: f64,
    /// Mean int8 distance computations per query: the cost axis of the Pareto curve.
    pub distances: f64,
}

/// A stored calibration.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// Build identity of the index measured (the metapage's build_id).
    pub build_id: u64,
    pub tuned_unix: u64,
    /// Live rows in the index when measured.
    pub rows: u64,
    pub k: u32,
    pub queries: u32,
    /// Queries came from a user table rather than held-out index rows.
    pub from_table: bool,
    /// Pareto points, ascending ef.
    pub points: Vec<CurvePoint>,
}

/// How an ef was chosen for a target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice {
    pub ef: u32,
    /// False when no point reaches the target: `ef` is then the best one measured.
    pub meets: bool,
}

impl Calibration {
    /// The smallest ef whose lower confidence bound meets `target`; the highest-recall point
    /// when none does. None without points.
    pub fn choose(&self, target: f64) -> Option<Choice> {
        if let Some(p) = self.points.iter().filter(|p| p.recall_low >= target).min_by_key(|p| p.ef) {
            return Some(Choice { ef: p.ef, meets: true });
        }
        let best = self.points.iter().max_by(|a, b| a.recall.total_cmp(&b.recall).then(b.ef.cmp(&a.ef)))?;
        Some(Choice { ef: best.ef, meets: false })
    }

    pub fn encode(&self) -> [u8; ENCODED_LEN] {
        let mut h = Header {
            magic: CALIB_MAGIC,
            version: CALIB_VERSION,
            crc: 0,
            npoints: self.points.len().min(MAX_POINTS) as u32,
            build_id: self.build_id,
            tuned_unix: self.tuned_unix,
            rows: self.rows,
            k: self.k,
            queries: self.queries,
            flags: self.from_table as u32,
            pad: 0,
            reserved: [0; 2],
        };
        let mut pts = [Point::zeroed(); MAX_POINTS];
        for (o, p) in pts.iter_mut().zip(&self.points) {
            *o = Point { ef: p.ef, recall: p.recall as f32, recall_low: p.recall_low as f32, latency_us: p.latency_us as f32, distances: p.distances as f32, pad: 0 };
        }
        let mut out = [0u8; ENCODED_LEN];
        out[HEADER_LEN..].copy_from_slice(bytemuck::cast_slice(&pts));
        out[..HEADER_LEN].copy_from_slice(bytemuck::bytes_of(&h));
        h.crc = crc32fast::hash(&out);
        out[..HEADER_LEN].copy_from_slice(bytemuck::bytes_of(&h));
        out
    }

    /// None when the bytes hold no calibration (never tuned: zeros) or a damaged one.
    pub fn decode(bytes: &[u8]) -> Option<Calibration> {
        if bytes.len() < ENCODED_LEN {
            return None;
        }
        let h: Header = bytemuck::pod_read_unaligned(&bytes[..HEADER_LEN]);
        if h.magic != CALIB_MAGIC || h.version != CALIB_VERSION || h.npoints as usize > MAX_POINTS {
            return None;
        }
        let mut copy = bytes[..ENCODED_LEN].to_vec();
        copy[8..12].fill(0); // crc field
        if crc32fast::hash(&copy) != h.crc {
            return None;
        }
        let points = (0..h.npoints as usize)
            .map(|i| {
                let off = HEADER_LEN + i * POINT_LEN;
                let p: Point = bytemuck::pod_read_unaligned(&bytes[off..off + POINT_LEN]);
                CurvePoint { ef: p.ef, recall: round6(p.recall as f64), recall_low: round6(p.recall_low as f64), latency_us: (p.latency_us as f64 * 100.0).round() / 100.0, distances: (p.distances as f64 * 10.0).round() / 10.0 }
            })
            .collect();
        Some(Calibration { build_id: h.build_id, tuned_unix: h.tuned_unix, rows: h.rows, k: h.k, queries: h.queries, from_table: h.flags & 1 != 0, points })
    }
}

/// The ef the default curve gives for `target` (for indexes never tuned).
pub fn default_ef(target: f64) -> u32 {
    DEFAULT_CURVE.iter().find(|(_, r)| *r >= target).map_or(DEFAULT_CURVE[DEFAULT_CURVE.len() - 1].0, |(ef, _)| *ef)
}

const CALIB_MAGIC: u32 = 0x4143_4556; // "VECA"
const CALIB_VERSION: u32 = 1;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Header {
    magic: u32,
    version: u32,
    crc: u32,
    npoints: u32,
    build_id: u64,
    tuned_unix: u64,
    rows: u64,
    k: u32,
    queries: u32,
    flags: u32,
    pad: u32,
    reserved: [u64; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Point {
    ef: u32,
    recall: f32,
    recall_low: f32,
    latency_us: f32,
    distances: f32,
    pad: u32,
}

const HEADER_LEN: usize = std::mem::size_of::<Header>();
const POINT_LEN: usize = std::mem::size_of::<Point>();
/// Bytes of an encoded calibration.
pub const ENCODED_LEN: usize = HEADER_LEN + MAX_POINTS * POINT_LEN;

/// Keeps the points no other point beats on both recall (higher) and cost (fewer distance
/// computations), ascending ef. Ties in recall keep the cheaper point.
pub fn pareto(points: &[CurvePoint]) -> Vec<CurvePoint> {
    let mut v: Vec<CurvePoint> = points.to_vec();
    v.sort_by(|a, b| a.distances.total_cmp(&b.distances).then(a.ef.cmp(&b.ef)));
    let mut out: Vec<CurvePoint> = Vec::new();
    for p in v {
        if out.last().is_none_or(|l| p.recall > l.recall) {
            out.push(p);
        }
    }
    out.sort_by_key(|p| p.ef);
    out.truncate(MAX_POINTS);
    out
}

/// A query for calibration: a prepared vector and, for held-out index rows, its own node.
#[derive(Clone, Debug)]
pub struct Query {
    pub vector: Vec<f32>,
    pub exclude: Option<u32>,
}

/// Up to `n` held-out queries: distinct live level-0 nodes, never the entry point.
pub fn sample_node_queries(sc: &Sidecar, n: usize, seed: u64) -> Vec<Query> {
    let count = sc.node_count();
    let ep = sc.state().entry_point;
    let mut rng = SplitMix(seed);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    if count < 2 {
        return out;
    }
    for _ in 0..n.saturating_mul(20) {
        if out.len() == n {
            break;
        }
        let id = rng.below(count as u64) as u32;
        if id == ep || sc.is_deleted(id) || sc.info(id).level != 0 || !seen.insert(id) {
            continue;
        }
        out.push(Query { vector: sc.vector(id).to_vec(), exclude: Some(id) });
    }
    out
}

/// Exact answer for one query: the distance of its k-th nearest live node (the recall
/// threshold) and how many neighbours exist (< k only in tiny indexes).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Truth {
    pub kth: f32,
    pub count: usize,
}

/// Brute-force ground truth for `queries` in one pass over the f32 arena, split across
/// `pool` when given (no Postgres calls happen inside).
pub fn ground_truth(sc: &Sidecar, queries: &[Query], k: usize, pool: Option<&rayon::ThreadPool>) -> Vec<Truth> {
    use rayon::prelude::*;
    let n = sc.node_count();
    let metric = sc.metric();
    const SPAN: u32 = 2048;
    let spans: Vec<(u32, u32)> = (0..n.div_ceil(SPAN)).map(|i| (i * SPAN, ((i + 1) * SPAN).min(n))).collect();
    let scan = |&(lo, hi): &(u32, u32)| -> Vec<BinaryHeap<Cand>> {
        let mut heaps: Vec<BinaryHeap<Cand>> = queries.iter().map(|_| BinaryHeap::with_capacity(k + 1)).collect();
        for id in lo..hi {
            if sc.is_deleted(id) {
                continue;
            }
            let v = sc.vector(id);
            for (q, h) in queries.iter().zip(heaps.iter_mut()) {
                if q.exclude == Some(id) {
                    continue;
                }
                let d = metric.distance(&q.vector, v);
                if h.len() < k {
                    h.push(Cand { d, id });
                } else if d < h.peek().unwrap().d {
                    h.pop();
                    h.push(Cand { d, id });
                }
            }
        }
        heaps
    };
    let merge = |mut a: Vec<BinaryHeap<Cand>>, b: Vec<BinaryHeap<Cand>>| {
        for (x, y) in a.iter_mut().zip(b) {
            for c in y {
                if x.len() < k {
                    x.push(c);
                } else if c < *x.peek().unwrap() {
                    x.pop();
                    x.push(c);
                }
            }
        }
        a
    };
    let empty = || queries.iter().map(|_| BinaryHeap::new()).collect::<Vec<_>>();
    let heaps = match pool {
        Some(p) => p.install(|| spans.par_iter().map(scan).reduce(empty, merge)),
        None => spans.iter().map(scan).fold(empty(), merge),
    };
    heaps.into_iter().map(|h| Truth { kth: h.peek().map_or(f32::INFINITY, |c| c.d), count: h.len() }).collect()
}

/// One search as a scan runs it: beam `ef`, continued until k rows or the graph is used up.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Measured {
    /// Rows among the first k whose exact distance is within the k-th true distance.
    pub found: usize,
    pub distances: u64,
    pub nanos: u64,
}

pub fn search_once(sc: &Sidecar, scratch: &mut Scratch, q: &Query, k: usize, ef: usize, truth: &Truth) -> Measured {
    let t0 = Instant::now();
    let Some(mut s) = Searcher::new(sc, &q.vector, scratch) else {
        return Measured::default();
    };
    if let Some(x) = q.exclude {
        scratch.visited.insert(x);
    }
    let mut got: Vec<f32> = Vec::with_capacity(k);
    while got.len() < k {
        let b = s.next_batch(sc, scratch, SearchParams { ef });
        if b.is_empty() {
            break;
        }
        got.extend(b.iter().take(k - got.len()).map(|c| c.d));
    }
    let nanos = t0.elapsed().as_nanos() as u64;
    // Ties at the k-th distance count as hits (ann-benchmarks' convention).
    let limit = truth.kth + truth.kth.abs() * 1e-6 + 1e-9;
    Measured { found: got.iter().filter(|&&d| d <= limit).count().min(truth.count), distances: s.stats.distances, nanos }
}

/// Summarizes per-query measurements at one ef; queries without neighbours are skipped.
pub fn summarize(ef: u32, truths: &[Truth], runs: &[Measured]) -> CurvePoint {
    let recalls: Vec<f64> = truths.iter().zip(runs).filter(|(t, _)| t.count > 0).map(|(t, m)| m.found as f64 / t.count as f64).collect();
    let n = recalls.len().max(1) as f64;
    let mean = recalls.iter().sum::<f64>() / n;
    let var = if recalls.len() > 1 { recalls.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    let low = (mean - Z95 * (var / n).sqrt()).clamp(0.0, 1.0);
    let runs_n = runs.len().max(1) as f64;
    let mut nanos: Vec<u64> = runs.iter().map(|m| m.nanos).collect();
    nanos.sort_unstable();
    CurvePoint {
        ef,
        recall: round6(mean),
        recall_low: round6(low),
        latency_us: nanos.get(nanos.len() / 2).map_or(0.0, |&n| (n as f64 / 10.0).round() / 100.0),
        distances: (runs.iter().map(|m| m.distances as f64).sum::<f64>() / runs_n * 10.0).round() / 10.0,
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The ef values to try for top-`k` (from `k` up, at most 1000).
pub fn sweep_for(k: usize) -> Vec<u32> {
    let mut v: Vec<u32> = EF_SWEEP.iter().copied().filter(|&ef| ef as usize >= k).collect();
    if v.first().is_none_or(|&f| f as usize > k) && k <= 1000 {
        v.insert(0, k as u32);
    }
    v
}

/// True when a sweep can stop after the last of `points`: the target is met with
/// confidence, and recall is at the ceiling or has not improved over the last `PLATEAU`
/// steps (the graph's own limit: larger ef would only add cost).
pub fn sweep_done(points: &[CurvePoint], target: f64) -> bool {
    const PLATEAU: usize = 3;
    let Some(p) = points.last() else {
        return false;
    };
    let flat = points.len() > PLATEAU && points[points.len() - 1 - PLATEAU].recall >= p.recall;
    p.recall_low >= target && (p.recall >= RECALL_CEILING || flat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{build, clustered};
    use crate::Metric;

    fn pt(ef: u32, recall: f64, low: f64, dist: f64) -> CurvePoint {
        CurvePoint { ef, recall, recall_low: low, latency_us: dist / 10.0, distances: dist }
    }

    #[test]
    fn encode_decode_round_trip_and_reject_damage() {
        let c = Calibration {
            build_id: 77,
            tuned_unix: 1_700_000_000,
            rows: 4000,
            k: 10,
            queries: 200,
            from_table: true,
            points: vec![pt(10, 0.8, 0.78, 100.0), pt(40, 0.97, 0.96, 400.0)],
        };
        let bytes = c.encode();
        let d = Calibration::decode(&bytes).unwrap();
        assert_eq!(d.points.len(), 2);
        assert_eq!((d.build_id, d.rows, d.k, d.queries, d.from_table), (77, 4000, 10, 200, true));
        assert!((d.points[1].recall - 0.97).abs() < 1e-6);
        assert!(Calibration::decode(&[0u8; ENCODED_LEN]).is_none(), "zeros mean never tuned");
        let mut bad = bytes;
        bad[HEADER_LEN + 5] ^= 1;
        assert!(Calibration::decode(&bad).is_none(), "crc catches damage");
    }

    #[test]
    fn choose_takes_the_smallest_ef_whose_lower_bound_meets_the_target() {
        let c = Calibration {
            build_id: 1,
            tuned_unix: 0,
            rows: 0,
            k: 10,
            queries: 100,
            from_table: false,
            points: vec![pt(10, 0.90, 0.88, 1.0), pt(20, 0.951, 0.94, 2.0), pt(40, 0.97, 0.96, 3.0), pt(80, 0.99, 0.985, 4.0)],
        };
        assert_eq!(c.choose(0.95), Some(Choice { ef: 40, meets: true }), "mean 0.951 at ef 20 is not enough");
        assert_eq!(c.choose(0.5), Some(Choice { ef: 10, meets: true }));
        assert_eq!(c.choose(0.995), Some(Choice { ef: 80, meets: false }));
        assert_eq!(default_ef(0.95), 100);
        assert_eq!(default_ef(0.3), 64);
        assert_eq!(default_ef(1.0), 1000);
    }

    #[test]
    fn pareto_drops_dominated_points() {
        let pts = [pt(10, 0.8, 0.7, 100.0), pt(20, 0.8, 0.7, 150.0), pt(40, 0.9, 0.85, 200.0), pt(64, 0.89, 0.85, 300.0)];
        let p = pareto(&pts);
        assert_eq!(p.iter().map(|p| p.ef).collect::<Vec<_>>(), vec![10, 40]);
    }

    #[test]
    fn sweep_stops_at_the_ceiling_or_a_plateau_once_the_target_is_met() {
        let a = [pt(10, 0.9, 0.89, 1.0), pt(12, 0.9995, 0.999, 2.0)];
        assert!(sweep_done(&a, 0.95));
        assert!(!sweep_done(&a[..1], 0.85), "0.9 is below the ceiling and no plateau yet");
        let flat = [pt(10, 0.99, 0.98, 1.0), pt(12, 0.99, 0.98, 2.0), pt(16, 0.99, 0.98, 3.0), pt(20, 0.99, 0.98, 4.0)];
        assert!(sweep_done(&flat, 0.95));
        assert!(!sweep_done(&flat, 0.985), "a target not met keeps the sweep going");
    }

    #[test]
    fn sweep_starts_at_k() {
        assert_eq!(sweep_for(10)[0], 10);
        assert_eq!(&sweep_for(5)[..2], &[5, 10]);
        assert_eq!(sweep_for(100)[0], 100);
        assert_eq!(sweep_for(150)[..2], [150, 160]);
        assert!(sweep_for(2000).is_empty());
    }

    /// The calibration measured on held-out index rows predicts recall on queries the index
    /// never saw: at the chosen ef, fresh queries meet the target too.
    #[test]
    fn held_out_calibration_predicts_recall_on_new_queries() {
        let dims = 32;
        let all = clustered(6300, dims, 60, 11);
        let (data, fresh) = all.split_at(6000 * dims);
        let dir = tempfile::tempdir().unwrap();
        let sc = build(&dir.path().join("t.vmap"), data, dims, Metric::L2, 8, 32);
        let k = 10;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let queries = sample_node_queries(&sc, 300, 5);
        assert_eq!(queries.len(), 300);
        let truths = ground_truth(&sc, &queries, k, Some(&pool));
        assert_eq!(truths, ground_truth(&sc, &queries, k, None), "parallel and serial agree");
        let mut scratch = Scratch::default();
        let mut points = Vec::new();
        for ef in sweep_for(k) {
            let runs: Vec<Measured> = queries.iter().zip(&truths).map(|(q, t)| search_once(&sc, &mut scratch, q, k, ef as usize, t)).collect();
            points.push(summarize(ef, &truths, &runs));
            if sweep_done(&points, 0.95) {
                break;
            }
        }
        let cal = Calibration { build_id: 42, tuned_unix: 0, rows: 6000, k: k as u32, queries: 300, from_table: false, points: pareto(&points) };
        assert!(cal.points.windows(2).all(|w| w[0].recall < w[1].recall && w[0].ef < w[1].ef));
        for target in [0.9, 0.95, 0.98] {
            let c = cal.choose(target).unwrap();
            assert!(c.meets, "{target}: {cal:?}");
            let fq: Vec<Query> = fresh.chunks_exact(dims).map(|v| Query { vector: v.to_vec(), exclude: None }).collect();
            let ft = ground_truth(&sc, &fq, k, None);
            let runs: Vec<Measured> = fq.iter().zip(&ft).map(|(q, t)| search_once(&sc, &mut scratch, q, k, c.ef as usize, t)).collect();
            let got = summarize(c.ef, &ft, &runs).recall;
            eprintln!("target {target}: ef {} → fresh recall {got:.4}", c.ef);
            assert!(got >= target - 0.01, "target {target}: ef {} gave {got}", c.ef);
        }
    }

    #[test]
    fn held_out_node_is_never_returned() {
        let dims = 16;
        let data = clustered(2000, dims, 10, 12);
        let dir = tempfile::tempdir().unwrap();
        let sc = build(&dir.path().join("h.vmap"), &data, dims, Metric::Cosine, 8, 32);
        let qs = sample_node_queries(&sc, 50, 1);
        let mut scratch = Scratch::default();
        for q in &qs {
            let t = ground_truth(&sc, std::slice::from_ref(q), 10, None)[0];
            assert!(t.kth > 0.0, "the query's own row (distance 0) is not its own neighbour");
            let mut s = Searcher::new(&sc, &q.vector, &mut scratch).unwrap();
            scratch.visited.insert(q.exclude.unwrap());
            let b = s.next_batch(&sc, &mut scratch, SearchParams { ef: 40 });
            assert!(b.iter().all(|c| Some(c.id) != q.exclude));
        }
    }
}
