use super::*;
use crate::quant::Quantizer;
use crate::sidecar::{Identity, Sidecar};
use crate::Metric;
pub use crate::testutil::{build, clustered};
use std::sync::atomic::{AtomicBool, AtomicU64};

fn exact_topk(data: &[f32], dims: usize, q: &[f32], metric: Metric, k: usize) -> Vec<u32> {
    let mut buf = Vec::new();
    let mut pq = Vec::new();
    metric.prepare(q, &mut pq);
    let mut all: Vec<Cand> = data
        .chunks_exact(dims)
        .enumerate()
        .map(|(i, v)| {
            metric.prepare(v, &mut buf);
            Cand { d: metric.distance(&pq, &buf), id: i as u32 }
        })
        .collect();
    all.sort_unstable();
    all.iter().take(k).map(|c| c.id).collect()
}

fn recall(sc: &Sidecar, data: &[f32], queries: &[f32], dims: usize, ef: usize) -> f64 {
    let metric = sc.metric();
    let mut scratch = Scratch::default();
    let (mut hit, mut total) = (0usize, 0usize);
    let mut pq = Vec::new();
    for q in queries.chunks_exact(dims) {
        let truth = exact_topk(data, dims, q, metric, 10);
        metric.prepare(q, &mut pq);
        let mut s = Searcher::new(sc, &pq, &mut scratch).unwrap();
        let got: Vec<u32> = s.next_batch(sc, &mut scratch, SearchParams { ef }).iter().take(10).map(|c| c.id).collect();
        hit += truth.iter().filter(|t| got.contains(t)).count();
        total += 10;
    }
    hit as f64 / total as f64
}

#[test]
fn recall_at_10_all_metrics() {
    let dims = 48;
    let all = clustered(4100, dims, 40, 1);
    let (data, queries) = all.split_at(4000 * dims);
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
        let dir = tempfile::tempdir().unwrap();
        let sc = build(&dir.path().join("s"), data, dims, metric, 16, 64);
        let r = recall(&sc, data, queries, dims, 40);
        eprintln!("{metric:?} recall@10 = {r:.3}");
        assert!(r >= 0.95, "{metric:?} recall@10 {r}");
    }
}

#[test]
fn parallel_build_matches_quality_and_reopens() {
    let dims = 32;
    let all = clustered(3050, dims, 30, 3);
    let (data, queries) = all.split_at(3000 * dims);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let id = Identity { build_id: 7, dims: dims as u32, metric: Metric::L2, m: 12, ef_construction: 48 };
    let mut sc = Sidecar::create(&path, id).unwrap();
    sc.reserve(3000, 0).unwrap();
    for (i, v) in data.chunks_exact(dims).enumerate() {
        sc.write_vector(i as u32, [0, 0, i as u16], v);
    }
    sc.set_quantizer(Quantizer::fit(&data, dims));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
    // Two batches: the second extends a published graph, as incremental apply does.
    add_nodes(&mut sc, 0, 1000, Some(&pool), &AtomicU64::new(0), &AtomicBool::new(false)).unwrap();
    sc.publish().unwrap();
    add_nodes(&mut sc, 1000, 3000, Some(&pool), &AtomicU64::new(0), &AtomicBool::new(false)).unwrap();
    sc.publish().unwrap();
    drop(sc);
    let sc = Sidecar::open(&path, id).unwrap();
    assert_eq!(sc.node_count(), 3000);
    for i in [0u32, 1234, 2999] {
        assert!(sc.info_ok(i));
        assert_eq!(sc.info(i).tid[2], i as u16);
    }
    let r = recall(&sc, data, queries, dims, 40);
    eprintln!("parallel recall@10 = {r:.3}");
    assert!(r >= 0.95, "recall {r}");
    // Another identity is refused.
    assert!(Sidecar::open(&path, Identity { build_id: 8, ..id }).unwrap_err().needs_rebuild());
}

#[test]
fn deleted_nodes_route_but_are_not_returned() {
    let dims = 16;
    let data = clustered(2000, dims, 10, 5);
    let dir = tempfile::tempdir().unwrap();
    let sc = build(&dir.path().join("s"), &data, dims, Metric::L2, 8, 32);
    for id in (0..2000).step_by(2) {
        sc.set_deleted(id);
    }
    let mut scratch = Scratch::default();
    let q = &data[0..dims];
    let mut s = Searcher::new(&sc, q, &mut scratch).unwrap();
    let batch: Vec<Cand> = s.next_batch(&sc, &mut scratch, SearchParams { ef: 40 }).to_vec();
    assert!(!batch.is_empty());
    assert!(batch.iter().all(|c| c.id % 2 == 1));
}

#[test]
fn continuation_reaches_every_node_once() {
    let dims = 16;
    let n = 1500;
    let data = clustered(n, dims, 12, 6);
    let dir = tempfile::tempdir().unwrap();
    let sc = build(&dir.path().join("s"), &data, dims, Metric::Cosine, 8, 32);
    let mut scratch = Scratch::default();
    let mut q = Vec::new();
    Metric::Cosine.prepare(&data[dims..2 * dims], &mut q);
    let mut s = Searcher::new(&sc, &q, &mut scratch).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut first = None;
    loop {
        let b = s.next_batch(&sc, &mut scratch, SearchParams { ef: 20 });
        if b.is_empty() {
            break;
        }
        first.get_or_insert(b[0].id);
        for w in b.windows(2) {
            assert!(w[0].d <= w[1].d, "batch sorted by exact distance");
        }
        for c in b {
            assert!(seen.insert(c.id), "node {} returned twice", c.id);
        }
    }
    assert_eq!(first, Some(1), "the query's own row is nearest");
    // Continuation, then the sweep of unreachable nodes, returns every node exactly once.
    assert_eq!(seen.len(), n);
}

#[test]
fn corrupt_files_are_detected() {
    let dims = 8;
    let data = clustered(300, dims, 4, 9);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let sc = build(&path, &data, dims, Metric::L2, 4, 16);
    let id = Identity { build_id: 42, dims: dims as u32, metric: Metric::L2, m: 4, ef_construction: 16 };
    drop(sc);
    let good = std::fs::read(&path).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("truncated header", good[..1000].to_vec()),
        ("zeroed", vec![0; good.len()]),
        ("garbage", (0..good.len()).map(|i| (i * 7919 % 251) as u8).collect()),
        ("flipped state byte", { let mut g = good.clone(); g[512 + 9] ^= 0xff; g }),
        ("truncated data", good[..good.len() / 2].to_vec()),
        ("other version", { let mut g = good.clone(); g[8] = 99; g }),
    ];
    for (name, bytes) in cases {
        std::fs::write(&path, &bytes).unwrap();
        match Sidecar::open(&path, id) {
            Err(e) => assert!(e.needs_rebuild(), "{name}: {e}"),
            Ok(_) => panic!("{name}: accepted"),
        }
    }
    std::fs::remove_file(&path).unwrap();
    assert!(Sidecar::open(&path, id).unwrap_err().needs_rebuild(), "missing file means rebuild");
}

#[test]
fn levels_are_deterministic_and_geometric() {
    let n = 100_000;
    let l1 = (0..n).filter(|&i| node_level(1, i, 16) >= 1).count() as f64 / n as f64;
    assert!((l1 - 1.0 / 16.0).abs() < 0.01, "P(level≥1) = {l1}");
    assert_eq!(node_level(5, 77, 16), node_level(5, 77, 16));
}

#[test]
#[ignore]
fn explore_recall() {
    let dims = 48;
    let all = clustered(4100, dims, 40, 1);
    let (data, queries) = all.split_at(4000 * dims);
    let dir = tempfile::tempdir().unwrap();
    let sc = build(&dir.path().join("s"), data, dims, Metric::L2, 16, 64);
    for ef in [10, 40, 100, 200, 400] {
        eprintln!("ef {ef}: recall {:.3}", recall(&sc, data, queries, dims, ef));
    }
}

#[test]
#[ignore]
fn explore_quant() {
    let dims = 48;
    let all = clustered(4100, dims, 40, 1);
    let (data, queries) = all.split_at(4000 * dims);
    let dir = tempfile::tempdir().unwrap();
    let sc = build(&dir.path().join("s"), data, dims, Metric::L2, 16, 64);
    let q8 = sc.quantizer().unwrap();
    eprintln!("scale {}", q8.scale);
    for keep in [10, 40, 100] {
        let mut hit = 0;
        for q in queries.chunks_exact(dims) {
            let truth = exact_topk(data, dims, q, Metric::L2, 10);
            let mut qc = vec![0i8; sc.geometry().codes];
            let qm = q8.encode(q, &mut qc);
            let mut all: Vec<Cand> = (0..4000u32).map(|i| Cand { d: q8.distance(Metric::L2, &qc, qm, sc.codes(i), sc.row_meta(i)), id: i }).collect();
            all.sort_unstable();
            let top: Vec<u32> = all.iter().take(keep).map(|c| c.id).collect();
            hit += truth.iter().filter(|t| top.contains(t)).count();
        }
        eprintln!("int8 brute force top-{keep} contains {:.3} of true top-10", hit as f64 / 1000.0);
    }
}

#[test]
fn skipped_nodes_are_never_linked() {
    let dims = 16;
    let data = clustered(1200, dims, 8, 11);
    let dir = tempfile::tempdir().unwrap();
    let id = Identity { build_id: 3, dims: dims as u32, metric: Metric::L2, m: 8, ef_construction: 32 };
    let mut sc = Sidecar::create(&dir.path().join("s"), id).unwrap();
    sc.reserve(1200, 0).unwrap();
    for (i, v) in data.chunks_exact(dims).enumerate() {
        sc.write_vector(i as u32, [0, 0, i as u16], v);
    }
    sc.set_quantizer(Quantizer::fit(&data, dims));
    let dead = |i: u32| i % 3 == 0;
    add_nodes_except(&mut sc, 0, 1200, None, &AtomicU64::new(0), &AtomicBool::new(false), &dead).unwrap();
    sc.publish().unwrap();
    assert!(!dead(sc.state().entry_point));
    for n in 0..1200u32 {
        for lv in 0..=sc.info(n).level as u32 {
            for w in sc.neighbours(n, lv) {
                let x = w.load(std::sync::atomic::Ordering::Relaxed);
                if x == crate::sidecar::NO_NODE {
                    break;
                }
                assert!(!dead(x), "node {n} links to skipped node {x}");
            }
        }
    }
    // Live nodes are still found.
    let mut scratch = Scratch::default();
    let q = &data[dims..2 * dims];
    let mut s = Searcher::new(&sc, q, &mut scratch).unwrap();
    assert_eq!(s.next_batch(&sc, &mut scratch, SearchParams { ef: 20 })[0].id, 1);
}

/// A writer whose batch failed half-way (cancel, disk full) keeps its handle in the backend's
/// cache: after `refresh` its view must be the published one again, or its next batch would
/// publish a state that claims more nodes than chunks (or nodes without a quantizer), and
/// every reader would then see a "corrupt" file and rebuild it.
#[test]
fn failed_batch_leaves_a_reusable_handle() {
    let dims = 16;
    let data = clustered(300, dims, 4, 11);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let id = Identity { build_id: 42, dims: dims as u32, metric: Metric::L2, m: 8, ef_construction: 32 };
    let mut w = Sidecar::create(&path, id).unwrap();
    w.publish().unwrap();
    // The failed first batch: chunks reserved, vectors written and a quantizer set, then an
    // error before publish.
    let first = w.geometry().node_chunks.size(0) as u32;
    let n = first + 50;
    w.reserve(n as u64, 0).unwrap();
    for i in 0..n {
        w.write_vector(i, [0, 0, i as u16], &data[(i as usize % 300) * dims..][..dims]);
    }
    w.set_quantizer(Quantizer::fit(&data, dims));
    // The same handle, reused: refresh, then a batch that succeeds.
    assert!(w.refresh().unwrap());
    assert_eq!(w.node_count(), 0);
    assert!(w.quantizer().is_none(), "an unpublished quantizer must be forgotten");
    w.reserve(n as u64, 0).unwrap();
    for i in 0..n {
        w.write_vector(i, [0, 0, i as u16], &data[(i as usize % 300) * dims..][..dims]);
    }
    w.set_quantizer(Quantizer::fit(&data, dims));
    add_nodes(&mut w, 0, n, None, &AtomicU64::new(0), &AtomicBool::new(false)).unwrap();
    w.publish().unwrap();
    let r = Sidecar::open(&path, id).expect("published after a failed batch: still valid");
    assert_eq!(r.node_count(), n);
    let mut scratch = Scratch::default();
    let mut s = Searcher::new(&r, &data[..dims], &mut scratch).unwrap();
    assert!(!s.next_batch(&r, &mut scratch, SearchParams { ef: 10 }).is_empty());
}

/// `repair_graph` (VACUUM's walk for graphs too large for the per-batch walk) leaves every live
/// node reachable from the entry point, here after cutting some nodes off by hand.
#[test]
fn repair_graph_relinks_cut_off_nodes() {
    let dims = 16;
    let data = clustered(2000, dims, 8, 13);
    let dir = tempfile::tempdir().unwrap();
    let sc = build(&dir.path().join("r.vmap"), &data, dims, Metric::L2, 8, 32);
    let ep = sc.state().entry_point;
    // Remove nodes 100..110 from every layer-0 list (other lists keep their order).
    let cut = |x: u32| (100..110).contains(&x) && x != ep;
    for n in 0..2000u32 {
        let words = sc.neighbours(n, 0);
        let keep: Vec<u32> = words.iter().map(|w| w.load(std::sync::atomic::Ordering::Relaxed)).take_while(|&x| x != crate::sidecar::NO_NODE).filter(|&x| !cut(x)).collect();
        for (i, w) in words.iter().enumerate() {
            w.store(keep.get(i).copied().unwrap_or(crate::sidecar::NO_NODE), std::sync::atomic::Ordering::Relaxed);
        }
    }
    assert!(!unreachable(&sc).is_empty(), "the cut nodes are unreachable");
    assert!(repair_graph(&sc) > 0);
    assert_eq!(unreachable(&sc), Vec::<u32>::new());
    assert_eq!(repair_graph(&sc), 0, "nothing left to repair");
}
