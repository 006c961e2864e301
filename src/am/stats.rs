//! Seeing inside an index: `vecmap_index_stats(regclass)`, `vecmap_prewarm(regclass)`, and
//! the one-line summaries build and vacuum log. Functions that read an index check, like
//! REINDEX, that the caller owns it (or is superuser).
use super::calibration;
use super::pages::{self, Entry, LogPos, LogReader, Meta, META_VERSION};
use super::sidecar::{self, Handle, NoProgress};
use crate::fmgr::arg;
use crate::types::vector::float8_datum;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::IntoDatum;
use vecmap_engine::sidecar::format::FORMAT_VERSION;
use vecmap_engine::stats as est;
use vecmap_engine::Metric;

pg_function_info_v1!(index_stats, prewarm);

/// Pairs of nodes sampled for `quantization_error`.
const QUANT_PAIRS: usize = 2000;

/// Opens `oid` as a vecmap index with `lockmode` after checking that the current user owns
/// it (superusers pass): "must be owner of index …" otherwise, before anything is read.
/// ERRORs for a missing relation, a non-index, a partitioned index or another AM.
pub unsafe fn open_owned_index(oid: pg_sys::Oid, lockmode: u32) -> pg_sys::Relation {
    // SAFETY: catalog calls inside a transaction on the main thread.
    unsafe {
        if !pg_sys::pg_class_ownercheck(oid, pg_sys::GetUserId()) {
            pg_sys::aclcheck_error(pg_sys::AclResult::ACLCHECK_NOT_OWNER, pg_sys::ObjectType::OBJECT_INDEX, pg_sys::get_rel_name(oid));
        }
        let rel = pg_sys::index_open(oid, lockmode as pg_sys::LOCKMODE);
        let name = pages::relname(rel);
        if (*(*rel).rd_rel).relkind != pg_sys::RELKIND_INDEX as std::ffi::c_char {
            ereport!(ERROR, PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE, format!("\"{name}\" is a partitioned index; call this on its partitions' indexes"));
        }
        if (*(*rel).rd_rel).relam != pg_sys::get_am_oid(c"vecmap".as_ptr(), false) {
            ereport!(ERROR, PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE, format!("\"{name}\" is not a vecmap index"));
        }
        rel
    }
}

/// The sidecar if it exists and matches; None when missing or unusable (not repaired here).
unsafe fn existing_sidecar(index: pg_sys::Relation, meta: &Meta) -> Option<Handle> {
    // SAFETY: open relation.
    match unsafe { sidecar::open(index, meta) } {
        Ok(h) => Some(h),
        Err(e) if e.needs_rebuild() => None,
        Err(e) => sidecar::raise(index, e),
    }
}

/// The sidecar's path as this user may see it: absolute for superusers, relative to the data
/// directory (`vecmap/<spc>_<db>_<relfilenode>.vmap`) for everyone else.
unsafe fn visible_path(index: pg_sys::Relation) -> String {
    // SAFETY: open relation.
    let path = unsafe { sidecar::sidecar_path(index) };
    // SAFETY: plain catalog check.
    if unsafe { pg_sys::superuser() } {
        return sidecar::data_dir().join(path).display().to_string();
    }
    path.display().to_string()
}

fn metric_name(m: u32) -> &'static str {
    match Metric::from_u32(m) {
        Some(Metric::L2) => "l2",
        Some(Metric::InnerProduct) => "ip",
        Some(Metric::Cosine) => "cosine",
        Some(Metric::Jaccard) => "jaccard",
        None => "unknown",
    }
}

/// Unix seconds → timestamptz datum.
fn timestamptz(unix: u64) -> pg_sys::Datum {
    const PG_EPOCH_UNIX: i64 = 946_684_800;
    pg_sys::Datum::from((unix as i64 - PG_EPOCH_UNIX) * 1_000_000)
}

fn text(s: &str) -> pg_sys::Datum {
    s.into_datum().expect("text datum")
}

/// Builds a tuple of the function's declared composite result type from `(value, is_null)`.
unsafe fn result_tuple(fcinfo: pg_sys::FunctionCallInfo, cols: &[Option<pg_sys::Datum>]) -> pg_sys::Datum {
    // SAFETY: the SQL declaration gives OUT parameters, so the result type is composite.
    unsafe {
        let mut td: pg_sys::TupleDesc = std::ptr::null_mut();
        if pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut td) != pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE {
            error!("vecmap: function returning record called in a context that cannot accept it");
        }
        let td = pg_sys::BlessTupleDesc(td);
        assert_eq!((*td).natts as usize, cols.len(), "SQL declaration and result columns disagree");
        let mut values: Vec<pg_sys::Datum> = cols.iter().map(|c| c.unwrap_or(pg_sys::Datum::from(0usize))).collect();
        let mut nulls: Vec<bool> = cols.iter().map(|c| c.is_none()).collect();
        let tuple = pg_sys::heap_form_tuple(td, values.as_mut_ptr(), nulls.as_mut_ptr());
        pg_sys::HeapTupleHeaderGetDatum((*tuple).t_data)
    }
}

/// Counts of the log entries the sidecar has not applied: (inserts, deleted node ids).
fn unapplied(index: pg_sys::Relation, meta: &Meta, sc: Option<&vecmap_engine::sidecar::Sidecar>) -> (u64, u64) {
    let from = match sc.map(|s| *s.state()) {
        Some(s) if s.log_entries > 0 => LogPos { block: s.log_block, offset: s.log_offset },
        _ => LogPos::START,
    };
    let mut r = LogReader::new(index, from, meta.tail);
    let (mut ins, mut del) = (0u64, 0u64);
    let mut n = 0u64;
    while let Some(e) = r.next() {
        n += 1;
        if n.is_multiple_of(4096) {
            check_for_interrupts!();
        }
        match e {
            Entry::Insert { .. } => ins += 1,
            Entry::Delete { nodes } => del += nodes.len() as u64,
        }
    }
    (ins, del)
}

/// `vecmap_index_stats(index regclass) → record`, one row (see sql/vecmap--0.1.0--0.2.0.sql for the
/// columns and their units). Reads the metapage, the not-yet-applied log tail and the
/// sidecar: residency is measured first (mincore), then every node's info and layer-0 list
/// is read for the layer counts and degrees, and `QUANT_PAIRS` node pairs are compared for
/// the quantization error. Sidecar columns are NULL when the index has no usable sidecar
/// (empty index, or one a scan would rebuild). Does not modify the index. ERRORs unless the
/// caller owns the index.
#[export_name = "vecmap_index_stats"]
#[pg_guard]
pub unsafe extern "C-unwind" fn index_stats(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (regclass); the index stays locked and open for the whole call.
    unsafe {
        let oid = pg_sys::Oid::from(arg(fcinfo, 0).value() as u32);
        let index = open_owned_index(oid, pg_sys::AccessShareLock);
        let meta = pages::read_meta(index);
        let cal = calibration::read(index, meta.build_id);
        let handle = existing_sidecar(index, &meta);
        let sc_ref = handle.as_ref().map(|h| h.borrow());
        let sc = sc_ref.as_deref();
        let (_, tail_deleted) = unapplied(index, &meta, sc);
        let deleted = sc.map_or(0, |s| s.state().deleted) + tail_deleted;
        let some = |d: pg_sys::Datum| Some(d);
        let i64d = |v: u64| Some(pg_sys::Datum::from(v as i64));
        let i32d = |v: u32| Some(pg_sys::Datum::from(v as i32));
        let mut cols: Vec<Option<pg_sys::Datum>> = vec![
            i64d(meta.inserts.saturating_sub(deleted)),
            i64d(deleted),
            if meta.dims > 0 { i32d(meta.dims) } else { None },
            some(text(metric_name(meta.metric))),
            i32d(meta.m),
            i32d(meta.ef_construction),
        ];
        match sc {
            Some(s) => {
                let resident = est::residency(s);
                let arenas = est::arena_bytes(s);
                let g = est::graph_stats(s, || {
            check_for_interrupts!();
        });
                let qerr = est::quantization_error(s, QUANT_PAIRS, meta.build_id);
                let st = *s.state();
                let has_nodes = g.nodes_per_layer.first().is_some_and(|&c| c > 0);
                let per_layer: Vec<i64> = g.nodes_per_layer.iter().map(|&c| c as i64).collect();
                cols.extend([
                    i32d(per_layer.len() as u32),
                    per_layer.into_datum(),
                    if has_nodes { some(float8_datum(g.l0_degree_mean)) } else { None },
                    if has_nodes { i32d(g.l0_degree_min) } else { None },
                    if has_nodes { i32d(g.l0_degree_max) } else { None },
                    if st.node_count > 0 { i64d(st.entry_point as u64) } else { None },
                    some(text(&visible_path(index))),
                    i64d(arenas.file),
                    i64d(arenas.int8),
                    i64d(arenas.f32),
                    i64d(arenas.graph),
                    i64d(resident.traversal + resident.vectors),
                    i64d(resident.traversal),
                    i64d(resident.vectors),
                    i64d(meta.entries),
                    i64d(st.log_entries),
                    qerr.map(float8_datum),
                    i32d(s.params().format_version),
                    i32d(META_VERSION),
                    some(timestamptz(st.built_unix)),
                ]);
            }
            None => {
                cols.extend([None, None, None, None, None, None, some(text(&visible_path(index))), None, None, None, None, None, None, None]);
                cols.extend([i64d(meta.entries), i64d(0), None, i32d(FORMAT_VERSION), i32d(META_VERSION), None]);
            }
        }
        match &cal {
            Some(c) => cols.extend([some(timestamptz(c.tuned_unix)), i32d(c.k), i64d(c.rows)]),
            None => cols.extend([None, None, None]),
        }
        drop(sc_ref);
        let d = result_tuple(fcinfo, &cols);
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        d
    }
}

/// `vecmap_prewarm(index regclass, with_vectors boolean DEFAULT false) → bigint`: pulls the
/// int8 arena and the graph (and the f32 arena when `with_vectors`) into the OS page cache
/// and returns the bytes covered. Uses MADV_WILLNEED (and MADV_HUGEPAGE where the kernel
/// supports it for this mapping), then reads a byte of every page, so the pages are
/// resident when it returns. The page cache is shared by all backends and outlives a server
/// restart (unlike shared_buffers). A missing sidecar is rebuilt first; 0 for an empty index.
/// Cancellable. ERRORs unless the caller owns the index.
#[export_name = "vecmap_prewarm"]
#[pg_guard]
pub unsafe extern "C-unwind" fn prewarm(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (regclass, bool).
    unsafe {
        let oid = pg_sys::Oid::from(arg(fcinfo, 0).value() as u32);
        let with_vectors = arg(fcinfo, 1).value() != 0;
        let index = open_owned_index(oid, pg_sys::AccessShareLock);
        let meta = pages::read_meta(index);
        let handle = match existing_sidecar(index, &meta) {
            Some(h) => Some(h),
            None => sidecar::catch_up(index, &meta, true, &mut NoProgress),
        };
        let bytes = handle.map_or(0, |h| est::prewarm(&h.borrow(), with_vectors, || {
            check_for_interrupts!();
        }));
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        pg_sys::Datum::from(bytes as i64)
    }
}

fn megabytes(b: u64) -> String {
    format!("{:.1} MB", b as f64 / (1024.0 * 1024.0))
}

fn index_bytes(index: pg_sys::Relation) -> u64 {
    // SAFETY: open relation.
    unsafe { pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM) as u64 * pg_sys::BLCKSZ as u64 }
}

fn sidecar_bytes(index: pg_sys::Relation) -> u64 {
    // SAFETY: open relation.
    let path = unsafe { sidecar::sidecar_path(index) };
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The build summary, at LOG (one line per CREATE INDEX / REINDEX in the server log):
/// `vecmap: built index "i": 4000 rows in 1.23 s on 2 threads; index 16.0 MB, sidecar 9.4 MB`.
/// `index` must be an open relation.
pub unsafe fn log_build(index: pg_sys::Relation, rows: u64, secs: f64) {
    // SAFETY: open relation.
    let name = unsafe { pages::relname(index) };
    let threads = sidecar::pool().current_num_threads();
    pgrx::log!(
        "vecmap: built index \"{name}\": {rows} rows in {secs:.2} s on {threads} threads; index {}, sidecar {}",
        megabytes(index_bytes(index)),
        megabytes(sidecar_bytes(index))
    );
}

/// The bulk-delete summary, at DEBUG1 (autovacuum runs often; PostgreSQL 15 gives index AMs
/// no VERBOSE flag — `IndexVacuumInfo.message_level` is always DEBUG2):
/// `vecmap: vacuumed index "i": 12 rows removed, 3988 remain in 0.05 s on 2 threads; index
/// 16.0 MB, sidecar 9.4 MB`. `index` must be an open relation.
pub unsafe fn log_vacuum(index: pg_sys::Relation, removed: u64, remain: u64, secs: f64) {
    // SAFETY: open relation.
    let name = unsafe { pages::relname(index) };
    let threads = sidecar::pool().current_num_threads();
    pgrx::debug1!(
        "vecmap: vacuumed index \"{name}\": {removed} rows removed, {remain} remain in {secs:.2} s on {threads} threads; index {}, sidecar {}",
        megabytes(index_bytes(index)),
        megabytes(sidecar_bytes(index))
    );
}
