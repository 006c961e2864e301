//! Index options (`WITH (m = 16, ef_construction = 64)`) and GUCs.
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use vecmap_engine::options as eopts;
pub use vecmap_engine::options::{DEFAULT_EF_CONSTRUCTION, DEFAULT_M};

/// `vecmap.ef_search`: beam width at layer 0 (like pgvector's `hnsw.ef_search`).
pub static EF_SEARCH: GucSetting<i32> = GucSetting::<i32>::new(40);
/// `vecmap.max_scan_tuples`: most rows one scan returns when the executor keeps asking.
pub static MAX_SCAN_TUPLES: GucSetting<i32> = GucSetting::<i32>::new(20000);
/// `vecmap.target_recall` (issue #7): when > 0, scans use the smallest calibrated ef that
/// meets this recall@k (see `calibration.rs`), overriding `vecmap.ef_search`.
pub static TARGET_RECALL: GucSetting<f64> = GucSetting::<f64>::new(0.0);

static mut RELOPT_KIND: pg_sys::relopt_kind::Type = 0;

/// The reloptions struct `build_reloptions` fills (first field is the varlena header).
#[repr(C)]
pub struct Options {
    vl_len_: i32,
    pub m: i32,
    pub ef_construction: i32,
}

pub fn init() {
    GucRegistry::define_int_guc(
        c"vecmap.ef_search",
        c"Size of the dynamic candidate list for search (layer-0 beam).",
        c"Higher values raise recall and lower speed. Range 1..1000.",
        &EF_SEARCH,
        1,
        1000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"vecmap.max_scan_tuples",
        c"Maximum rows one vecmap index scan returns when a filter discards rows.",
        c"Bounds the continued search behind WHERE … ORDER BY … LIMIT queries.",
        &MAX_SCAN_TUPLES,
        1,
        i32::MAX,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"vecmap.target_recall",
        c"Recall@k that vecmap index scans aim for (0 = off: use vecmap.ef_search).",
        c"When set, each scan uses the smallest ef that met this recall when the index was measured with vecmap_tune(); indexes never tuned use a conservative default curve.",
        &TARGET_RECALL,
        0.0,
        1.0,
        GucContext::Userset,
        GucFlags::default(),
    );
    // SAFETY: called once from _PG_init on the main thread.
    unsafe {
        RELOPT_KIND = pg_sys::add_reloption_kind();
        pg_sys::add_int_reloption(RELOPT_KIND, c"m".as_ptr(), c"Max number of connections per node (layer 0 keeps 2·m)".as_ptr(), DEFAULT_M, *eopts::M_RANGE.start(), *eopts::M_RANGE.end(), pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE);
        pg_sys::add_int_reloption(RELOPT_KIND, c"ef_construction".as_ptr(), c"Size of the dynamic candidate list for construction".as_ptr(), DEFAULT_EF_CONSTRUCTION, *eopts::EF_CONSTRUCTION_RANGE.start(), *eopts::EF_CONSTRUCTION_RANGE.end(), pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE);
    }
}

/// `amoptions`: parses and validates reloptions.
#[pg_guard]
pub unsafe extern "C-unwind" fn amoptions(reloptions: pg_sys::Datum, validate: bool) -> *mut pg_sys::bytea {
    let tab = [
        pg_sys::relopt_parse_elt { optname: c"m".as_ptr(), opttype: pg_sys::relopt_type::RELOPT_TYPE_INT, offset: std::mem::offset_of!(Options, m) as i32 },
        pg_sys::relopt_parse_elt { optname: c"ef_construction".as_ptr(), opttype: pg_sys::relopt_type::RELOPT_TYPE_INT, offset: std::mem::offset_of!(Options, ef_construction) as i32 },
    ];
    // SAFETY: tab describes Options exactly; build_reloptions pallocs the result.
    let opts = unsafe { pg_sys::build_reloptions(reloptions, validate, RELOPT_KIND, std::mem::size_of::<Options>(), tab.as_ptr(), tab.len() as i32) };
    if validate && !opts.is_null() {
        // SAFETY: build_reloptions returned an Options-shaped allocation.
        let o = unsafe { &*(opts as *const Options) };
        // Postgres checked each range already; the engine's check adds ef_construction ≥ 2·m.
        if let Err(e) = eopts::validate(o.m, o.ef_construction) {
            ereport!(ERROR, PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, e.to_string());
        }
    }
    opts as *mut pg_sys::bytea
}

/// (m, ef_construction) of an index, defaults when unset.
pub unsafe fn index_options(index: pg_sys::Relation) -> (u32, u32) {
    // SAFETY: rd_options is null or an Options made by amoptions.
    let o = unsafe { (*index).rd_options as *const Options };
    if o.is_null() {
        (DEFAULT_M as u32, DEFAULT_EF_CONSTRUCTION as u32)
    } else {
        // SAFETY: as above.
        unsafe { ((*o).m as u32, (*o).ef_construction as u32) }
    }
}

pub fn ef_search() -> usize {
    EF_SEARCH.get() as usize
}

/// `vecmap.target_recall`; 0 when off.
pub fn target_recall() -> f64 {
    TARGET_RECALL.get()
}

pub fn max_scan_tuples() -> u64 {
    MAX_SCAN_TUPLES.get() as u64
}

