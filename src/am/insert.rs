//! INSERT: append (TID, vector) to the log — that is all an insert must do. Every
//! `APPLY_BATCH` entries the inserting backend folds the durable tail into the graph if it
//! can take the writer lock without waiting.
use super::build::dimension_error;
use super::pages;
use super::sidecar::{self, NoProgress, APPLY_BATCH};
use super::input;
use pgrx::pg_sys;
use pgrx::prelude::*;
use vecmap_engine::Metric;

#[pg_guard]
pub unsafe extern "C-unwind" fn aminsert(
    index: pg_sys::Relation,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    heap_tid: pg_sys::ItemPointer,
    _heap: pg_sys::Relation,
    _unique: pg_sys::IndexUniqueCheck::Type,
    _unchanged: bool,
    _info: *mut pg_sys::IndexInfo,
) -> bool {
    // SAFETY: single-column index: values/isnull have one element; heap_tid is valid.
    unsafe {
        if *isnull {
            return false;
        }
        let meta = pages::read_meta(index);
        let ctx = pg_sys::AllocSetContextCreateExtended(pg_sys::CurrentMemoryContext, c"vecmap insert".as_ptr(), 0, 8 * 1024, 8 * 1024 * 1024);
        let old = pg_sys::MemoryContextSwitchTo(ctx);
        let v = input::values(input::input_type(index), *values);
        if meta.dims != 0 && v.len() != meta.dims as usize {
            dimension_error(meta.dims, v.len());
        }
        let metric = Metric::from_u32(meta.metric).unwrap_or(Metric::L2);
        let skip = metric == Metric::Cosine && v.iter().all(|&x| x == 0.0);
        let mut bytes = Vec::new();
        if !skip {
            let t = &*heap_tid;
            pages::encode_insert(&mut bytes, [t.ip_blkid.bi_hi, t.ip_blkid.bi_lo, t.ip_posid], &v);
        }
        let dims = v.len() as u32;
        pg_sys::MemoryContextSwitchTo(old);
        pg_sys::MemoryContextDelete(ctx);
        if skip {
            return false;
        }
        let (meta, _lsn) = pages::append(index, &bytes, 1, 1, dims);
        let applied = match sidecar::open(index, &meta) {
            Ok(h) => h.borrow().state().log_entries,
            Err(e) if e.needs_rebuild() => 0,
            Err(e) => sidecar::raise(index, e),
        };
        if meta.entries.saturating_sub(applied) >= APPLY_BATCH {
            sidecar::catch_up(index, &meta, false, &mut NoProgress);
        }
        false
    }
}
