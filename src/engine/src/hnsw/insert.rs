//! Graph construction: insert nodes (Algorithm 1) with the neighbour-selection heuristic
//! (Algorithm 4, as in hnswlib), in parallel with per-node locks.
use super::visited::Visited;
use super::{node_level, Cand};
use crate::error::{Error, Result};
use crate::sidecar::{Sidecar, NO_NODE};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

const LOCK_STRIPES: usize = 4096;

/// Links nodes into the graph. Shared by all build threads of one writer process.
pub struct Inserter<'a> {
    sc: &'a Sidecar,
    ef_construction: usize,
    /// Nodes below this id have their codes written and may be linked to.
    limit: u32,
    locks: Vec<Mutex<()>>,
    top: Mutex<(u32, u32)>,
    grow: Mutex<()>,
}

#[derive(Default)]
pub struct InsertScratch {
    visited: Visited,
    cand: BinaryHeap<Reverse<Cand>>,
    res: BinaryHeap<Cand>,
    ids: Vec<u32>,
    sel: Vec<Cand>,
    tmp: Vec<Cand>,
}

impl<'a> Inserter<'a> {
    pub fn new(sc: &'a Sidecar, ef_construction: usize, limit: u32) -> Inserter<'a> {
        let st = sc.state();
        let top = if st.node_count == 0 { (NO_NODE, 0) } else { (st.entry_point, st.max_level) };
        Inserter {
            sc,
            ef_construction,
            limit,
            locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            top: Mutex::new(top),
            grow: Mutex::new(()),
        }
    }

    /// (entry point, max level) after the inserts so far.
    pub fn top(&self) -> (u32, u32) {
        *self.top.lock().unwrap()
    }

    #[inline]
    fn pair(&self, a: u32, b: u32) -> f32 {
        let q = self.sc.quantizer().unwrap();
        let ((ca, ma), (cb, mb)) = (self.sc.code_row(a), self.sc.code_row(b));
        q.distance(self.sc.metric(), ca, ma, cb, mb)
    }

    fn read_list(&self, id: u32, level: u32, out: &mut Vec<u32>) {
        out.clear();
        for w in self.sc.neighbours(id, level) {
            let n = w.load(Ordering::Relaxed);
            if n == NO_NODE {
                break;
            }
            if n < self.limit {
                out.push(n);
            }
        }
    }

    fn write_list(&self, id: u32, level: u32, sel: &[Cand]) {
        let words = self.sc.neighbours(id, level);
        for (i, w) in words.iter().enumerate() {
            w.store(sel.get(i).map_or(NO_NODE, |c| c.id), Ordering::Relaxed);
        }
    }

    /// Algorithm 2: beam search at one layer from the entry set already in `s.res`/`s.cand`.
    fn search_layer(&self, q: u32, level: u32, ef: usize, s: &mut InsertScratch) {
        while let Some(&Reverse(c)) = s.cand.peek() {
            if s.res.len() >= ef && c.d > s.res.peek().unwrap().d {
                break;
            }
            s.cand.pop();
            let mut ids = std::mem::take(&mut s.ids);
            self.read_list(c.id, level, &mut ids);
            ids.retain(|&n| n != q && s.visited.insert(n));
            for &n in &ids {
                self.sc.prefetch_codes(n);
            }
            for (j, &n) in ids.iter().enumerate() {
                if let Some(&nx) = ids.get(j + super::search::ROW_PREFETCH_AHEAD) {
                    self.sc.prefetch_row_rest(nx);
                }
                let d = self.pair(q, n);
                if s.res.len() < ef || d < s.res.peek().unwrap().d {
                    s.res.push(Cand { d, id: n });
                    s.cand.push(Reverse(Cand { d, id: n }));
                    if s.res.len() > ef {
                        s.res.pop();
                    }
                }
            }
            s.ids = ids;
        }
    }

    /// Algorithm 4 (hnswlib's variant): keep a candidate only if it is closer to the base
    /// than to every neighbour already kept. `cands` must be sorted ascending.
    fn select(&self, cands: &[Cand], m: usize, out: &mut Vec<Cand>) {
        out.clear();
        for &c in cands {
            if out.len() >= m {
                break;
            }
            if out.iter().all(|r| self.pair(c.id, r.id) >= c.d) {
                out.push(c);
            }
        }
    }

    /// Adds `new` to `n`'s list at `level`, pruning with the heuristic when full.
    fn add_link(&self, n: u32, new: u32, d: f32, level: u32, s: &mut InsertScratch) {
        let cap = if level == 0 { self.sc.geometry().m0 } else { self.sc.geometry().m };
        let _g = self.locks[n as usize % LOCK_STRIPES].lock().unwrap();
        let words = self.sc.neighbours(n, level);
        if words.is_empty() {
            return;
        }
        let mut ids = std::mem::take(&mut s.ids);
        self.read_list(n, level, &mut ids);
        if ids.contains(&new) {
            s.ids = ids;
            return;
        }
        if ids.len() < cap {
            words[ids.len()].store(new, Ordering::Release);
        } else {
            s.tmp.clear();
            s.tmp.push(Cand { d, id: new });
            for &o in &ids {
                s.tmp.push(Cand { d: self.pair(n, o), id: o });
            }
            s.tmp.sort_unstable();
            let tmp = std::mem::take(&mut s.tmp);
            let mut sel = std::mem::take(&mut s.sel);
            self.select(&tmp, cap, &mut sel);
            self.write_list(n, level, &sel);
            s.tmp = tmp;
            s.sel = sel;
        }
        s.ids = ids;
    }

    /// Inserts node `id` (codes and info already written) into the graph.
    pub fn link(&self, id: u32, s: &mut InsertScratch) {
        let level = self.sc.info(id).level as u32;
        {
            let mut t = self.top.lock().unwrap();
            if t.0 == NO_NODE {
                *t = (id, level);
                return;
            }
        }
        let (_, max_level) = self.top();
        let _grow = if level > max_level { Some(self.grow.lock().unwrap()) } else { None };
        let (ep, max_level) = self.top();
        let mut cur = Cand { d: self.pair(id, ep), id: ep };
        let mut ids = Vec::new();
        for lc in (level + 1..=max_level).rev() {
            loop {
                let mut moved = false;
                self.read_list(cur.id, lc, &mut ids);
                for &n in &ids {
                    let d = self.pair(id, n);
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
        s.visited.begin(self.limit as usize);
        s.visited.insert(id);
        s.visited.insert(cur.id);
        s.res.clear();
        s.cand.clear();
        s.res.push(cur);
        s.cand.push(Reverse(cur));
        let g = self.sc.geometry();
        for lc in (0..=level.min(max_level)).rev() {
            self.search_layer(id, lc, self.ef_construction, s);
            let mut w: Vec<Cand> = s.res.iter().copied().collect();
            w.sort_unstable();
            let m = if lc == 0 { g.m0 } else { g.m };
            let mut sel = std::mem::take(&mut s.sel);
            self.select(&w, m, &mut sel);
            {
                let _g = self.locks[id as usize % LOCK_STRIPES].lock().unwrap();
                self.write_list(id, lc, &sel);
            }
            let chosen: Vec<Cand> = sel.clone();
            s.sel = sel;
            for c in chosen {
                self.add_link(c.id, id, c.d, lc, s);
            }
            // The whole beam seeds the next layer down.
            s.cand.clear();
            for &c in &w {
                s.cand.push(Reverse(c));
            }
        }
        if level > max_level {
            *self.top.lock().unwrap() = (id, level);
        }
    }
}

/// Turns the written vectors of nodes `first..end` into graph nodes: assigns levels and
/// upper slots, encodes codes, links them (in `pool` when given), and updates the pending
/// state (node_count, entry point, max level). The caller publishes.
pub fn add_nodes(sc: &mut Sidecar, first: u32, end: u32, pool: Option<&rayon::ThreadPool>, progress: &AtomicU64, cancel: &AtomicBool) -> Result<()> {
    add_nodes_except(sc, first, end, pool, progress, cancel, &|_| false)
}

/// As [`add_nodes`], but nodes for which `skip` is true get their rows and info written and
/// are never linked: dead rows a rebuild should not route through.
pub fn add_nodes_except(sc: &mut Sidecar, first: u32, end: u32, pool: Option<&rayon::ThreadPool>, progress: &AtomicU64, cancel: &AtomicBool, skip: &(dyn Fn(u32) -> bool + Sync)) -> Result<()> {
    assert!(first as u64 == sc.state().node_count && end >= first);
    if end == first {
        return Ok(());
    }
    let build_id = sc.params().build_id;
    let m = sc.geometry().m;
    let mut levels = Vec::with_capacity((end - first) as usize);
    let mut slot = sc.state().upper_count;
    for id in first..end {
        let l = node_level(build_id, id, m);
        levels.push((l, slot as u32));
        slot += l as u64;
    }
    sc.reserve(end as u64, slot)?;
    sc.state_mut().upper_count = slot;
    let ef = sc.params().ef_construction as usize;
    let scr: &Sidecar = sc;
    let run = || -> Result<(u32, u32)> {
        (first..end).into_par_iter().for_each(|id| {
            let (l, s) = levels[(id - first) as usize];
            scr.finish_node(id, l, s);
        });
        let ins = Inserter::new(scr, ef, end);
        // The first live node of an empty graph becomes the entry point before the others search.
        let seed = if ins.top().0 == NO_NODE { (first..end).find(|&id| !skip(id)) } else { None };
        if let Some(id) = seed {
            ins.link(id, &mut InsertScratch::default());
        }
        (first..end).into_par_iter().try_for_each_init(InsertScratch::default, |s, id| {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            if Some(id) != seed && !skip(id) {
                ins.link(id, s);
            }
            progress.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })?;
        // A graph of dead rows only still needs an entry point in range.
        let (ep, ml) = ins.top();
        Ok(if ep == NO_NODE { (first, 0) } else { (ep, ml) })
    };
    let (ep, ml) = match pool {
        Some(p) => p.install(run)?,
        None => run()?,
    };
    let st = sc.state_mut();
    st.node_count = end as u64;
    st.entry_point = ep;
    st.max_level = ml;
    Ok(())
}

