//! Index scans: graph search (int8 traversal, f32 rerank) merged with an exact scan of the
//! log tail not yet in the sidecar, streamed in distance order. When the executor keeps
//! asking (a filter discarded rows) the same search continues, up to
//! `vecmap.max_scan_tuples` rows.
use super::build::dimension_error;
use super::explain::ScanCounters;
use super::pages::{self, Entry, LogPos, LogReader, Meta};
use super::sidecar::{self, Handle, NoProgress, SCAN_APPLY};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::collections::{HashSet, VecDeque};
use vecmap_engine::hnsw::{Scratch, SearchParams, Searcher};
use vecmap_engine::Metric;

type Tid = [u16; 3];

thread_local! {
    static SCRATCH: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) };
}

struct ScanState {
    started: bool,
    done: bool,
    query: Option<Vec<f32>>,
    handle: Option<Handle>,
    searcher: Option<Searcher>,
    scratch: Option<Scratch>,
    /// Exact (distance, tid) of log entries newer than the sidecar, ascending.
    tail: VecDeque<(f32, Tid)>,
    /// Node ids deleted by delete marks still in the tail.
    tail_deleted: HashSet<u32>,
    out: VecDeque<Tid>,
    returned: HashSet<Tid>,
    ef: usize,
    max_tuples: u64,
    /// EXPLAIN ANALYZE counters (issue #7), summed over rescans.
    counters: ScanCounters,
}

#[pg_guard]
pub unsafe extern "C-unwind" fn ambeginscan(index: pg_sys::Relation, nkeys: i32, norderbys: i32) -> pg_sys::IndexScanDesc {
    // SAFETY: RelationGetIndexScan allocates the descriptor in the current context.
    unsafe {
        let scan = pg_sys::RelationGetIndexScan(index, nkeys, norderbys);
        let st = Box::new(ScanState {
            started: false,
            done: false,
            query: None,
            handle: None,
            searcher: None,
            scratch: None,
            tail: VecDeque::new(),
            tail_deleted: HashSet::new(),
            out: VecDeque::new(),
            returned: HashSet::new(),
            ef: 40,
            max_tuples: 20000,
            counters: ScanCounters::default(),
        });
        (*scan).opaque = Box::into_raw(st) as *mut std::ffi::c_void;
        scan
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amrescan(scan: pg_sys::IndexScanDesc, _keys: pg_sys::ScanKey, _nkeys: i32, orderbys: pg_sys::ScanKey, norderbys: i32) {
    // SAFETY: opaque is our ScanState; orderbys has norderbys entries.
    unsafe {
        let st = &mut *((*scan).opaque as *mut ScanState);
        release_scratch(st);
        st.started = false;
        st.done = false;
        st.query = None;
        st.handle = None;
        if let Some(s) = st.searcher.take() {
            st.counters.add_search(&s.stats);
        }
        st.tail.clear();
        st.tail_deleted.clear();
        st.out.clear();
        st.returned.clear();
        if !orderbys.is_null() && norderbys > 0 {
            let key = &*orderbys;
            if key.sk_flags & pg_sys::SK_ISNULL as i32 == 0 {
                let typ = super::input::input_type((*scan).indexRelation);
                st.query = Some(super::input::values(typ, key.sk_argument).into_owned());
            }
        }
    }
}

fn release_scratch(st: &mut ScanState) {
    if let Some(s) = st.scratch.take() {
        SCRATCH.with(|c| *c.borrow_mut() = Some(s));
    }
}

unsafe fn start(index: pg_sys::Relation, st: &mut ScanState) {
    st.started = true;
    st.max_tuples = super::options::max_scan_tuples();
    // SAFETY: open index relation.
    let meta: Meta = unsafe { pages::read_meta(index) };
    // vecmap.target_recall (issue #7): a calibrated ef, else vecmap.ef_search.
    // SAFETY: open index relation.
    let (ef, source) = unsafe { super::calibration::scan_ef(index, &meta) };
    st.ef = ef;
    st.counters.begin(ef, source);
    let Some(raw) = st.query.take() else {
        st.done = true;
        return;
    };
    if meta.dims == 0 {
        st.done = true;
        return;
    }
    if raw.len() != meta.dims as usize {
        dimension_error(meta.dims, raw.len());
    }
    let metric = Metric::from_u32(meta.metric).unwrap_or(Metric::L2);
    let mut q = Vec::new();
    if !metric.prepare(&raw, &mut q) {
        st.done = true;
        return;
    }
    // SAFETY: as above.
    let handle = match unsafe { sidecar::open(index, &meta) } {
        Ok(h) if meta.entries - h.borrow().state().log_entries.min(meta.entries) < SCAN_APPLY => Some(h),
        Ok(h) => unsafe { sidecar::catch_up(index, &meta, false, &mut NoProgress) }.or(Some(h)),
        Err(e) if e.needs_rebuild() => {
            if meta.entries >= SCAN_APPLY {
                // SAFETY: as above.
                unsafe { sidecar::catch_up(index, &meta, true, &mut NoProgress) }
            } else {
                None
            }
        }
        Err(e) => sidecar::raise(index, e),
    };
    let (from, mut next_id) = match &handle {
        Some(h) => {
            let s = *h.borrow().state();
            (if s.log_entries == 0 { LogPos::START } else { LogPos { block: s.log_block, offset: s.log_offset } }, s.node_count as u32)
        }
        None => (LogPos::START, 0),
    };
    // The tail: every entry the sidecar has not applied, scored exactly.
    let mut reader = LogReader::new(index, from, meta.tail);
    let mut buf = Vec::new();
    let mut tail = Vec::new();
    let mut tail_ids = Vec::new();
    while let Some(e) = reader.next() {
        match e {
            Entry::Insert { tid, vector } => {
                if metric.prepare(&vector, &mut buf) {
                    tail.push((metric.distance(&q, &buf), tid));
                    tail_ids.push(next_id);
                }
                next_id += 1;
            }
            Entry::Delete { nodes } => st.tail_deleted.extend(nodes),
        }
    }
    let mut scored: Vec<(f32, Tid)> = tail.into_iter().zip(tail_ids).filter(|(_, id)| !st.tail_deleted.contains(id)).map(|(t, _)| t).collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    st.counters.tail += scored.len() as u64;
    st.tail = scored.into();
    if let Some(h) = &handle {
        let mut scratch = SCRATCH.with(|c| c.borrow_mut().take()).unwrap_or_default();
        st.searcher = Searcher::new(&h.borrow(), &q, &mut scratch);
        st.scratch = Some(scratch);
    }
    st.handle = handle;
}

/// Fills `out` with the next batch: graph results merged with tail entries up to the same
/// distance (all remaining tail entries once the graph is exhausted).
unsafe fn refill(index: pg_sys::Relation, st: &mut ScanState) {
    let mut batch: Vec<(f32, Tid)> = Vec::new();
    let mut graph_done = true;
    if let (Some(h), Some(searcher), Some(scratch)) = (&st.handle, st.searcher.as_mut(), st.scratch.as_mut()) {
        let sc = h.borrow();
        let got = searcher.next_batch(&sc, scratch, SearchParams { ef: st.ef });
        for c in got {
            if st.tail_deleted.contains(&c.id) {
                continue;
            }
            if !sc.info_ok(c.id) {
                // SAFETY: open relation.
                let name = unsafe { pages::relname(index) };
                pgrx::warning!("vecmap index \"{name}\": sidecar node {} failed its check; the sidecar will be rebuilt", c.id);
                let _ = std::fs::remove_file(sc.path());
                continue;
            }
            batch.push((c.d, sc.info(c.id).tid));
        }
        graph_done = searcher.is_exhausted();
    }
    let limit = if graph_done { f32::INFINITY } else { batch.last().map_or(f32::INFINITY, |b| b.0) };
    let mut merged = Vec::with_capacity(batch.len() + 8);
    let mut bi = batch.into_iter().peekable();
    loop {
        let take_tail = match (st.tail.front(), bi.peek()) {
            (Some(t), Some(b)) => t.0 <= b.0,
            (Some(t), None) => t.0 <= limit,
            (None, _) => false,
        };
        if take_tail {
            merged.push(st.tail.pop_front().unwrap());
        } else if let Some(b) = bi.next() {
            merged.push(b);
        } else {
            break;
        }
    }
    for (_, tid) in merged {
        if st.returned.insert(tid) {
            st.out.push_back(tid);
        }
    }
    if graph_done && st.tail.is_empty() {
        st.done = true;
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amgettuple(scan: pg_sys::IndexScanDesc, _dir: pg_sys::ScanDirection::Type) -> bool {
    // SAFETY: opaque is our ScanState; index relation open for the scan's lifetime.
    unsafe {
        let index = (*scan).indexRelation;
        let st = &mut *((*scan).opaque as *mut ScanState);
        if !st.started {
            start(index, st);
        }
        loop {
            if let Some(t) = st.out.pop_front() {
                (*scan).xs_heaptid = pg_sys::ItemPointerData { ip_blkid: pg_sys::BlockIdData { bi_hi: t[0], bi_lo: t[1] }, ip_posid: t[2] };
                (*scan).xs_recheck = false;
                (*scan).xs_recheckorderby = false;
                return true;
            }
            if st.done || st.returned.len() as u64 >= st.max_tuples {
                return false;
            }
            refill(index, st);
        }
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amendscan(scan: pg_sys::IndexScanDesc) {
    // SAFETY: opaque was set by ambeginscan and is freed exactly once here.
    unsafe {
        let p = (*scan).opaque as *mut ScanState;
        if !p.is_null() {
            let mut st = Box::from_raw(p);
            release_scratch(&mut st);
            (*scan).opaque = std::ptr::null_mut();
        }
    }
}

/// EXPLAIN ANALYZE counters of a vecmap scan (issue #7): finished searches plus the one in
/// progress. `scan` must be a scan of a vecmap index (its opaque is our ScanState).
pub unsafe fn counters(scan: pg_sys::IndexScanDesc) -> Option<ScanCounters> {
    // SAFETY: caller guarantees a vecmap scan; opaque is null only after amendscan.
    unsafe {
        let p = (*scan).opaque as *const ScanState;
        let st = p.as_ref()?;
        let mut c = st.counters;
        if let Some(s) = &st.searcher {
            c.add_search(&s.stats);
        }
        Some(c)
    }
}
