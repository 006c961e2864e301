//! Graph construction: insert nodes (Algorithm 1) with the neighbour-selection heuristic
//! (Algorithm 4, as in hnswlib), in parallel with per-node locks, then a repair pass that gives
//! every node an in-link at layer 0 (the heuristic can prune a node out of every list that
//! pointed to it, and then no search reaches it).
use super::visited::Visited;
use super::{node_level, Cand};
use crate::error::{Error, Result};
use crate::sidecar::{Sidecar, NO_NODE};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

const LOCK_STRIPES: usize = 4096;
/// Graphs up to this many nodes get the exact reachability check after every batch
/// (a walk over all layer-0 lists: ~2M words, a few ms); larger ones after a full build and at
/// VACUUM (`repair_graph`).
pub const REACH_CHECK_NODES: usize = 65_536;
/// Most walks of one repair (see `repair_reach`).
const REPAIR_ROUNDS: usize = 16;
/// `repair_reach` may replace list entries only while at most one node in this many is unreached.
const REPLACE_ONE_IN: usize = 100;

/// Links nodes into the graph. Shared by all build threads of one writer process.
pub struct Inserter<'a> {
    sc: &'a Sidecar,
    ef_construction: usize,
    /// Nodes below this id have their codes written and may be linked to.
    limit: u32,
    locks: Vec<Mutex<()>>,
    top: Mutex<(u32, u32)>,
    grow: Mutex<()>,
    /// Nodes pruned out of a layer-0 list during this batch (they may have lost their last
    /// in-link), collected only when `track_dropped`: batches too large for the reachability walk.
    dropped: Mutex<Vec<u32>>,
    track_dropped: bool,
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
            dropped: Mutex::new(Vec::new()),
            track_dropped: st.node_count > 0 && limit as usize > REACH_CHECK_NODES,
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
            if level == 0 && self.track_dropped {
                let mut d = self.dropped.lock().unwrap();
                d.extend(tmp.iter().filter(|c| !sel.iter().any(|k| k.id == c.id)).map(|c| c.id));
            }
            s.tmp = tmp;
            s.sel = sel;
        }
        s.ids = ids;
    }

    /// Greedy search for `id`'s nearest node at each of `levels` (descending), from `cur`.
    fn descend(&self, id: u32, mut cur: Cand, levels: impl Iterator<Item = u32>) -> Cand {
        let mut ids = Vec::new();
        for lc in levels {
            loop {
                let mut moved = false;
                self.read_list(cur.id, lc, &mut ids);
                for &n in ids.iter().filter(|&&n| n != id) {
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
        cur
    }

    /// Starts a beam search for `id` from `cur`.
    fn seed_beam(&self, id: u32, cur: Cand, s: &mut InsertScratch) {
        s.visited.begin(self.limit as usize);
        s.visited.insert(id);
        s.visited.insert(cur.id);
        s.res.clear();
        s.cand.clear();
        s.res.push(cur);
        s.cand.push(Reverse(cur));
    }

    /// Inserts node `id` (codes and info already written) into the graph; again for a linked
    /// node, replacing its lists (it never links to itself).
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
        let cur = self.descend(id, Cand { d: self.pair(id, ep), id: ep }, (level + 1..=max_level).rev());
        self.seed_beam(id, cur, s);
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

impl Inserter<'_> {
    /// The linked nodes of `first..end` (not the entry point) to link again after their batch
    /// (see `add_nodes`): those with a layer-0 out-degree below M/2, or below half the batch's
    /// mean where the data keeps lists shorter than that (low intrinsic dimension: short lists
    /// are the norm there, and relinking every node rewired 3,000 points on a line, m = 100,
    /// into a graph that lost rows). Measured on 4,000 binary-quantized MiniLM rows (Hamming,
    /// ef 100, 20 builds): 51 rows of 80,000 not found by their own code without it, 2 at M/4,
    /// 0 at M/2; on 100k × 384 MiniLM it relinks 5.8% of the nodes at no measurable build-time
    /// or recall cost.
    fn short_lists(&self, first: u32, end: u32, skip: &(dyn Fn(u32) -> bool + Sync)) -> Vec<u32> {
        let (ep, _) = self.top();
        let linked: Vec<(u32, usize)> = (first..end).filter(|&id| id != ep && !skip(id)).map(|id| (id, self.out_degree(id))).collect();
        let mean = linked.iter().map(|&(_, d)| d).sum::<usize>() as f64 / linked.len().max(1) as f64;
        let min_out = ((self.sc.geometry().m / 2).max(1) as f64).min(mean / 2.0);
        linked.into_iter().filter(|&(_, d)| (d as f64) < min_out).map(|(id, _)| id).collect()
    }

    /// `ids` as candidates of `u`, nearest first.
    fn by_distance(&self, u: u32, ids: impl Iterator<Item = u32>) -> Vec<Cand> {
        let mut v: Vec<Cand> = ids.map(|o| Cand { d: self.pair(u, o), id: o }).collect();
        v.sort_unstable();
        v
    }

    fn out_degree(&self, id: u32) -> usize {
        self.sc.neighbours(id, 0).iter().take_while(|w| w.load(Ordering::Relaxed) != NO_NODE).count()
    }

    /// True when one of `d`'s layer-0 neighbours links back to it.
    fn linked_back(&self, d: u32, outs: &[u32], tmp: &mut Vec<u32>) -> bool {
        outs.iter().any(|&o| {
            self.read_list(o, 0, tmp);
            tmp.contains(&d)
        })
    }

    /// Makes the linked nodes of `0..end` reachable from the entry point at layer 0: an unreached
    /// node is added to the list of its nearest reached neighbour (see `link_into`; replacing an
    /// entry only when at most 1% of the nodes are unreached). A node whose neighbours are all
    /// unreached waits for a later round; rounds repeat while they add links, at most
    /// `REPAIR_ROUNDS`. Returns the links added.
    /// Single-threaded; concurrent readers see each list word change atomically.
    fn repair_reach(&self, end: u32, skip: &(dyn Fn(u32) -> bool + Sync)) -> u64 {
        let (ep, _) = self.top();
        if ep == NO_NODE || ep >= end {
            return 0;
        }
        let (mut stack, mut outs) = (Vec::new(), Vec::new());
        let mut added = 0;
        let mut replace = None;
        let mut replaced = HashSet::new();
        for _round in 0..REPAIR_ROUNDS {
            let before = added;
            let mut seen = vec![false; end as usize];
            mark_reachable(self.sc, ep, &mut seen, &mut stack);
            let unreached: Vec<u32> = (0..end).filter(|&id| !seen[id as usize] && !skip(id)).collect();
            if unreached.is_empty() {
                break;
            }
            // A few unreached nodes are pruning accidents, worth a slot in a full list; many are
            // the data's hubness, and filling the hubs' lists with them would cut the graph up.
            let replace = *replace.get_or_insert(unreached.len() * REPLACE_ONE_IN <= end as usize);
            for u in unreached {
                if seen[u as usize] {
                    continue;
                }
                self.read_list(u, 0, &mut outs);
                let near = self.by_distance(u, outs.iter().copied().filter(|&o| seen[o as usize]));
                if near.is_empty() {
                    continue; // reached later through another repaired node, or in the next round
                }
                if self.link_into(u, &near, replace, &mut replaced) {
                    added += 1;
                    mark_reachable(self.sc, u, &mut seen, &mut stack);
                }
            }
            if added == before {
                break;
            }
        }
        added
    }

    /// Adds `u` to the first list of `near` (ascending distance from `u`) with room. With
    /// `replace`, when every list is full, `u` takes the slot of the entry farthest from a list's
    /// owner among those another of their own neighbours links back to (so they keep an in-link),
    /// in the nearest list not yet changed this way (`replaced`). Returns false when not linked.
    fn link_into(&self, u: u32, near: &[Cand], replace: bool, replaced: &mut HashSet<u32>) -> bool {
        let (mut tmp, mut outs, mut back) = (Vec::new(), Vec::new(), Vec::new());
        for c in near {
            self.read_list(c.id, 0, &mut tmp);
            let words = self.sc.neighbours(c.id, 0);
            if tmp.len() < words.len() {
                words[tmp.len()].store(u, Ordering::Release);
                return true;
            }
        }
        if !replace {
            return false;
        }
        for c in near.iter().filter(|c| !replaced.contains(&c.id)) {
            self.read_list(c.id, 0, &mut tmp);
            let mut order: Vec<Cand> = tmp.iter().enumerate().map(|(j, &e)| Cand { d: self.pair(c.id, e), id: j as u32 }).collect();
            order.sort_unstable_by(|a, b| b.cmp(a));
            for slot in order {
                let e = tmp[slot.id as usize];
                self.read_list(e, 0, &mut outs);
                outs.retain(|&o| o != c.id);
                if self.linked_back(e, &outs, &mut back) {
                    self.sc.neighbours(c.id, 0)[slot.id as usize].store(u, Ordering::Release);
                    replaced.insert(c.id);
                    return true;
                }
            }
        }
        false
    }

    /// Gives each node of `queue` that no neighbour links back to an in-link at layer 0, in the
    /// nearest neighbour's list with room (see `link_into`; never replacing: without the walk it
    /// cannot tell a pruning accident from hubness). Returns the links added.
    /// Single-threaded; concurrent readers see each list word change atomically.
    fn repair(&self, queue: Vec<u32>) -> u64 {
        let (ep, _) = self.top();
        let (mut outs, mut tmp) = (Vec::new(), Vec::new());
        let mut added = 0;
        for d in queue {
            self.read_list(d, 0, &mut outs);
            if d == ep || outs.is_empty() || self.linked_back(d, &outs, &mut tmp) {
                continue;
            }
            let near = self.by_distance(d, outs.iter().copied());
            added += self.link_into(d, &near, false, &mut HashSet::new()) as u64;
        }
        added
    }
}

/// Marks every node below `seen.len()` that is reachable at layer 0 from `from` (and not yet
/// marked) in `seen`.
fn mark_reachable(sc: &Sidecar, from: u32, seen: &mut [bool], stack: &mut Vec<u32>) {
    if std::mem::replace(&mut seen[from as usize], true) {
        return;
    }
    stack.push(from);
    while let Some(n) = stack.pop() {
        for w in sc.neighbours(n, 0) {
            match w.load(Ordering::Relaxed) {
                NO_NODE => break,
                t if (t as usize) < seen.len() && !std::mem::replace(&mut seen[t as usize], true) => stack.push(t),
                _ => {}
            }
        }
    }
}

/// Nodes of the published graph (deleted ones included) that no walk from the entry point
/// reaches through layer-0 lists.
pub fn unreachable(sc: &Sidecar) -> Vec<u32> {
    let n = sc.node_count();
    if n == 0 {
        return Vec::new();
    }
    let mut seen = vec![false; n as usize];
    mark_reachable(sc, sc.state().entry_point, &mut seen, &mut Vec::new());
    (0..n).filter(|&i| !seen[i as usize]).collect()
}

/// Walks a published graph from its entry point and links unreached live nodes in, as after a
/// batch (see `Inserter::repair_reach`): for graphs over `REACH_CHECK_NODES`, whose batches only
/// check their own nodes. The caller holds the writer lock; concurrent readers see each list word
/// change atomically. Returns the links added.
pub fn repair_graph(sc: &Sidecar) -> u64 {
    let n = sc.node_count();
    if n == 0 || sc.quantizer().is_none() {
        return 0;
    }
    let ins = Inserter::new(sc, sc.params().ef_construction as usize, n);
    ins.repair_reach(n, &|id| sc.is_deleted(id))
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
        // Nodes linked while the graph was small, and outliers, can come out of the heuristic
        // with one or two far neighbours, and then no nearby node links to them: a search that
        // reaches their true neighbours cannot step to them. Linking them again, now that the
        // batch is in the graph, gives them their real neighbours and those neighbours' back-links.
        ins.short_lists(first, end, skip).into_par_iter().for_each_init(InsertScratch::default, |s, id| ins.link(id, s));
        // Repair: new graphs and graphs up to REACH_CHECK_NODES nodes are walked from the entry
        // point; a batch added to a larger graph checks its new nodes and the nodes its links
        // pruned out of a list.
        if !ins.track_dropped {
            ins.repair_reach(end, skip);
        } else {
            let mut q = std::mem::take(&mut *ins.dropped.lock().unwrap());
            q.extend((first..end).filter(|&id| !skip(id)));
            q.sort_unstable();
            q.dedup();
            ins.repair(q);
        }
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

