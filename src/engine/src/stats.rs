//! Looking inside a sidecar: graph shape, bytes per arena, page-cache residency, int8
//! quantization error, and prewarming. Read-only; safe to run beside the writer.
use crate::sidecar::{Region, RegionKind, Sidecar, NO_NODE};
use std::sync::atomic::Ordering;

const PAGE: usize = 4096;

/// Shape of the HNSW graph over its live (not deleted) nodes. Deleted nodes are left out:
/// some still route searches, but those a compaction or rebuild skipped have no links at all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GraphStats {
    /// `nodes_per_layer[l]`: live nodes whose level is ≥ l (layer 0 holds them all).
    pub nodes_per_layer: Vec<u64>,
    /// Out-degree at layer 0 (filled neighbour slots) of live nodes; 0s when there are none.
    pub l0_degree_min: u32,
    pub l0_degree_max: u32,
    pub l0_degree_mean: f64,
}

/// Walks every node's info and layer-0 list. `tick` runs every 65,536 nodes (the caller
/// checks for interrupts there).
pub fn graph_stats(sc: &Sidecar, mut tick: impl FnMut()) -> GraphStats {
    let n = sc.node_count();
    let mut st = GraphStats { nodes_per_layer: vec![0; sc.state().max_level as usize + 1], ..Default::default() };
    if n == 0 {
        st.nodes_per_layer = Vec::new();
        return st;
    }
    let (mut min, mut max, mut sum, mut live) = (u32::MAX, 0u32, 0u64, 0u64);
    for id in 0..n {
        if id % 65_536 == 0 {
            tick();
        }
        if sc.is_deleted(id) {
            continue;
        }
        live += 1;
        let level = (sc.info(id).level as usize).min(st.nodes_per_layer.len() - 1);
        for c in &mut st.nodes_per_layer[..=level] {
            *c += 1;
        }
        let d = sc.neighbours(id, 0).iter().take_while(|w| w.load(Ordering::Relaxed) != NO_NODE).count() as u32;
        min = min.min(d);
        max = max.max(d);
        sum += d as u64;
    }
    if live > 0 {
        st.l0_degree_min = min;
        st.l0_degree_max = max;
        st.l0_degree_mean = sum as f64 / live as f64;
    }
    st
}

/// Bytes allocated to each arena (whole chunks, used or not).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ArenaBytes {
    /// int8 rows: codes and their 8 bytes of row metadata.
    pub int8: u64,
    /// f32 rows (rerank vectors).
    pub f32: u64,
    /// Layer-0 lists, node info (TID, level, upper slot) and upper-layer lists.
    pub graph: u64,
    /// The whole file, header and padding included.
    pub file: u64,
}

pub fn arena_bytes(sc: &Sidecar) -> ArenaBytes {
    let g = sc.geometry();
    let st = sc.state();
    let mut a = ArenaBytes { file: st.file_len, ..Default::default() };
    for k in 0..st.node_chunks as usize {
        let n = g.node_chunks.size(k);
        a.int8 += n * g.i8_stride as u64;
        a.f32 += n * g.f32_stride as u64;
        a.graph += n * (g.l0_stride + crate::sidecar::format::INFO_SIZE) as u64;
    }
    for k in 0..st.upper_chunks as usize {
        a.graph += g.upper_chunk_bytes(g.upper_chunks.size(k) as usize) as u64;
    }
    a
}

/// `region` widened to whole pages (madvise and mincore want a page-aligned start).
fn page_span(r: &Region) -> (*mut libc::c_void, usize) {
    let start = r.ptr as usize & !(PAGE - 1);
    let end = (r.ptr as usize + r.len).div_ceil(PAGE) * PAGE;
    (start as *mut libc::c_void, end - start)
}

/// Bytes of the page cache holding this handle's mapped regions (mincore), split into what
/// traversal reads (int8 rows, graph) and the f32 rerank rows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Residency {
    pub traversal: u64,
    pub vectors: u64,
}

pub fn residency(sc: &Sidecar) -> Residency {
    let mut r = Residency::default();
    for reg in sc.regions() {
        let b = resident(&reg);
        match reg.kind {
            RegionKind::Vectors => r.vectors += b,
            RegionKind::Traversal | RegionKind::Upper => r.traversal += b,
        }
    }
    r
}

fn resident(r: &Region) -> u64 {
    if r.len == 0 {
        return 0;
    }
    let (start, len) = page_span(r);
    let mut v = vec![0u8; len / PAGE];
    // SAFETY: [start, start+len) lies within one mapping (chunks are page-aligned and their
    // lengths page multiples); mincore writes len/PAGE bytes into v.
    if unsafe { libc::mincore(start, len, v.as_mut_ptr()) } != 0 {
        return 0;
    }
    // Count only the region's own bytes of its first and last page.
    let first = r.ptr as usize;
    let end = first + r.len;
    v.iter()
        .enumerate()
        .filter(|(_, &b)| b & 1 == 1)
        .map(|(i, _)| {
            let p0 = start as usize + i * PAGE;
            (end.min(p0 + PAGE) - first.max(p0)) as u64
        })
        .sum()
}

/// Pulls the traversal regions (int8 rows, layer-0 lists, node info, upper lists) — and the
/// f32 rows when `with_vectors` — into the page cache: `MADV_WILLNEED` starts readahead for
/// every region, `MADV_HUGEPAGE` is requested for the traversal regions where the kernel
/// supports it for this mapping (errors ignored), then one byte of every page is read so the
/// pages are resident when this returns. The f32 rows are mapped MADV_RANDOM (one page per
/// fault), so they are advised MADV_SEQUENTIAL while being read here and MADV_RANDOM again
/// after: page by page, 1.5 GiB took 41 s. Returns the bytes covered. `tick` runs every 16 MiB.
pub fn prewarm(sc: &Sidecar, with_vectors: bool, mut tick: impl FnMut()) -> u64 {
    let regions: Vec<Region> = sc.regions().into_iter().filter(|r| with_vectors || r.kind != RegionKind::Vectors).collect();
    let advise = |r: &Region, advice| {
        let (start, len) = page_span(r);
        // SAFETY: advisory call on our own mapping; failure only means "no advice taken".
        unsafe { libc::madvise(start, len, advice) };
    };
    for r in &regions {
        advise(r, libc::MADV_WILLNEED);
        advise(r, if r.kind == RegionKind::Vectors { libc::MADV_SEQUENTIAL } else { libc::MADV_HUGEPAGE });
    }
    let mut bytes = 0u64;
    let mut since_tick = 0usize;
    for r in &regions {
        let mut off = 0usize;
        while off < r.len {
            // SAFETY: off < len keeps the read inside the region; volatile because other
            // processes may write these bytes.
            unsafe { std::ptr::read_volatile(r.ptr.add(off)) };
            let step = if off == 0 { PAGE - (r.ptr as usize % PAGE) } else { PAGE };
            off += step;
            since_tick += PAGE;
            if since_tick >= 16 << 20 {
                since_tick = 0;
                tick();
            }
        }
        bytes += r.len as u64;
    }
    for r in regions.iter().filter(|r| r.kind == RegionKind::Vectors) {
        advise(r, libc::MADV_RANDOM);
    }
    bytes
}

/// Mean relative error of int8 distances: Σ|d₈ − d| / Σ|d| over `pairs` pseudo-random pairs
/// of live nodes (d₈ the int8 estimate traversal uses, d the exact f32 distance). None when
/// the index has fewer than two live nodes.
pub fn quantization_error(sc: &Sidecar, pairs: usize, seed: u64) -> Option<f64> {
    let q = sc.quantizer()?;
    let n = sc.node_count();
    if n < 2 {
        return None;
    }
    let metric = sc.metric();
    let mut rng = SplitMix(seed);
    let (mut err, mut mag, mut got) = (0f64, 0f64, 0usize);
    for _ in 0..pairs * 4 {
        if got == pairs {
            break;
        }
        let a = rng.below(n as u64) as u32;
        let b = rng.below(n as u64) as u32;
        if a == b || sc.is_deleted(a) || sc.is_deleted(b) {
            continue;
        }
        let exact = metric.distance(sc.vector(a), sc.vector(b)) as f64;
        let est = q.distance(metric, sc.codes(a), sc.row_meta(a), sc.codes(b), sc.row_meta(b)) as f64;
        err += (est - exact).abs();
        mag += exact.abs();
        got += 1;
    }
    if got == 0 {
        return None;
    }
    Some(if mag > 0.0 { err / mag } else { 0.0 })
}

/// Fraction of the coordinates of up to `rows` sampled live nodes that fall outside the
/// quantizer's range and clamp to ±127. `Quantizer::fit` places 0.01% of its sample there; a
/// much larger fraction means the data moved after the fit (an index created on an empty or
/// unrepresentative table) and the int8 walk can no longer tell those rows apart.
pub fn clamped_fraction(sc: &Sidecar, rows: usize, seed: u64) -> Option<f64> {
    let q = sc.quantizer()?;
    let n = sc.node_count();
    if n == 0 {
        return None;
    }
    let mut rng = SplitMix(seed);
    let (mut clamped, mut total) = (0u64, 0u64);
    for _ in 0..rows.min(n as usize) * 2 {
        if total >= rows as u64 * q.dims() as u64 {
            break;
        }
        let id = rng.below(n as u64) as u32;
        if sc.is_deleted(id) {
            continue;
        }
        clamped += q.clamped(sc.vector(id)) as u64;
        total += q.dims() as u64;
    }
    (total > 0).then(|| clamped as f64 / total as f64)
}

/// splitmix64: small, seedable, good enough for sampling.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{build, clustered};
    use crate::Metric;

    #[test]
    fn graph_stats_count_every_node_and_bound_degrees() {
        let dir = tempfile::tempdir().unwrap();
        let data = clustered(3000, 16, 8, 1);
        let sc = build(&dir.path().join("g.vmap"), &data, 16, Metric::L2, 8, 32);
        let g = graph_stats(&sc, || {});
        assert_eq!(g.nodes_per_layer[0], 3000);
        for id in 0..100 {
            sc.set_deleted(id);
        }
        assert_eq!(graph_stats(&sc, || {}).nodes_per_layer[0], 2900, "deleted nodes are not counted");
        assert!(g.nodes_per_layer.windows(2).all(|w| w[0] >= w[1]));
        assert_eq!(g.nodes_per_layer.len(), sc.state().max_level as usize + 1);
        assert!(*g.nodes_per_layer.last().unwrap() >= 1);
        assert!(g.l0_degree_min >= 1 && g.l0_degree_max <= 16, "{g:?}");
        assert!(g.l0_degree_mean > 4.0 && g.l0_degree_mean <= 16.0, "{g:?}");
    }

    #[test]
    fn arena_bytes_cover_rows_and_fit_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let data = clustered(1000, 48, 4, 2);
        let sc = build(&dir.path().join("a.vmap"), &data, 48, Metric::Cosine, 16, 64);
        let a = arena_bytes(&sc);
        let g = sc.geometry();
        assert!(a.int8 >= 1000 * g.i8_stride as u64);
        assert!(a.f32 >= 1000 * 48 * 4);
        assert!(a.graph >= 1000 * g.l0_stride as u64);
        assert!(a.int8 + a.f32 + a.graph <= a.file);
    }

    #[test]
    fn prewarm_makes_the_traversal_regions_resident() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.vmap");
        let data = clustered(4000, 64, 8, 3);
        let sc = build(&path, &data, 64, Metric::L2, 16, 64);
        sc.sync().unwrap();
        let id = crate::sidecar::Identity { build_id: 42, dims: 64, metric: Metric::L2, m: 16, ef_construction: 64 };
        drop(sc);
        // Evict the file (no mapping holds it now), then open it again without touching rows.
        let f = std::fs::File::open(&path).unwrap();
        // SAFETY: plain syscall on an fd we own.
        unsafe { libc::posix_fadvise(std::os::unix::io::AsRawFd::as_raw_fd(&f), 0, 0, libc::POSIX_FADV_DONTNEED) };
        let sc = Sidecar::open(&path, id).unwrap();
        let before = residency(&sc);
        let traversal: u64 = sc.regions().iter().filter(|r| r.kind != RegionKind::Vectors).map(|r| r.len as u64).sum();
        let bytes = prewarm(&sc, false, || {});
        assert_eq!(bytes, traversal);
        let after = residency(&sc);
        eprintln!("residency before {before:?}, after {after:?}, traversal {traversal}");
        assert_eq!(after.traversal, traversal, "every traversal byte resident (before: {before:?})");
        let all = prewarm(&sc, true, || {});
        assert!(all > bytes);
        assert!(residency(&sc).vectors > 0);
    }

    #[test]
    fn quantization_error_is_small_and_positive() {
        let dir = tempfile::tempdir().unwrap();
        let data = clustered(2000, 32, 8, 4);
        for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
            let sc = build(&dir.path().join(format!("q{metric:?}.vmap")), &data, 32, metric, 8, 32);
            let e = quantization_error(&sc, 1000, 7).unwrap();
            assert!(e > 0.0 && e < 0.05, "{metric:?}: {e}");
            assert_eq!(quantization_error(&sc, 1000, 7), Some(e), "deterministic for a seed");
        }
    }

    #[test]
    fn clamped_fraction_sees_data_outside_the_fit() {
        let dir = tempfile::tempdir().unwrap();
        let data = clustered(2000, 32, 8, 4);
        let sc = build(&dir.path().join("c.vmap"), &data, 32, Metric::L2, 8, 32);
        let fitted = clamped_fraction(&sc, 1000, 3).unwrap();
        assert!(fitted < 0.001, "fitted on its own rows: {fitted}");
        // The same rows under a quantizer fitted on a tenth of their spread.
        let narrow: Vec<f32> = data.iter().map(|x| x * 0.1).collect();
        let mut sc2 = build(&dir.path().join("n.vmap"), &data, 32, Metric::L2, 8, 32);
        sc2.set_quantizer(crate::quant::Quantizer::fit(&narrow, 32));
        let moved = clamped_fraction(&sc2, 1000, 3).unwrap();
        assert!(moved > 0.1, "data 10x wider than the fit: {moved}");
    }

    #[test]
    fn splitmix_below_stays_in_range() {
        let mut r = SplitMix(9);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let v = r.below(7);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
