//! VACUUM: dead TIDs become delete marks in the log (WAL-logged) and tombstones on node ids
//! in the sidecar. Deleted nodes keep routing searches; they are never returned.
use super::pages;
use super::sidecar::{self, NoProgress};
use pgrx::pg_sys;
use pgrx::prelude::*;

const IDS_PER_ENTRY: usize = 2000;
/// Smaller graphs are cheap to search through tombstones; not worth a rebuild.
const COMPACT_MIN_NODES: u64 = 1000;
/// Past this fraction of clamped coordinates (10× what `Quantizer::fit` leaves) the rows have
/// moved out of the quantizer's range, and VACUUM rebuilds the graph with a refitted one.
const REFIT_CLAMPED: f64 = 0.001;
/// Rows sampled for that check.
const REFIT_SAMPLE: usize = 1000;

/// VACUUM's upkeep of the graph itself. A quantizer whose range the rows have left (too many
/// sampled coordinates clamp: the index was created on an empty or unrepresentative table, and
/// the int8 walk can no longer tell the later rows apart) is refitted by rebuilding the sidecar
/// from the log. Otherwise a graph too large for the reachability walk after every batch is
/// walked now, and rows no search can reach are linked back in. Logs what it did.
unsafe fn tend_graph(index: pg_sys::Relation) {
    // SAFETY: open relation, main thread.
    let meta = unsafe { pages::read_meta(index) };
    let Ok(h) = (unsafe { sidecar::open(index, &meta) }) else {
        return;
    };
    let (n, clamped) = {
        let sc = h.borrow();
        (sc.state().node_count, vecmap_engine::stats::clamped_fraction(&sc, REFIT_SAMPLE, meta.build_id))
    };
    drop(h);
    let started = std::time::Instant::now();
    // SAFETY: open relation.
    let name = || unsafe { pages::relname(index) };
    if let Some(clamped) = clamped.filter(|&c| n >= COMPACT_MIN_NODES && c > REFIT_CLAMPED) {
        // SAFETY: as above. The rebuild walks its new graph too.
        unsafe { sidecar::compact(index, &meta) };
        pgrx::log!(
            "vecmap: refitted the quantizer of \"{}\": {:.2}% of sampled coordinates were outside its range; rebuilt {} rows in {:.2} s",
            name(),
            100.0 * clamped,
            n,
            started.elapsed().as_secs_f64()
        );
    } else if n as usize > vecmap_engine::hnsw::REACH_CHECK_NODES {
        // SAFETY: as above.
        let added = unsafe { sidecar::repair_graph(index, &meta) };
        if added > 0 {
            pgrx::log!("vecmap: linked {added} unreachable rows back into the graph of \"{}\" in {:.2} s", name(), started.elapsed().as_secs_f64());
        }
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn ambulkdelete(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
    callback: pg_sys::IndexBulkDeleteCallback,
    callback_state: *mut std::ffi::c_void,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: VACUUM passes a valid info and callback; we only read our own relation.
    unsafe {
        let index = (*info).index;
        let began = std::time::Instant::now();
        super::lifecycle::sweep();
        let stats = if stats.is_null() { pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBulkDeleteResult>()) as *mut pg_sys::IndexBulkDeleteResult } else { stats };
        let meta = pages::read_meta(index);
        // Apply everything first so every TID in the log is a node with a known id.
        let Some(h) = sidecar::catch_up(index, &meta, true, &mut NoProgress) else {
            return stats;
        };
        let cb = callback.expect("bulk-delete callback");
        let mut dead = Vec::new();
        let mut live = 0f64;
        {
            let sc = h.borrow();
            let n = sc.node_count();
            for id in 0..n {
                if id % 1024 == 0 {
                    check_for_interrupts!();
                }
                if sc.is_deleted(id) {
                    continue;
                }
                let t = sc.info(id).tid;
                let mut tid = pg_sys::ItemPointerData { ip_blkid: pg_sys::BlockIdData { bi_hi: t[0], bi_lo: t[1] }, ip_posid: t[2] };
                if cb(&mut tid, callback_state) {
                    dead.push(id);
                } else {
                    live += 1.0;
                }
            }
        }
        for chunk in dead.chunks(IDS_PER_ENTRY) {
            let mut bytes = Vec::new();
            pages::encode_delete(&mut bytes, chunk);
            pages::append(index, &bytes, 1, 0, 0);
        }
        if !dead.is_empty() {
            let meta = pages::read_meta(index);
            if let Some(h) = sidecar::catch_up(index, &meta, true, &mut NoProgress) {
                let s = *h.borrow().state();
                drop(h);
                // Past 20% tombstones, rebuild the graph over live rows only. Readers keep the
                // old file until the new one is renamed in; inserts keep appending to the log.
                if s.node_count >= COMPACT_MIN_NODES && s.deleted * 5 > s.node_count {
                    let started = std::time::Instant::now();
                    sidecar::compact(index, &meta);
                    pgrx::log!(
                        "vecmap: compacted the graph of \"{}\": {} of {} rows were deleted, {:.2} s",
                        pages::relname(index),
                        s.deleted,
                        s.node_count,
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        }
        (*stats).tuples_removed += dead.len() as f64;
        (*stats).num_index_tuples = live;
        (*stats).num_pages = pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM);
        // Issue #7: one-line summary (rows, seconds, threads, bytes) at DEBUG1.
        super::stats::log_vacuum(index, dead.len() as u64, live as u64, began.elapsed().as_secs_f64());
        stats
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amvacuumcleanup(info: *mut pg_sys::IndexVacuumInfo, stats: *mut pg_sys::IndexBulkDeleteResult) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: as above.
    unsafe {
        if (*info).analyze_only {
            return stats;
        }
        let index = (*info).index;
        tend_graph(index);
        if !stats.is_null() {
            return stats;
        }
        let stats = pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBulkDeleteResult>()) as *mut pg_sys::IndexBulkDeleteResult;
        let meta = pages::read_meta(index);
        let live = match sidecar::open(index, &meta) {
            Ok(h) => {
                let s = *h.borrow().state();
                (s.node_count - s.deleted) as f64 + meta.inserts.saturating_sub(s.node_count) as f64
            }
            Err(_) => meta.inserts as f64,
        };
        (*stats).num_index_tuples = live;
        (*stats).num_pages = pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM);
        stats
    }
}
