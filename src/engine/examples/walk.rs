//! Measures the graph walk alone, outside Postgres: builds (or reopens) a sidecar from an
//! `.fvecs` base, then runs every query single-threaded at each ef and prints recall@10
//! against the `.ivecs` ground truth, distances per query and CPU µs per query (thread CPU
//! time, so other processes on the machine inflate it far less than wall time).
//! Usage: cargo run --release -p vecmap-engine --example walk -- BASE.fvecs QUERY.fvecs GT.ivecs SIDECAR [ef,ef,...] [cosine|l2]
use std::sync::atomic::{AtomicBool, AtomicU64};
use vecmap_engine::hnsw::{add_nodes, Scratch, SearchParams, Searcher};
use vecmap_engine::quant::Quantizer;
use vecmap_engine::sidecar::{Identity, Sidecar};
use vecmap_engine::Metric;

fn read_vecs(path: &str) -> (Vec<[u8; 4]>, usize) {
    let b = std::fs::read(path).expect("read vecs");
    let d = u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize;
    let rec = 4 + 4 * d;
    let out = b.chunks_exact(rec).flat_map(|r| r[4..].chunks_exact(4).map(|c| c.try_into().unwrap())).collect();
    (out, d)
}

fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (base, d) = read_vecs(&a[1]);
    let base: Vec<f32> = base.into_iter().map(f32::from_le_bytes).collect();
    let (queries, _) = read_vecs(&a[2]);
    let queries: Vec<f32> = queries.into_iter().map(f32::from_le_bytes).collect();
    let (gt, gk) = read_vecs(&a[3]);
    let gt: Vec<u32> = gt.into_iter().map(u32::from_le_bytes).collect();
    let path = std::path::Path::new(&a[4]);
    let efs: Vec<usize> = a.get(5).map(|s| s.split(',').map(|x| x.parse().unwrap()).collect()).unwrap_or(vec![20, 30, 40, 80]);
    let metric = if a.get(6).map(String::as_str) == Some("l2") { Metric::L2 } else { Metric::Cosine };
    let n = base.len() / d;
    let id = Identity { build_id: 42, dims: d as u32, metric, m: 16, ef_construction: 64 };
    let sc = match Sidecar::open(path, id) {
        Ok(sc) if sc.node_count() as usize == n => sc,
        _ => {
            let t = std::time::Instant::now();
            let _ = std::fs::remove_file(path);
            let mut sc = Sidecar::create(path, id).unwrap();
            sc.reserve(n as u64, 0).unwrap();
            let (mut prepared, mut buf) = (Vec::with_capacity(base.len()), Vec::new());
            for (i, v) in base.chunks_exact(d).enumerate() {
                metric.prepare(v, &mut buf);
                sc.write_vector(i as u32, [0, (i >> 16) as u16, i as u16], &buf);
                prepared.extend_from_slice(&buf);
            }
            sc.set_quantizer(Quantizer::fit(&prepared, d));
            let pool = rayon::ThreadPoolBuilder::new().build().unwrap();
            add_nodes(&mut sc, 0, n as u32, Some(&pool), &AtomicU64::new(0), &AtomicBool::new(false)).unwrap();
            sc.publish().unwrap();
            eprintln!("built {n} × {d} in {:.1} s", t.elapsed().as_secs_f64());
            sc
        }
    };
    let mut scratch = Scratch::default();
    let mut q = Vec::new();
    let nq = queries.len() / d;
    for ef in efs {
        let (mut hits, mut dists) = (0usize, 0u64);
        let t = cpu_seconds();
        for (qi, raw) in queries.chunks_exact(d).enumerate() {
            metric.prepare(raw, &mut q);
            let mut s = Searcher::new(&sc, &q, &mut scratch).unwrap();
            let got: Vec<u32> = s.next_batch(&sc, &mut scratch, SearchParams { ef }).iter().take(10).map(|c| c.id).collect();
            dists += s.stats.distances;
            let truth = &gt[qi * gk..qi * gk + 10];
            hits += got.iter().filter(|g| truth.contains(g)).count();
        }
        let us = (cpu_seconds() - t) / nq as f64 * 1e6;
        println!("ef {ef:4}: recall@10 {:.4}  distances/query {:6.0}  CPU {us:7.1} µs/query", hits as f64 / (10 * nq) as f64, dists as f64 / nq as f64);
    }
    // How much of the sidecar this process maps with 2 MiB entries (see sidecar::file::map).
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let (mut ours, mut rss, mut pmd) = (false, 0u64, 0u64);
    for line in smaps.lines() {
        if line.split_whitespace().next().is_some_and(|f| f.contains('-') && f.chars().all(|c| c.is_ascii_hexdigit() || c == '-')) {
            ours = line.ends_with(path.to_str().unwrap_or("?"));
        } else if ours {
            let kb = |l: &str| l.split_whitespace().nth(1).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
            if line.starts_with("Rss:") { rss += kb(line) } else if line.starts_with("FilePmdMapped:") { pmd += kb(line) }
        }
    }
    println!("sidecar resident {} MiB, of which {} MiB mapped with 2 MiB pages", rss / 1024, pmd / 1024);
}
