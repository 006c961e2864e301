//! k-NN search: greedy descent through the upper layers, a beam of `ef` at layer 0
//! (Algorithms 2 and 5 of the paper), exact f32 rerank, and continuation for scans that
//! need more rows than one beam holds (filtered queries).
use super::visited::Visited;
use super::Cand;
use crate::kernels;
use crate::quant::RowMeta;
use crate::sidecar::{Sidecar, NO_NODE};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;

/// How many rows ahead of the distance loop the rest of a row is prefetched. Measured on
/// 100k × 384 MiniLM (examples/walk.rs, ef 30): none 126–135 µs/query, 1 ahead 98–100,
/// 2 ahead 93–98, 3 ahead 93–100.
pub(super) const ROW_PREFETCH_AHEAD: usize = 2;

#[derive(Clone, Copy, Debug)]
pub struct SearchParams {
    /// Beam width at layer 0 (`vecmap.ef_search`).
    pub ef: usize,
}

/// Reusable buffers; keep one per backend so searches allocate nothing after warm-up.
#[derive(Default)]
pub struct Scratch {
    pub visited: Visited,
    cand: BinaryHeap<Reverse<Cand>>,
    res: BinaryHeap<Cand>,
    pool: BinaryHeap<Reverse<Cand>>,
    qcodes: Vec<i8>,
    qvec: Vec<f32>,
    fresh: Vec<u32>,
    batch: Vec<Cand>,
}

/// Counters for EXPLAIN and stats.
#[derive(Clone, Copy, Debug, Default)]
pub struct SearchStats {
    pub visited: u64,
    pub distances: u64,
    pub reranked: u64,
    pub batches: u64,
}

/// One query's search over a sidecar snapshot of `limit` nodes; resumable batch by batch.
pub struct Searcher {
    qmeta: RowMeta,
    limit: u32,
    started: bool,
    exhausted: bool,
    swept: bool,
    pub stats: SearchStats,
}

impl Searcher {
    /// Prepares a search for the prepared query `q` (already normalized for cosine).
    /// Returns None when the sidecar has no quantizer or no nodes.
    pub fn new(sc: &Sidecar, q: &[f32], scratch: &mut Scratch) -> Option<Searcher> {
        let quant = sc.quantizer()?;
        let limit = sc.node_count();
        if limit == 0 {
            return None;
        }
        scratch.qcodes.clear();
        scratch.qcodes.resize(sc.geometry().codes, 0);
        let qmeta = quant.encode(q, &mut scratch.qcodes);
        scratch.qvec.clear();
        scratch.qvec.extend_from_slice(q);
        scratch.visited.begin(limit as usize);
        scratch.cand.clear();
        scratch.res.clear();
        scratch.pool.clear();
        Some(Searcher { qmeta, limit, started: false, exhausted: false, swept: false, stats: SearchStats::default() })
    }

    #[inline]
    fn dist(&mut self, sc: &Sidecar, s: &Scratch, id: u32) -> f32 {
        self.stats.distances += 1;
        let (codes, meta) = sc.code_row(id);
        // Searcher::new returned Some only with a quantizer present.
        let q = sc.quantizer().unwrap();
        q.distance_from_ip(sc.metric(), kernels::dot_i8(&s.qcodes, codes), self.qmeta, meta)
    }

    /// Live-node ids of `id`'s list at `level` that are below the snapshot limit.
    #[inline]
    fn collect(&self, sc: &Sidecar, id: u32, level: u32, out: &mut Vec<u32>) {
        out.clear();
        for w in sc.neighbours(id, level) {
            let n = w.load(Ordering::Relaxed);
            if n == NO_NODE {
                break;
            }
            if n < self.limit {
                out.push(n);
            }
        }
    }

    fn descend(&mut self, sc: &Sidecar, s: &mut Scratch) -> Cand {
        let st = sc.state();
        let mut ep = st.entry_point;
        if ep >= self.limit {
            ep = 0;
        }
        let mut cur = Cand { d: self.dist(sc, s, ep), id: ep };
        let mut ids = std::mem::take(&mut s.fresh);
        for level in (1..=st.max_level).rev() {
            loop {
                let mut moved = false;
                self.collect(sc, cur.id, level, &mut ids);
                for &n in &ids {
                    let d = self.dist(sc, s, n);
                    if d < cur.d {
                        cur = Cand { d, id: n };
                        moved = true;
                    }
                }
                if !moved {
                    break;
                }
            }
        }
        s.fresh = ids;
        cur
    }

    /// Expands candidates until the best `ef` unreturned nodes are settled.
    fn run_layer0(&mut self, sc: &Sidecar, s: &mut Scratch, ef: usize) {
        let mut ids = std::mem::take(&mut s.fresh);
        while let Some(&Reverse(c)) = s.cand.peek() {
            if s.res.len() >= ef && c.d > s.res.peek().unwrap().d {
                break;
            }
            s.cand.pop();
            self.stats.visited += 1;
            // The next candidate's list is likely needed next: start loading it now.
            if let Some(&Reverse(next)) = s.cand.peek() {
                sc.prefetch_neighbours(next.id);
            }
            ids.clear();
            for w in sc.neighbours(c.id, 0) {
                let n = w.load(Ordering::Relaxed);
                if n == NO_NODE {
                    break;
                }
                if n < self.limit && s.visited.insert(n) {
                    ids.push(n);
                }
            }
            for &n in &ids {
                sc.prefetch_codes(n);
            }
            for (j, &n) in ids.iter().enumerate() {
                if let Some(&nx) = ids.get(j + ROW_PREFETCH_AHEAD) {
                    sc.prefetch_row_rest(nx);
                }
                let d = self.dist(sc, s, n);
                let nc = Cand { d, id: n };
                if s.res.len() < ef || d < s.res.peek().unwrap().d {
                    s.res.push(nc);
                    s.cand.push(Reverse(nc));
                    if s.res.len() > ef {
                        let out = s.res.pop().unwrap();
                        s.pool.push(Reverse(out));
                    }
                } else {
                    s.pool.push(Reverse(nc));
                }
            }
        }
        s.fresh = ids;
    }

    /// Returns the next batch of up to `ef` nodes not returned before, reranked by exact f32
    /// distance (ascending), deleted nodes removed. An empty batch means the graph is exhausted.
    pub fn next_batch<'s>(&mut self, sc: &Sidecar, s: &'s mut Scratch, p: SearchParams) -> &'s [Cand] {
        let ef = p.ef.max(1);
        s.batch.clear();
        while s.batch.is_empty() && !self.exhausted {
            self.fill_batch(sc, s, ef);
        }
        &s.batch
    }

    fn fill_batch(&mut self, sc: &Sidecar, s: &mut Scratch, ef: usize) {
        self.stats.batches += 1;
        if !self.started {
            self.started = true;
            let ep = self.descend(sc, s);
            s.visited.insert(ep.id);
            s.res.push(ep);
            s.cand.push(Reverse(ep));
        } else {
            // Continue: the best scored-but-unreturned nodes form the new beam.
            while s.res.len() < ef {
                match s.pool.pop() {
                    Some(Reverse(c)) => {
                        s.res.push(c);
                        s.cand.push(Reverse(c));
                    }
                    None => break,
                }
            }
        }
        self.run_layer0(sc, s, ef);
        // The walk ran out of candidates before the beam was full: everything it can reach is
        // scored, so score the nodes it cannot (HNSW may leave some without an in-link) into
        // this batch too. A graph smaller than ef is then searched exactly.
        if s.res.len() < ef && s.cand.is_empty() && s.pool.is_empty() && self.sweep(sc, s) {
            while s.res.len() < ef {
                match s.pool.pop() {
                    Some(Reverse(c)) => s.res.push(c),
                    None => break,
                }
            }
        }
        if s.res.is_empty() {
            if self.sweep(sc, s) {
                return;
            }
            self.exhausted = true;
            return;
        }
        // Rerank in f32. Info records are cold (the walk never reads them): request them all
        // before the first deleted-flag check. (Prefetching f32 rows one ahead measured no gain.)
        s.batch.extend(s.res.drain());
        for c in &s.batch {
            sc.prefetch_info(c.id);
        }
        s.batch.retain(|c| !sc.is_deleted(c.id));
        let metric = sc.metric();
        for c in s.batch.iter_mut() {
            c.d = metric.distance(&s.qvec, sc.vector(c.id));
        }
        self.stats.reranked += s.batch.len() as u64;
        s.batch.sort_unstable();
        if s.cand.is_empty() && s.pool.is_empty() && !self.sweep(sc, s) {
            self.exhausted = true;
        }
    }

    /// Once the reachable graph is used up, scores every node the traversal never reached
    /// (HNSW can leave a few nodes without in-links) so a scan can return every row.
    /// Returns true when it queued any.
    fn sweep(&mut self, sc: &Sidecar, s: &mut Scratch) -> bool {
        if self.swept {
            return false;
        }
        self.swept = true;
        let before = s.pool.len();
        for id in 0..self.limit {
            if s.visited.insert(id) {
                let d = self.dist(sc, s, id);
                s.pool.push(Reverse(Cand { d, id }));
            }
        }
        s.pool.len() > before
    }

    pub fn is_exhausted(&self) -> bool {
        self.exhausted
    }
}
