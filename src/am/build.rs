//! CREATE INDEX: heap scan → log pages (WAL-logged afterwards with log_newpage_range) →
//! sidecar built from the log on all cores.
use super::pages::{self, BuildWriter, LogPos, Meta, META_MAGIC, META_VERSION};
use super::sidecar::{self, Progress};
use super::input::{self, InputType};
use pgrx::pg_sys;
use pgrx::prelude::*;
use vecmap_engine::Metric;

pub const PHASE_LOAD: i64 = 2;
pub const PHASE_GRAPH: i64 = 3;

/// The metric of the index's opclass, from its support function 1.
pub unsafe fn index_metric(index: pg_sys::Relation) -> Metric {
    // SAFETY: opclass support function 1 exists for every vecmap opclass.
    let name = unsafe {
        let proc_ = pg_sys::index_getprocid(index, 1, 1);
        let n = pg_sys::get_func_name(proc_);
        if n.is_null() { String::new() } else { std::ffi::CStr::from_ptr(n).to_string_lossy().into_owned() }
    };
    match name.as_str() {
        "l2_distance" | "vector_l2_squared_distance" | "halfvec_l2_squared_distance" | "sparsevec_l2_squared_distance" => {
            Metric::L2
        }
        "vector_negative_inner_product" | "inner_product" | "halfvec_negative_inner_product"
        | "sparsevec_negative_inner_product" => Metric::InnerProduct,
        // bit_hamming_ops: bits are indexed as 0/1 values, whose squared L2 distance is Hamming's.
        "hamming_distance" => Metric::L2,
        "jaccard_distance" => Metric::Jaccard,
        "cosine_distance" => Metric::Cosine,
        other => {
            error!("vecmap: unsupported operator class support function \"{other}\"");
        }
    }
}

/// Fixed dimensions from the column's typmod (`vector(384)`), or 0 when unconstrained.
unsafe fn typmod_dims(index: pg_sys::Relation) -> u32 {
    // SAFETY: an index has at least one attribute in rd_att.
    unsafe {
        let td = (*index).rd_att;
        let attr = (*td).attrs.as_ptr();
        let t = (*attr).atttypmod;
        if t > 0 { t as u32 } else { 0 }
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most 8 bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr() as *mut libc::c_void, 8, 0) };
    if n != 8 {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        return (t.as_nanos() as u64) ^ ((std::process::id() as u64) << 32);
    }
    u64::from_le_bytes(b)
}

pub unsafe fn new_meta(index: pg_sys::Relation) -> Meta {
    // SAFETY: open index relation.
    let (m, efc) = unsafe { super::options::index_options(index) };
    Meta {
        magic: META_MAGIC,
        version: META_VERSION,
        // SAFETY: as above.
        dims: unsafe { typmod_dims(index) },
        metric: unsafe { index_metric(index) } as u32,
        m,
        ef_construction: efc,
        build_id: random_u64(),
        entries: 0,
        inserts: 0,
        tail: LogPos::START,
        pad: [0; 4],
    }
}

struct BuildState {
    writer: BuildWriter,
    dims: u32,
    metric: Metric,
    input: InputType,
    indexed: f64,
    heap: f64,
    tmpctx: pg_sys::MemoryContext,
    bytes: Vec<u8>,
}

/// Reports graph-construction progress to pg_stat_progress_create_index.
pub struct BuildProgress;
impl Progress for BuildProgress {
    fn report(&mut self, done: u64) {
        // SAFETY: main thread; progress reporting is a no-op outside CREATE INDEX.
        unsafe { pg_sys::pgstat_progress_update_param(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE as i32, done as i64) };
    }
}

pub fn dimension_error(expected: u32, got: usize) -> ! {
    ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, format!("expected {expected} dimensions, not {got}"));
}

#[pg_guard]
unsafe extern "C-unwind" fn build_callback(_index: pg_sys::Relation, tid: pg_sys::ItemPointer, values: *mut pg_sys::Datum, isnull: *mut bool, _alive: bool, state: *mut std::ffi::c_void) {
    // SAFETY: state is our BuildState; values/isnull have one element (single-column index).
    unsafe {
        let st = &mut *(state as *mut BuildState);
        st.heap += 1.0;
        if *isnull {
            return;
        }
        let old = pg_sys::MemoryContextSwitchTo(st.tmpctx);
        let v = input::values(st.input, *values);
        if st.dims == 0 {
            st.dims = v.len() as u32;
        } else if v.len() != st.dims as usize {
            dimension_error(st.dims, v.len());
        }
        let skip = st.metric == Metric::Cosine && v.iter().all(|&x| x == 0.0);
        if !skip {
            let t = &*tid;
            st.bytes.clear();
            pages::encode_insert(&mut st.bytes, [t.ip_blkid.bi_hi, t.ip_blkid.bi_lo, t.ip_posid], &v);
            st.writer.write(&st.bytes);
            st.indexed += 1.0;
        }
        pg_sys::MemoryContextSwitchTo(old);
        pg_sys::MemoryContextReset(st.tmpctx);
    }
}

fn relation_needs_wal(rel: pg_sys::Relation) -> bool {
    // SAFETY: open relation; mirrors the RelationNeedsWAL macro.
    unsafe {
        (*(*rel).rd_rel).relpersistence == pg_sys::RELPERSISTENCE_PERMANENT as std::ffi::c_char
            && (pg_sys::wal_level >= pg_sys::WalLevel::WAL_LEVEL_REPLICA as i32
                || ((*rel).rd_createSubid == 0 && (*rel).rd_firstRelfilenodeSubid == 0))
    }
}

/// Says so (NOTICE) when the sidecar a build is about to fill is larger than
/// maintenance_work_mem. The graph and vectors live in the memory-mapped file, not in backend
/// memory, so the build still runs (its own allocations stay within maintenance_work_mem plus
/// a few bytes per row); the user learns that it will lean on the OS page cache.
fn notice_if_over_maintenance_work_mem(index: pg_sys::Relation, meta: &Meta) {
    let geo = vecmap_engine::sidecar::format::Geometry::new(meta.dims as usize, meta.m as usize);
    let bytes = geo.file_bytes_for(meta.entries);
    // SAFETY: reading an int GUC (kB) on the main thread.
    let budget = unsafe { pg_sys::maintenance_work_mem } as u64 * 1024;
    if bytes > budget {
        // SAFETY: open relation.
        let name = unsafe { pages::relname(index) };
        ereport!(
            NOTICE,
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            format!("vecmap index \"{name}\": graph and vectors ({} MB) exceed maintenance_work_mem ({} MB)", bytes >> 20, budget >> 20),
            "They are built in the memory-mapped sidecar file, not in backend memory: a build larger than free RAM pages through the OS page cache and runs slower."
        );
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn ambuild(heap: pg_sys::Relation, index: pg_sys::Relation, info: *mut pg_sys::IndexInfo) -> *mut pg_sys::IndexBuildResult {
    let started = std::time::Instant::now();
    super::lifecycle::sweep();
    // SAFETY: CREATE INDEX holds the index exclusively; block 0 is created first.
    unsafe {
        let mut meta = new_meta(index);
        // Reserve block 0 for the metapage before the log pages.
        pages::write_meta_nowal(index, &meta);
        pg_sys::pgstat_progress_update_param(pg_sys::PROGRESS_CREATEIDX_SUBPHASE as i32, PHASE_LOAD);
        let tmpctx = pg_sys::AllocSetContextCreateExtended(pg_sys::CurrentMemoryContext, c"vecmap build tuple".as_ptr(), 0, 8 * 1024, 8 * 1024 * 1024);
        let mut st = BuildState { writer: BuildWriter::new(index), dims: meta.dims, metric: Metric::from_u32(meta.metric).unwrap(), input: input::input_type(index), indexed: 0.0, heap: 0.0, tmpctx, bytes: Vec::new() };
        pg_sys::table_index_build_scan(heap, index, info, true, true, Some(build_callback), &mut st as *mut BuildState as *mut std::ffi::c_void, std::ptr::null_mut());
        pg_sys::MemoryContextDelete(tmpctx);
        let BuildState { writer, dims, indexed, heap: heap_tuples, .. } = st;
        meta.tail = writer.finish();
        meta.dims = dims;
        meta.entries = indexed as u64;
        meta.inserts = indexed as u64;
        pages::write_meta_nowal(index, &meta);
        if relation_needs_wal(index) {
            let n = pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM);
            pg_sys::log_newpage_range(index, pg_sys::ForkNumber::MAIN_FORKNUM, 0, n, true);
        }
        // An empty index gets an empty sidecar too (when its dimensions are known), so its
        // first inserts extend a file instead of looking like a lost one.
        if meta.dims > 0 {
            pg_sys::pgstat_progress_update_param(pg_sys::PROGRESS_CREATEIDX_SUBPHASE as i32, PHASE_GRAPH);
            pg_sys::pgstat_progress_update_param(pg_sys::PROGRESS_CREATEIDX_TUPLES_TOTAL as i32, meta.entries as i64);
            notice_if_over_maintenance_work_mem(index, &meta);
            let path = sidecar::sidecar_path(index);
            let _ = sidecar::create_sidecar_dir();
            let _lock = match vecmap_engine::sidecar::WriterLock::lock_blocking(&path) {
                Ok(l) => l,
                Err(e) => sidecar::raise(index, e),
            };
            // A CREATE INDEX (or REINDEX, TRUNCATE) that rolls back must not leave its sidecar.
            super::lifecycle::created(&path);
            if let Err(e) = sidecar::rebuild(index, &meta, &mut BuildProgress) {
                sidecar::raise(index, e);
            }
        }
        // Issue #7: one-line summary (rows, seconds, threads, bytes) at LOG.
        super::stats::log_build(index, meta.entries, started.elapsed().as_secs_f64());
        let res = pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBuildResult>()) as *mut pg_sys::IndexBuildResult;
        (*res).heap_tuples = heap_tuples;
        (*res).index_tuples = indexed;
        res
    }
}

/// Unlogged indexes: the init fork gets a metapage, WAL-logged as a full page.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuildempty(index: pg_sys::Relation) {
    // SAFETY: standard init-fork protocol (as pgvector's hnswbuildempty).
    unsafe {
        let meta = new_meta(index);
        let buf = pg_sys::ReadBufferExtended(index, pg_sys::ForkNumber::INIT_FORKNUM, pg_sys::InvalidBlockNumber, pg_sys::ReadBufferMode::RBM_NORMAL, std::ptr::null_mut());
        pg_sys::LockBuffer(buf, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
        let state = pg_sys::GenericXLogStart(index);
        let page = pg_sys::GenericXLogRegisterBuffer(state, buf, pg_sys::GENERIC_XLOG_FULL_IMAGE as i32);
        pages::init_meta_page(page, &meta);
        pg_sys::GenericXLogFinish(state);
        pg_sys::UnlockReleaseBuffer(buf);
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn ambuildphasename(phase: i64) -> *mut std::ffi::c_char {
    match phase {
        PHASE_LOAD => c"loading tuples".as_ptr() as *mut _,
        PHASE_GRAPH => c"building graph".as_ptr() as *mut _,
        _ => std::ptr::null_mut(),
    }
}
